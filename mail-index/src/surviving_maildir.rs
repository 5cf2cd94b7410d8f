//! Filling a [`SurvivingMailbox`] from a Maildir (feature `maildir`): the
//! UIDs from `dovecot-uidlist`, the system flags and keyword letters from the
//! file names in `cur/` and `new/`, the keyword names from `dovecot-keywords`.

use std::collections::HashMap;
use std::path::Path;

use columba_maildir::{Info, KeywordsFile, MaildirFilename, UidlistFile};

use crate::error::{Error, Result};
use crate::mailbox::{SurvivingMailbox, SurvivingMessage};

impl SurvivingMailbox {
    /// What the Maildir at `maildir` (with its control files in the same
    /// directory, Dovecot's default) still says about the mailbox.
    ///
    /// Messages listed in `dovecot-uidlist` whose file is still in `cur/` or
    /// `new/` keep their UID, their flags (from the `:2,` info) and their
    /// keywords (letters mapped through `dovecot-keywords`; a letter without
    /// a name becomes `unknown-N`, as Dovecot shows it). Files the uidlist
    /// does not list yet have no UID and are left to the next Maildir sync;
    /// listed UIDs whose file is gone are expunged. A missing uidlist yields
    /// an empty mailbox with UIDVALIDITY and next UID unknown (0).
    pub fn from_maildir(maildir: &Path) -> Result<SurvivingMailbox> {
        Self::from_maildir_with_control(maildir, maildir)
    }

    /// As [`SurvivingMailbox::from_maildir`], with `dovecot-uidlist` and
    /// `dovecot-keywords` in `control_dir`.
    pub fn from_maildir_with_control(
        maildir: &Path,
        control_dir: &Path,
    ) -> Result<SurvivingMailbox> {
        let Some(uidlist) = UidlistFile::new(control_dir).read()? else {
            return Ok(SurvivingMailbox::default());
        };
        let keywords = KeywordsFile::new(control_dir).read()?;
        let mut infos: HashMap<String, Option<Info>> = HashMap::new();
        for sub in ["new", "cur"] {
            let dir = maildir.join(sub);
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                // Names Dovecot would not take for a message are skipped.
                let Ok(file) = MaildirFilename::parse(&name) else {
                    continue;
                };
                // A file in cur/ wins over one with the same base in new/.
                infos.insert(file.base().to_string(), file.info());
            }
        }
        let mut messages = Vec::with_capacity(uidlist.records.len().min(infos.len()));
        for record in &uidlist.records {
            let Some(info) = infos.get(record.base.as_str()) else {
                continue;
            };
            let (flags, keywords) = match info {
                Some(info) => (info.flags.bits(), keywords.names(info.keyword_bits)),
                None => (0, Vec::new()),
            };
            messages.push(SurvivingMessage {
                uid: record.uid,
                flags,
                keywords,
            });
        }
        messages.sort_by_key(|m| m.uid);
        messages.dedup_by_key(|m| m.uid);
        Ok(SurvivingMailbox {
            uid_validity: uidlist.uid_validity,
            next_uid: uidlist.next_uid(),
            messages,
        })
    }
}
