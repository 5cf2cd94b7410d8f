//! Where an LMTP message waits while it is delivered: an unlinked file
//! (as Dovecot spools to `mail_temp_dir`), written chunk by chunk as the
//! session unstuffs DATA, so a large message is never held in memory.
//! Each per-recipient delivery process reads it through its own
//! descriptor.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use columba_session::lmtp::DataSpool;

/// The spool file, shared by the session (writing) and the adapter
/// (delivering).
#[derive(Clone)]
pub struct Spool {
    file: Arc<Mutex<File>>,
}

impl Spool {
    /// A new spool file in `dir`, unlinked at once (it lives as long as
    /// its descriptors).
    pub fn create(dir: &Path) -> std::io::Result<Spool> {
        let mut random = [0u8; 8];
        File::open("/dev/urandom")?.read_exact(&mut random)?;
        let name = format!(
            "columba-lmtp-{}-{}",
            std::process::id(),
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let path = dir.join(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(Spool {
            file: Arc::new(Mutex::new(file)),
        })
    }

    fn file(&self) -> std::io::Result<std::sync::MutexGuard<'_, File>> {
        self.file
            .lock()
            .map_err(|_| std::io::Error::other("spool lock poisoned"))
    }

    /// A descriptor for a delivery process, positioned at the start.
    pub fn reader(&self) -> std::io::Result<OwnedFd> {
        let mut file = self.file()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(OwnedFd::from(file.try_clone()?))
    }

    /// The first `max` bytes (for the Message-ID in the log).
    pub fn head(&self, max: u64) -> std::io::Result<Vec<u8>> {
        let mut file = self.file()?;
        file.seek(SeekFrom::Start(0))?;
        let mut out = Vec::new();
        (&mut *file).take(max).read_to_end(&mut out)?;
        Ok(out)
    }
}

impl DataSpool for Spool {
    fn begin(&mut self) -> std::io::Result<()> {
        let file = self.file()?;
        file.set_len(0)?;
        let mut f: &File = &file;
        f.seek(SeekFrom::Start(0))?;
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        let file = self.file()?;
        let mut f: &File = &file;
        f.seek(SeekFrom::End(0))?;
        f.write_all(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spool_holds_one_message_and_forgets_it_on_begin() {
        let dir = std::env::temp_dir();
        let mut spool = Spool::create(&dir).unwrap();
        spool.begin().unwrap();
        spool.write(b"Subject: a\r\n").unwrap();
        spool.write(b"\r\nbody\r\n").unwrap();
        let size = |s: &Spool| File::from(s.reader().unwrap()).metadata().unwrap().len();
        assert_eq!(size(&spool), 20);
        assert_eq!(spool.head(9).unwrap(), b"Subject: ");
        let mut all = String::new();
        File::from(spool.reader().unwrap())
            .read_to_string(&mut all)
            .unwrap();
        assert_eq!(all, "Subject: a\r\n\r\nbody\r\n");
        spool.begin().unwrap();
        spool.write(b"x").unwrap();
        assert_eq!(size(&spool), 1);
    }
}
