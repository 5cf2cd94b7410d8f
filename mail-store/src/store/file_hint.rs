//! Where a message's file is expected to be, without listing `cur/` and
//! `new/`: the base name from its `dovecot-uidlist` record plus the flags
//! and keywords the index holds for it, as Dovecot's `maildir_file_do()`
//! guesses a file name before it rescans the directories. The guess is
//! only a hint: [`Mailbox::update_flags`] and [`Mailbox::expunge`] try it
//! first and look the message up by its base name when it is stale (the
//! file was renamed by another process, or is still in `new/`).

use std::sync::Arc;

use columba_maildir::uidlist::Uidlist;
use columba_maildir::{Flags, Info, Keywords, Mailbox, MaildirFilename};

use crate::error::Result;

/// The system flag bits of an index record (\Answered \Flagged \Deleted
/// \Seen \Draft), laid out as Maildir's [`Flags`].
const SYSTEM_FLAGS: u8 = 0x1f;

/// What the expected names are built from: the uidlist's base names and
/// the keyword letters.
#[derive(Debug)]
pub(super) struct FileHints {
    uidlist: Option<Arc<Uidlist>>,
    keywords: Option<Arc<Keywords>>,
}

impl FileHints {
    /// Reads `dovecot-uidlist` and `dovecot-keywords` (no directory is
    /// listed; files unchanged since this process last parsed them are not
    /// read again).
    pub(super) fn read(mailbox: &Mailbox) -> Result<FileHints> {
        Ok(FileHints {
            uidlist: mailbox.uidlist_file().read_shared()?,
            keywords: mailbox.keywords_file().read_shared()?,
        })
    }

    /// The name the file of `uid` has if its flags are `index_flags` (an
    /// index record's flags byte) and its keywords `keywords`; `None` when
    /// the uidlist has no record of `uid`. A keyword without a letter, or
    /// one of the index's own bits, is left out of the guess.
    pub(super) fn expected(
        &self,
        uid: u32,
        index_flags: u8,
        keywords: &[&str],
    ) -> Option<MaildirFilename> {
        let record = self.uidlist.as_ref()?.find_uid(uid)?;
        let mut info = Info {
            flags: Flags::from_bits(index_flags & SYSTEM_FLAGS),
            ..Info::default()
        };
        for k in keywords {
            let letter = self.keywords.as_ref().and_then(|kw| kw.index_of(k));
            if let Some(i) = letter.filter(|&i| i < 26) {
                info.keyword_bits |= 1 << i;
            }
        }
        MaildirFilename::from_parts(&record.base, Some(&info)).ok()
    }

    /// RFC822.SIZE of `uid` as its uidlist record holds it (`W`), for a
    /// base name without `,W=`.
    pub(super) fn recorded_vsize(&self, uid: u32) -> Option<u64> {
        self.uidlist
            .as_ref()?
            .find_uid(uid)?
            .extension(b'W')?
            .parse()
            .ok()
    }

    /// The name of `uid` with no flags known (`base:2,`), for a UID the
    /// index does not hold.
    pub(super) fn expected_unflagged(&self, uid: u32) -> Option<MaildirFilename> {
        self.expected(uid, 0, &[])
    }
}
