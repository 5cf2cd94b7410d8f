//! `columba pw`: generate or verify Dovecot password hashes, like `doveadm pw`.

use std::io::BufRead;
use std::process::ExitCode;

use columba_auth_sasl::password::{generate, Scheme, StoredPassword};

/// Arguments of `columba pw`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scheme to generate (e.g. SHA512-CRYPT, SSHA256, SHA256.HEX); Dovecot's default is CRYPT.
    #[arg(short = 's', long, default_value = "CRYPT")]
    scheme: String,
    /// The password (read from stdin when not given).
    #[arg(short = 'p', long)]
    password: Option<String>,
    /// User name (only DIGEST-MD5 uses it).
    #[arg(short = 'u', long, default_value = "")]
    user: String,
    /// Rounds / cost for the schemes that have one (crypt, bcrypt, PBKDF2, SCRAM, Argon2 t).
    #[arg(short = 'r', long)]
    rounds: Option<u32>,
    /// Verify this hash against the password instead of generating one.
    #[arg(short = 't', long)]
    test: Option<String>,
    /// List the known schemes.
    #[arg(short = 'l', long)]
    list: bool,
}

fn read_password() -> Option<String> {
    eprint!("Enter new password: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Runs `columba pw`.
pub fn run(args: Args) -> ExitCode {
    if args.list {
        let names: Vec<&str> = Scheme::all().map(Scheme::name).collect();
        println!("{}", names.join(" "));
        return ExitCode::SUCCESS;
    }
    let Some(password) = args.password.clone().or_else(read_password) else {
        eprintln!("Fatal: no password given");
        return ExitCode::FAILURE;
    };
    if let Some(hash) = &args.test {
        let verdict = StoredPassword::parse(hash, Scheme::Crypt)
            .and_then(|s| s.verify(password.as_bytes(), &args.user));
        return match verdict {
            Ok(true) => {
                println!("{hash} (verified)");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("Fatal: reverse password verification check failed: Password mismatch");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("Fatal: reverse password verification check failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match generate(&args.scheme, password.as_bytes(), &args.user, args.rounds) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Fatal: {e}");
            ExitCode::FAILURE
        }
    }
}
