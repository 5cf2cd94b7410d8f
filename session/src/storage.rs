//! The storage a session serves: the [`MailStorage`] trait (one user's
//! mailboxes), so a custom server can plug in its own storage.
//! [`MaildirStorage`](crate::MaildirStorage) implements it over
//! `columba-mail-store`.

pub use columba_mail_store::search::{MessageFlags, SearchKey};
pub use columba_mail_store::store::CachedItem;
/// One message as a view shows it (`flags.recent` is the session's
/// `\Recent`).
pub use columba_mail_store::store::MessageMeta;
pub use columba_mail_store::store::StoreMode;
pub use columba_mail_store::store::{QresyncRequest, Resync};

use crate::error::Result;
pub use crate::view_messages::{Messages, ViewSummary};

/// What a sync found ([`MailStorage::sync_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewSync {
    /// The whole view, as [`MailStorage::sync_view`] gives it.
    Full(MailboxView),
    /// The messages of the last view of the mailbox this storage
    /// returned, all still there in the same order, followed by
    /// `appended`; of the earlier ones only those whose flags, keywords or
    /// MODSEQ may have changed since are listed, ascending by UID. The
    /// counters are the current ones.
    Changed {
        /// The messages that may have changed.
        changed: Vec<MessageMeta>,
        /// The messages appended since (UIDs above every earlier one).
        appended: Vec<MessageMeta>,
        /// UIDNEXT.
        uid_next: u32,
        /// UIDVALIDITY.
        uid_validity: u32,
        /// HIGHESTMODSEQ.
        highest_modseq: u64,
    },
}

/// A mailbox's messages and counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxView {
    /// Messages in sequence order (sequence number = index + 1); a plain
    /// `Vec` converts with `.into()`.
    pub messages: Messages,
    /// UIDNEXT.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
}

/// STATUS counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusInfo {
    /// MESSAGES.
    pub messages: u32,
    /// RECENT.
    pub recent: u32,
    /// UNSEEN.
    pub unseen: u32,
    /// UIDNEXT.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ.
    pub highest_modseq: u64,
    /// SIZE, when asked for.
    pub size: Option<u64>,
    /// DELETED (messages flagged `\Deleted`).
    pub deleted: u32,
}

/// One LIST answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMailbox {
    /// The name in UTF-8, with `/` as separator.
    pub name: String,
    /// Attributes as sent (`\HasNoChildren`, `\Subscribed`, `\Sent`, ...).
    pub attributes: Vec<String>,
}

/// What a COPY or MOVE stored (UIDPLUS `COPYUID`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOutcome {
    /// The destination's UIDVALIDITY.
    pub uid_validity: u32,
    /// Source UIDs copied.
    pub source_uids: Vec<u32>,
    /// Their destination UIDs.
    pub dest_uids: Vec<u32>,
}

/// How much a sync of the selected mailbox looks for changes, as the
/// commands of Dovecot's IMAP server ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// Look everywhere: new message files, files renamed or removed
    /// outside the index, then the index (Dovecot's sync without flags:
    /// SELECT, NOOP, CHECK, IDLE, EXPUNGE, STORE, APPEND and COPY into the
    /// selected mailbox, MOVE, FETCH that set `\Seen`).
    Full,
    /// Dovecot's `MAILBOX_SYNC_FLAG_FAST` (FETCH, SEARCH, COPY and APPEND
    /// into another mailbox): within a few seconds of the last full sync
    /// only what was logged to the index is picked up (changes made by
    /// other sessions and by Dovecot); after that it is a full sync.
    Fast,
}

/// One user's mailboxes. Mailbox names are UTF-8 with `/` as separator.
/// Every call may touch disk. A session keeps the view of its selected
/// mailbox and brings it up to date with [`MailStorage::sync_view`].
pub trait MailStorage: Send {
    /// LIST (or LSUB with `subscribed_only`) `pattern` under `reference`.
    fn list(
        &mut self,
        reference: &str,
        pattern: &str,
        subscribed_only: bool,
    ) -> Result<Vec<ListedMailbox>>;
    /// The mailbox's current view after picking up new messages. With
    /// `claim_recent` (SELECT), new messages are `\Recent` in this view and
    /// in no later one.
    fn view(&mut self, mailbox: &str, claim_recent: bool) -> Result<MailboxView>;
    /// The selected mailbox's view at the end of a command, or `Ok(None)`
    /// when nothing changed since the last view of `mailbox` this storage
    /// returned (from [`MailStorage::view`] or from this method): the
    /// session keeps that view and applies only what changed. `kind` says
    /// how much to look for changes; `claim_recent` is as for
    /// [`MailStorage::view`] (a storage may leave the claim to the next
    /// full sync). The default always re-reads the whole view.
    fn sync_view(
        &mut self,
        mailbox: &str,
        kind: SyncKind,
        claim_recent: bool,
    ) -> Result<Option<MailboxView>> {
        let _ = kind;
        self.view(mailbox, claim_recent).map(Some)
    }
    /// [`MailStorage::sync_view`], answered as what changed since the last
    /// view of `mailbox` this storage returned where that is cheaper: after
    /// a flag change in a mailbox of 100,000 messages, one message instead
    /// of all of them. The session calls it only while it holds that last
    /// view, with the changes it applied since. The default gives the
    /// whole view.
    fn sync_changes(
        &mut self,
        mailbox: &str,
        kind: SyncKind,
        claim_recent: bool,
    ) -> Result<Option<ViewSync>> {
        Ok(self
            .sync_view(mailbox, kind, claim_recent)?
            .map(ViewSync::Full))
    }
    /// SELECT (or EXAMINE) of `mailbox` while the session still holds its
    /// view from the last view this storage returned for it: the view as
    /// [`MailStorage::view`] gives it, or `Ok(None)` when that last view
    /// is still current and shows no message as `\Recent`. The session
    /// then keeps its own view (with `\Recent` dropped, as a new
    /// selection has no recent messages left to claim) instead of copying
    /// the whole mailbox again. The default always gives the view.
    fn reselect(&mut self, mailbox: &str, claim_recent: bool) -> Result<Option<MailboxView>> {
        self.view(mailbox, claim_recent).map(Some)
    }
    /// What the storage passed over since the last call, as lines for the
    /// server's log (a message file it cannot read, a directory entry
    /// that is no message): each reported once. The session keeps serving
    /// the other messages. The default has none.
    fn take_problems(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// STATUS counters; SIZE only when `want_size`.
    fn status(&mut self, mailbox: &str, want_size: bool) -> Result<StatusInfo>;
    /// The message bytes and its INTERNALDATE (Unix seconds).
    fn message(&mut self, mailbox: &str, uid: u32) -> Result<(Vec<u8>, i64)>;
    /// APPEND: returns (UIDVALIDITY, UID).
    fn append(
        &mut self,
        mailbox: &str,
        data: &[u8],
        flags: MessageFlags,
        keywords: &[String],
        internal_date: Option<i64>,
    ) -> Result<(u32, u32)>;
    /// Starts a streamed APPEND of a `size`-byte message into `mailbox`:
    /// the session writes the literal to the returned sink chunk by chunk as
    /// it arrives, then finishes it, so a large message is never held in
    /// memory by the session. Fails (before any data) when the mailbox does
    /// not exist or cannot take the message.
    fn append_sink(&mut self, mailbox: &str, size: u64) -> Result<Box<dyn AppendSink>>;
    /// STORE; returns the UIDs not changed because of UNCHANGEDSINCE.
    fn store(
        &mut self,
        mailbox: &str,
        uids: &[u32],
        mode: StoreMode,
        flags: MessageFlags,
        keywords: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<Vec<u32>>;
    /// Expunges `uids`; returns those removed.
    fn expunge(&mut self, mailbox: &str, uids: &[u32]) -> Result<Vec<u32>>;
    /// COPY, or MOVE when `remove_source`.
    fn copy(
        &mut self,
        mailbox: &str,
        dest: &str,
        uids: &[u32],
        remove_source: bool,
    ) -> Result<CopyOutcome>;
    /// SEARCH: the UIDs of matching messages. `now` is Unix seconds.
    fn search(&mut self, mailbox: &str, key: &SearchKey, now: i64) -> Result<Vec<u32>>;
    /// CREATE.
    fn create(&mut self, mailbox: &str) -> Result<()>;
    /// DELETE.
    fn delete(&mut self, mailbox: &str) -> Result<()>;
    /// RENAME.
    fn rename(&mut self, from: &str, to: &str) -> Result<()>;
    /// SUBSCRIBE (or UNSUBSCRIBE when `subscribe` is false).
    fn subscribe(&mut self, mailbox: &str, subscribe: bool) -> Result<()>;

    /// QRESYNC (RFC 7162): what a client that last saw `mailbox` at
    /// `request.modseq` missed (`VANISHED (EARLIER)` ranges and the UIDs
    /// whose flags changed), from the storage's expunge history.
    /// `Ok(None)`: the storage cannot tell, or the UIDVALIDITY differs; the
    /// session then reports every missing UID of the known range and every
    /// message with a higher MODSEQ. The default cannot tell.
    fn resync(&mut self, mailbox: &str, request: &QresyncRequest) -> Result<Option<Resync>> {
        let _ = (mailbox, request);
        Ok(None)
    }

    /// A FETCH item of message `uid` answered without the message bytes
    /// (from a cache such as `dovecot.index.cache`), or `Ok(None)` when
    /// the storage cannot: the session then reads the message with
    /// [`MailStorage::message`]. The answer is what goes inside the item's
    /// parentheses (ENVELOPE, BODY, BODYSTRUCTURE), the section's bytes
    /// (`BODY[HEADER.FIELDS (...)]`) or the decimal RFC822.SIZE. An error
    /// means the message is gone. The default answers nothing.
    fn cached_item(
        &mut self,
        mailbox: &str,
        uid: u32,
        item: &CachedItem,
    ) -> Result<Option<Vec<u8>>> {
        let _ = (mailbox, uid, item);
        Ok(None)
    }

    /// INTERNALDATE (Unix seconds) of message `uid` without reading the
    /// message, or `Ok(None)` when the storage cannot tell it that way. The
    /// default cannot.
    fn internal_date(&mut self, mailbox: &str, uid: u32) -> Result<Option<i64>> {
        let _ = (mailbox, uid);
        Ok(None)
    }

    /// SAVEDATE (RFC 8514, Unix seconds) of message `uid`; `Ok(None)` when
    /// the storage keeps no save date for it (FETCH then answers
    /// `SAVEDATE NIL`). The default keeps none.
    fn save_date(&mut self, mailbox: &str, uid: u32) -> Result<Option<i64>> {
        let _ = (mailbox, uid);
        Ok(None)
    }

    /// Whether [`MailStorage::save_date`] gives dates (the session then
    /// advertises the `SAVEDATE` capability). The default does not.
    fn supports_save_date(&self) -> bool {
        false
    }

    /// The end of a command that read messages (FETCH, SEARCH): a storage
    /// that keeps per-mailbox state across a command (a cache) writes what
    /// it learned now and re-reads the mailbox at the next command. The
    /// default does nothing.
    fn command_done(&mut self) -> Result<()> {
        Ok(())
    }

    /// Starts one message of an APPEND (or of a MULTIAPPEND) whose
    /// messages become visible only together, in
    /// [`MailStorage::commit_appends`]: the session writes the literal
    /// chunk by chunk, then finishes it into a [`StagedAppend`]. The
    /// default stores each message as soon as it is finished (through
    /// [`MailStorage::append_sink`]), which is not atomic; a storage that
    /// can stage overrides both methods.
    fn begin_append(
        &mut self,
        mailbox: &str,
        size: u64,
        meta: &AppendMeta,
    ) -> Result<Box<dyn StagingSink>> {
        let sink = self.append_sink(mailbox, size)?;
        Ok(Box::new(CommitOnFinish {
            sink,
            meta: meta.clone(),
        }))
    }

    /// Makes the staged messages of one APPEND visible in `mailbox`, all or
    /// none, in order. Returns (UIDVALIDITY, UIDs). The default accepts only
    /// messages that were already stored ([`StagedAppend::Stored`]).
    fn commit_appends(
        &mut self,
        mailbox: &str,
        staged: Vec<StagedAppend>,
    ) -> Result<(u32, Vec<u32>)> {
        let _ = mailbox;
        let mut validity = 0;
        let mut uids = Vec::with_capacity(staged.len());
        for s in staged {
            match s {
                StagedAppend::Stored { uid_validity, uid } => {
                    validity = uid_validity;
                    uids.push(uid);
                }
                StagedAppend::Pending(_) => {
                    return Err(crate::Error::Refused(
                        "[SERVERBUG] This storage cannot commit staged messages.".into(),
                    ))
                }
            }
        }
        Ok((validity, uids))
    }
}

/// How an appended message is to be stored: flags, keywords and
/// INTERNALDATE from the APPEND command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendMeta {
    /// System flags (`recent` is ignored).
    pub flags: MessageFlags,
    /// Keywords.
    pub keywords: Vec<String>,
    /// INTERNALDATE (Unix seconds); `None`: now.
    pub internal_date: Option<i64>,
}

/// One message of an APPEND written in full but maybe not yet visible
/// ([`MailStorage::begin_append`]).
pub enum StagedAppend {
    /// Already stored (a storage that cannot stage).
    Stored {
        /// The mailbox's UIDVALIDITY.
        uid_validity: u32,
        /// The message's UID.
        uid: u32,
    },
    /// Durable but invisible until [`MailStorage::commit_appends`]; the
    /// storage's own staged message. Dropping it discards the message.
    Pending(Box<dyn std::any::Any + Send>),
}

/// A message of an APPEND on its way into a mailbox, to be committed with
/// the others of its command ([`MailStorage::begin_append`]). Dropping it
/// unfinished discards the message.
pub trait StagingSink: Send {
    /// The next bytes of the message, in order.
    fn write(&mut self, chunk: &[u8]) -> Result<()>;
    /// All bytes were written.
    fn finish(self: Box<Self>) -> Result<StagedAppend>;
}

/// The default [`StagingSink`]: stores the message when it is finished.
struct CommitOnFinish {
    sink: Box<dyn AppendSink>,
    meta: AppendMeta,
}

impl StagingSink for CommitOnFinish {
    fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.sink.write(chunk)
    }

    fn finish(self: Box<Self>) -> Result<StagedAppend> {
        let (uid_validity, uid) = self.sink.finish(
            self.meta.flags,
            &self.meta.keywords,
            self.meta.internal_date,
        )?;
        Ok(StagedAppend::Stored { uid_validity, uid })
    }
}

/// One message of a streamed APPEND on its way into a mailbox
/// ([`MailStorage::append_sink`]). Dropping a sink without finishing it
/// abandons the message: nothing becomes visible.
pub trait AppendSink: Send {
    /// The next bytes of the message, in order.
    fn write(&mut self, chunk: &[u8]) -> Result<()>;
    /// All bytes were written: stores the message with `flags` (`recent`
    /// ignored), `keywords` and an optional INTERNALDATE (Unix seconds).
    /// Returns (UIDVALIDITY, UID).
    fn finish(
        self: Box<Self>,
        flags: MessageFlags,
        keywords: &[String],
        internal_date: Option<i64>,
    ) -> Result<(u32, u32)>;
}
