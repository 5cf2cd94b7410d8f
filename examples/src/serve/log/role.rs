//! The log role: takes every process's log lines on `base_dir/log`, adds
//! `log_timestamp` and writes them to `log_path` (Info and Debug lines to
//! `info_log_path` when set), or to its own standard error.
//!
//! One thread per connected process reads through a [`LineSplitter`], so a
//! process that writes without newlines costs at most [`MAX_LINE`] bytes;
//! a process writing faster than the file takes is slowed by its own
//! socket filling up, not by the others'. A log file renamed or removed
//! away (logrotate) is noticed within a second and reopened at its path;
//! SIGHUP to the log process reopens the files at once.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::lines::{Line, LineSplitter, MAX_LINE};
use super::{timestamp, Level, CUT_MARKER};
use crate::serve::error::ServeError;
use crate::serve::role::RoleContext;
use crate::serve::singleton::{bind_unix, ensure_base_dir, ready_then_wait};

/// How often the log file's path is checked for rotation.
const ROTATE_CHECK: Duration = Duration::from_secs(1);

/// One destination: a file reopened when rotated away, or standard error.
struct Destination {
    path: Option<PathBuf>,
    file: Option<File>,
    identity: Option<(u64, u64)>,
    checked: Instant,
}

impl Destination {
    fn new(path: Option<PathBuf>) -> Result<Destination, ServeError> {
        let mut d = Destination {
            path,
            file: None,
            identity: None,
            checked: Instant::now(),
        };
        d.reopen()?;
        Ok(d)
    }

    fn reopen(&mut self) -> Result<(), ServeError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| ServeError::io(format!("open log_path {}", path.display()), e))?;
        let meta = file
            .metadata()
            .map_err(|e| ServeError::io(format!("stat {}", path.display()), e))?;
        self.identity = Some((meta.dev(), meta.ino()));
        self.file = Some(file);
        self.checked = Instant::now();
        Ok(())
    }

    /// Reopens the file when its path now names another file or none.
    fn check_rotation(&mut self) {
        let Some(path) = &self.path else { return };
        if self.checked.elapsed() < ROTATE_CHECK {
            return;
        }
        self.checked = Instant::now();
        let now = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        if now.is_none() || now != self.identity {
            let _ = self.reopen();
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.check_rotation();
        match &mut self.file {
            Some(f) => {
                let _ = f.write_all(bytes);
            }
            None => {
                let _ = std::io::stderr().lock().write_all(bytes);
            }
        }
    }
}

/// Where lines go: the main log and, when set, the info log.
pub struct LogOutput {
    format: String,
    main: Destination,
    info: Option<Destination>,
    reopen: Arc<AtomicBool>,
}

impl LogOutput {
    /// Opens `log_path` (or standard error) and `info_log_path`.
    pub fn open(
        log_timestamp: &str,
        log_path: Option<PathBuf>,
        info_log_path: Option<PathBuf>,
    ) -> Result<LogOutput, ServeError> {
        Ok(LogOutput {
            format: log_timestamp.to_string(),
            main: Destination::new(log_path)?,
            info: match info_log_path {
                Some(p) => Some(Destination::new(Some(p))?),
                None => None,
            },
            reopen: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A flag that, once set (by SIGHUP), makes the next line reopen the files.
    pub fn reopen_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.reopen)
    }

    /// Writes one line (without its newline) with the timestamp, in one write.
    pub fn write_line(&mut self, line: &Line) {
        if self.reopen.swap(false, Ordering::SeqCst) {
            let _ = self.main.reopen();
            if let Some(info) = &mut self.info {
                let _ = info.reopen();
            }
        }
        let mut out = timestamp::now(&self.format).into_bytes();
        out.reserve(line.bytes.len() + CUT_MARKER.len() + 1);
        out.extend(
            line.bytes
                .iter()
                .map(|&b| if b < 0x20 && b != b'\t' { b'?' } else { b }),
        );
        if line.cut {
            out.extend_from_slice(CUT_MARKER.as_bytes());
        }
        out.push(b'\n');
        let level = Level::of_line(&line.bytes);
        match (&mut self.info, level) {
            (Some(info), Some(Level::Info | Level::Debug)) => info.write(&out),
            _ => self.main.write(&out),
        }
    }
}

/// Reads one process's lines until it closes its end.
fn serve_connection(mut stream: UnixStream, output: Arc<Mutex<LogOutput>>) {
    let mut splitter = LineSplitter::new(MAX_LINE);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        splitter.feed(&buf[..n], |line| {
            if let Ok(mut out) = output.lock() {
                out.write_line(&line);
            }
        });
    }
    if let Some(line) = splitter.finish() {
        if let Ok(mut out) = output.lock() {
            out.write_line(&line);
        }
    }
}

/// Runs the log role.
pub fn run(mut ctx: RoleContext) -> Result<(), ServeError> {
    let config = &ctx.config;
    ensure_base_dir(&config.base_dir)?;
    let output = LogOutput::open(
        &config.log_timestamp,
        config.log_path.clone(),
        config.info_log_path.clone(),
    )?;
    signal_hook::flag::register(signal_hook::consts::SIGHUP, output.reopen_flag())
        .map_err(|e| ServeError::io("handle SIGHUP", e))?;
    let output = Arc::new(Mutex::new(output));
    let path = config.socket("log");
    let listener = bind_unix(&path, 0o600)?;
    {
        let output = Arc::clone(&output);
        std::thread::Builder::new()
            .name("log-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let output = Arc::clone(&output);
                    let _ = std::thread::Builder::new()
                        .name("log-conn".into())
                        .stack_size(64 * 1024)
                        .spawn(move || serve_connection(stream, output));
                }
            })
            .map_err(|e| ServeError::io("start the log accept thread", e))?;
    }
    let result = ready_then_wait(&mut ctx.control);
    // Give processes shutting down with us a moment to get their last
    // lines out, then stop.
    std::thread::sleep(Duration::from_millis(200));
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_file_with_a_timestamp_and_rotation_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("columba.log");
        let mut out = LogOutput::open("[%Y] ", Some(path.clone()), None).unwrap();
        out.write_line(&Line {
            bytes: b"imap-login: Info: Login: user=<a>".to_vec(),
            cut: false,
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with('['), "{text}");
        assert!(
            text.ends_with("] imap-login: Info: Login: user=<a>\n"),
            "{text}"
        );

        std::fs::rename(&path, dir.path().join("columba.log.1")).unwrap();
        out.main.checked = Instant::now() - ROTATE_CHECK;
        out.write_line(&Line {
            bytes: b"auth: Error: x".to_vec(),
            cut: true,
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with(&format!("auth: Error: x{CUT_MARKER}\n")),
            "{text}"
        );
    }

    #[test]
    fn the_reopen_flag_reopens_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("columba.log");
        let mut out = LogOutput::open("", Some(path.clone()), None).unwrap();
        std::fs::rename(&path, dir.path().join("old.log")).unwrap();
        out.reopen_flag().store(true, Ordering::SeqCst);
        out.write_line(&Line {
            bytes: b"log: Info: after".to_vec(),
            cut: false,
        });
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "log: Info: after\n"
        );
    }

    #[test]
    fn info_lines_can_go_to_their_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let (main, info) = (dir.path().join("main.log"), dir.path().join("info.log"));
        let mut out = LogOutput::open("", Some(main.clone()), Some(info.clone())).unwrap();
        for l in ["a: Info: one", "a: Error: two"] {
            out.write_line(&Line {
                bytes: l.as_bytes().to_vec(),
                cut: false,
            });
        }
        assert_eq!(std::fs::read_to_string(&info).unwrap(), "a: Info: one\n");
        assert_eq!(std::fs::read_to_string(&main).unwrap(), "a: Error: two\n");
    }
}
