//! `columba deliver --maildir DIR [--folder NAME] [--flags ...] < message`:
//! local delivery into a Maildir, in the role of dovecot-lda (without
//! Sieve). Exit codes follow sysexits.h so an MTA knows whether to retry.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use columba_maildir::{DeliveryOptions, Error, Flags, Maildir};

const EX_USAGE: u8 = 64;
const EX_NOUSER: u8 = 67;
const EX_SOFTWARE: u8 = 70;
const EX_CANTCREAT: u8 = 73;
const EX_TEMPFAIL: u8 = 75;

/// Arguments of `columba deliver`.
#[derive(clap::Args)]
pub struct Args {
    /// The Maildir root (the user's INBOX).
    #[arg(long)]
    pub maildir: PathBuf,
    /// Folder to deliver into (`Archive/2024`); a missing folder falls back
    /// to INBOX unless --create-folder is given, as dovecot-lda does.
    #[arg(long)]
    pub folder: Option<String>,
    /// Create the folder when it does not exist.
    #[arg(long)]
    pub create_folder: bool,
    /// Create the Maildir itself when it does not exist.
    #[arg(long)]
    pub create: bool,
    /// Flags and keywords to store, e.g. `--flags '\Seen' '$Label1'`
    /// (values may also be space-separated in one argument).
    #[arg(long, num_args = 1..)]
    pub flags: Vec<String>,
    /// Do not assign a UID now (leave it to the next sync).
    #[arg(long)]
    pub no_uid: bool,
    /// Print `<uid>\t<file name>` of the stored message on stdout.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Exit code for an MTA: retry (EX_TEMPFAIL) whenever an administrator
/// or time can fix the problem (permissions, full disk, locks, a missing
/// `tmp/`), as dovecot-lda does for storage errors; permanent codes only
/// where retrying cannot help.
fn exit_for(e: &Error) -> u8 {
    match e {
        Error::FolderName { .. } | Error::InvalidKeyword(_) => EX_USAGE,
        Error::NotMaildir(_) | Error::NoSuchFolder(_) => EX_NOUSER,
        Error::KeywordsFull(_) | Error::UidsExhausted => EX_CANTCREAT,
        Error::Io { .. }
        | Error::LockTimeout(_)
        | Error::LockOverridden(_)
        | Error::Uidlist { .. }
        | Error::Keywords { .. }
        | Error::TooLarge { .. } => EX_TEMPFAIL,
        _ => EX_SOFTWARE,
    }
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("columba deliver: {msg}");
    ExitCode::from(code)
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    let mut options = DeliveryOptions {
        assign_uid: !args.no_uid,
        ..DeliveryOptions::default()
    };
    for word in args.flags.iter().flat_map(|f| f.split_whitespace()) {
        if let Some(flag) = Flags::from_imap(word) {
            options.flags |= flag;
        } else if word.eq_ignore_ascii_case("\\Recent") {
            // Recent is not stored; a message without flags is recent anyway.
        } else if word.starts_with('\\') {
            return fail(EX_USAGE, format!("unknown system flag {word}"));
        } else if let Err(e) = columba_maildir::keywords::validate_keyword(word) {
            return fail(EX_USAGE, e);
        } else {
            options.keywords.push(word.to_string());
        }
    }
    let maildir = if args.create {
        Maildir::create(&args.maildir)
    } else {
        Maildir::open(&args.maildir)
    };
    let maildir = match maildir {
        Ok(m) => m,
        Err(e) => return fail(exit_for(&e), e),
    };
    let mailbox = match &args.folder {
        None => maildir.inbox(),
        Some(name) => match maildir.folder(name) {
            Ok(m) => m,
            Err(Error::NoSuchFolder(_)) if args.create_folder => {
                match maildir.create_folder(name) {
                    Ok(m) => m,
                    Err(Error::FolderExists(_)) => match maildir.folder(name) {
                        Ok(m) => m,
                        Err(e) => return fail(exit_for(&e), e),
                    },
                    Err(e) => return fail(exit_for(&e), e),
                }
            }
            Err(Error::NoSuchFolder(_)) => {
                eprintln!("columba deliver: folder {name} does not exist, delivering to INBOX");
                maildir.inbox()
            }
            Err(e) => return fail(exit_for(&e), e),
        },
    };
    // Streamed from stdin into tmp/; a read error removes the tmp file and
    // ends with EX_TEMPFAIL so the MTA retries.
    match mailbox.deliver(std::io::stdin().lock(), &options) {
        Ok(d) => {
            if let Some(err) = &d.uid_error {
                // The message is stored; only the UID is left to the next sync.
                eprintln!(
                    "columba deliver: stored {}, UID not assigned: {err}",
                    d.file_name
                );
            }
            if args.verbose {
                let uid = d.uid.map_or_else(|| "-".to_string(), |u| u.to_string());
                let _ = writeln!(std::io::stdout(), "{uid}\t{}", d.file_name);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit_for(&e), e),
    }
}
