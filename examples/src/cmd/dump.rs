//! `columba dump FILE`: what `doveadm dump` shows for `dovecot.index`,
//! `dovecot.index.log[.2]` and `dovecot.index.cache` (or a mailbox index
//! directory), as text or `--json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use columba_mail_index::{dump, CacheFile, FileKind, IndexDir, LogFile};

/// Arguments of `columba dump`.
#[derive(clap::Args)]
pub struct Args {
    /// An index file, log file, cache file, or a mailbox's index directory.
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(s: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("columba dump: {e}");
    ExitCode::FAILURE
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    let path = args.file.as_path();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path.is_dir() {
        return dump_view(
            path,
            &path.join("dovecot.index").display().to_string(),
            args.json,
        );
    }
    if name.contains(".log") {
        let kind = if name.ends_with(".2") {
            FileKind::Log2
        } else {
            FileKind::Log
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return fail(format_args!("{}: {e}", path.display())),
        };
        let log = match LogFile::parse(kind, bytes) {
            Ok(l) => l,
            Err(e) => return fail(e),
        };
        if args.json {
            let v = dump::log_json(&log);
            emit(&(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"));
            if !v["error"].is_null() {
                return fail(v["error"].as_str().unwrap_or("corrupt log"));
            }
            return ExitCode::SUCCESS;
        }
        let mut out = String::new();
        let r = dump::log_text(&log, &mut out);
        emit(&out);
        return match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        };
    }
    if name.ends_with(".cache") {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return fail(format_args!("{}: {e}", path.display())),
        };
        let cache = match CacheFile::parse(bytes) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        if args.json {
            emit(
                &(serde_json::to_string_pretty(&dump::cache_json(&cache)).unwrap_or_default()
                    + "\n"),
            );
        } else {
            // With the mailbox's index beside it, show every message's chain.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let view = IndexDir::new(dir).open_view_lenient().ok();
            let mut out = String::new();
            let r = dump::cache_text(&cache, view.as_ref(), &mut out);
            emit(&out);
            if let Err(e) = r {
                return fail(e);
            }
        }
        return ExitCode::SUCCESS;
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dump_view(dir, &path.display().to_string(), args.json)
}

fn dump_view(dir: &Path, shown: &str, json: bool) -> ExitCode {
    let view = match IndexDir::new(dir).open_view_lenient() {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    if json {
        emit(&(serde_json::to_string_pretty(&dump::view_json(&view)).unwrap_or_default() + "\n"));
    } else {
        let mut out = String::new();
        let r = dump::view_text(&view, shown, &mut out);
        emit(&out);
        if let Err(e) = r {
            return fail(e);
        }
    }
    if let Some(p) = &view.stopped {
        return fail(p);
    }
    if let Some(p) = &view.cache_problem {
        return fail(p);
    }
    if let Some(p) = view.skipped.first() {
        return fail(p);
    }
    ExitCode::SUCCESS
}
