//! A streamed APPEND into a Maildir mailbox: the literal is spooled chunk
//! by chunk into a file in the mailbox's `tmp/` (where Dovecot's own
//! deliveries start and its tmp cleanup finds leftovers), then handed to
//! `columba-mail-store`'s APPEND, which delivers it durably and indexes it.

use std::io::{Read, Seek, SeekFrom, Write};

use columba_mail_store::store::{self, MailboxSnapshot};
use columba_maildir::Mailbox;

use crate::error::{Error, Result};
use crate::storage::{AppendSink, MessageFlags};

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
