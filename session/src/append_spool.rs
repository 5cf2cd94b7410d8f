//! A streamed APPEND into a Maildir mailbox: the literal is spooled chunk
//! by chunk into a file in the mailbox's `tmp/` (where Dovecot's own
//! deliveries start and its tmp cleanup finds leftovers), then handed to
//! `columba-mail-store`'s APPEND, which delivers it durably and indexes it.

use std::io::{Read, Seek, SeekFrom, Write};

use columba_mail_store::store::{self, MailboxSnapshot};
use columba_maildir::Mailbox;

use crate::error::{Error, Result};
use crate::storage::{AppendMeta, AppendSink, MessageFlags, StagedAppend, StagingSink};

/// One message on its way into `mailbox`, spooled in its `tmp/`.
pub(crate) struct SpooledAppend {
    mailbox: Mailbox,
    spool: tempfile::NamedTempFile,
    expected: u64,
    written: u64,
}

impl SpooledAppend {
    /// Opens the spool file for a `size`-byte message.
    pub(crate) fn new(mailbox: Mailbox, size: u64) -> Result<SpooledAppend> {
        let tmp = mailbox.path().join("tmp");
        let spool = tempfile::Builder::new()
            .prefix("columba-append.")
            .tempfile_in(&tmp)
            .map_err(|e| Error::Spool(format!("{}: {e}", tmp.display())))?;
        Ok(SpooledAppend {
            mailbox,
            spool,
            expected: size,
            written: 0,
        })
    }
}

impl AppendSink for SpooledAppend {
    fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if self.written + chunk.len() as u64 > self.expected {
            return Err(Error::Spool(format!(
                "more than the announced {} bytes",
                self.expected
            )));
        }
        self.spool
            .write_all(chunk)
            .map_err(|e| Error::Spool(format!("{}: {e}", self.spool.path().display())))?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    fn finish(
        mut self: Box<Self>,
        flags: MessageFlags,
        keywords: &[String],
        internal_date: Option<i64>,
    ) -> Result<(u32, u32)> {
        if self.written != self.expected {
            return Err(Error::Spool(format!(
                "{} of the announced {} bytes",
                self.written, self.expected
            )));
        }
        let spool_err = |e: std::io::Error| Error::Spool(e.to_string());
        // mail-store's APPEND takes the message whole: it is read back here,
        // after the client sent it, for the time of one delivery
        let mut data = Vec::with_capacity(self.written as usize);
        let file = self.spool.as_file_mut();
        file.seek(SeekFrom::Start(0)).map_err(spool_err)?;
        file.read_to_end(&mut data).map_err(spool_err)?;
        // the index must exist so the message gets a log record at once
        store::sync(&self.mailbox)?;
        let appended = store::append(&self.mailbox, &data, flags, keywords, internal_date)?;
        let validity = MailboxSnapshot::open(&self.mailbox)?.uid_validity;
        Ok((validity, appended.uid))
    }
}

/// One message of an APPEND streamed into the mailbox's `tmp/` by
/// `columba-mail-store`'s writer (bounded memory, fdatasync'ed), kept
/// staged until the command's messages are committed together.
pub(crate) struct StagedWrite {
    writer: store::MessageWriter,
    expected: u64,
}

impl StagedWrite {
    /// Opens the `tmp/` file of a `size`-byte message.
    pub(crate) fn new(mailbox: &Mailbox, size: u64, meta: &AppendMeta) -> Result<StagedWrite> {
        let meta = store::AppendMeta {
            flags: meta.flags,
            keywords: meta.keywords.clone(),
            internal_date: meta.internal_date,
        };
        let writer = store::MessageWriter::new(mailbox, meta, store::AppendLimit::NONE)?;
        Ok(StagedWrite {
            writer,
            expected: size,
        })
    }
}

impl StagingSink for StagedWrite {
    fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if self.writer.received() + chunk.len() as u64 > self.expected {
            return Err(Error::Spool(format!(
                "more than the announced {} bytes",
                self.expected
            )));
        }
        Ok(self.writer.write(chunk)?)
    }

    fn finish(self: Box<Self>) -> Result<StagedAppend> {
        if self.writer.received() != self.expected {
            return Err(Error::Spool(format!(
                "{} of the announced {} bytes",
                self.writer.received(),
                self.expected
            )));
        }
        let staged = self.writer.finish()?;
        Ok(StagedAppend::Pending(Box::new(staged)))
    }
}

/// Commits staged messages of one APPEND into `mailbox`, all together.
pub(crate) fn commit(mailbox: &Mailbox, staged: Vec<StagedAppend>) -> Result<(u32, Vec<u32>)> {
    let mut messages = Vec::with_capacity(staged.len());
    for s in staged {
        match s {
            StagedAppend::Pending(any) => match any.downcast::<store::StagedMessage>() {
                Ok(m) => messages.push(*m),
                Err(_) => {
                    return Err(Error::Refused(
                        "[SERVERBUG] A staged message of another storage.".into(),
                    ))
                }
            },
            StagedAppend::Stored { .. } => {
                return Err(Error::Refused(
                    "[SERVERBUG] A message was stored outside the APPEND.".into(),
                ))
            }
        }
    }
    let appended = store::commit_appends(mailbox, messages)?;
    let validity = match appended.first() {
        Some(a) => a.uid_validity,
        None => MailboxSnapshot::open(mailbox)?.uid_validity,
    };
    Ok((validity, appended.iter().map(|a| a.uid).collect()))
}
