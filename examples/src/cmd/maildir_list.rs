//! `columba maildir-list DIR [--folder NAME]`: one line per message with
//! UID, flags, keywords, physical size, virtual size and base name.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use columba_maildir::Maildir;

/// Arguments of `columba maildir-list`.
#[derive(clap::Args)]
pub struct Args {
    /// The Maildir root.
    pub dir: PathBuf,
    /// Folder to list (`Archive/2024`); INBOX by default.
    #[arg(long)]
    pub folder: Option<String>,
    /// Do not assign UIDs to new files (no lock, no writes); such
    /// messages show `-` as UID.
    #[arg(long)]
    pub read_only: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    let maildir = match Maildir::open(&args.dir) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("columba maildir-list: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mailbox = match maildir.folder(args.folder.as_deref().unwrap_or("INBOX")) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("columba maildir-list: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listing = if args.read_only {
        mailbox.list()
    } else {
        mailbox.sync()
    };
    let listing = match listing {
        Ok(l) => l,
        Err(e) => {
            eprintln!("columba maildir-list: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for m in &listing.messages {
        let uid = m.uid.map_or_else(|| "-".to_string(), |u| u.to_string());
        let flags = m.flags.imap_names().join(" ");
        let keywords = m.keywords.join(" ");
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        if writeln!(
            out,
            "{uid}\t{}\t{}\t{}\t{}\t{}",
            dash(&flags),
            dash(&keywords),
            m.size,
            m.vsize,
            m.base()
        )
        .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
    let _ = out.flush();
    for s in &listing.skipped {
        eprintln!("columba maildir-list: skipped {}: {}", s.name, s.reason);
    }
    for u in &listing.unreadable {
        eprintln!("columba maildir-list: cannot read {u} (sizes shown as 0)");
    }
    ExitCode::SUCCESS
}
