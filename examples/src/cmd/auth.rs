//! `columba auth test` and `columba auth lookup`: authenticate or look a
//! user up through an auth socket (Dovecot's or Columba's), like
//! `doveadm auth test` and `doveadm user`.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use columba_auth_sasl::protocol::client::UnixAuthClient;
use columba_auth_sasl::protocol::master_client::UnixMasterClient;
use columba_auth_sasl::sasl::ClientCredentials;

/// Arguments of `columba auth`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: AuthCommand,
}

#[derive(Subcommand, Debug)]
enum AuthCommand {
    /// Authenticate USER with PASS (read from stdin when not given) on an auth-client socket.
    Test {
        /// The auth-client socket.
        #[arg(short = 'a', long, default_value = "/run/dovecot/auth-client")]
        socket: PathBuf,
        /// SASL mechanism.
        #[arg(short = 'm', long, default_value = "PLAIN")]
        mechanism: String,
        /// Extra AUTH parameters (`rip=1.2.3.4`, `secured`, …); `service=` defaults to doveadm.
        #[arg(short = 'x', long = "param")]
        params: Vec<String>,
        /// Authorization identity (log in as this user, for master users).
        #[arg(short = 'z', long)]
        authzid: Option<String>,
        /// User name.
        user: String,
        /// Password.
        password: Option<String>,
    },
    /// Look USER up on an auth-userdb or auth-master socket; a `*`/`?` mask lists users.
    Lookup {
        /// The auth-userdb (or auth-master) socket.
        #[arg(short = 'a', long, default_value = "/run/dovecot/auth-userdb")]
        socket: PathBuf,
        /// Extra lookup parameters; `service=` defaults to doveadm.
        #[arg(short = 'x', long = "param")]
        params: Vec<String>,
        /// Show the passdb fields (PASS) instead of the userdb fields.
        #[arg(long)]
        passdb: bool,
        /// User name or mask.
        user: String,
    },
}

fn with_service(mut params: Vec<String>) -> Vec<String> {
    if !params.iter().any(|p| p.starts_with("service=")) {
        params.insert(0, "service=doveadm".into());
    }
    params
}

/// Runs `columba auth …`.
pub fn run(args: Args) -> ExitCode {
    match args.command {
        AuthCommand::Test {
            socket,
            mechanism,
            params,
            authzid,
            user,
            password,
        } => {
            let password = password.unwrap_or_else(|| {
                eprint!("Password: ");
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                line.trim_end_matches(['\r', '\n']).to_string()
            });
            let mut creds = ClientCredentials::new(&user, &password);
            creds.authzid = authzid;
            let outcome = UnixAuthClient::connect(&socket)
                .and_then(|mut c| c.authenticate(&mechanism, creds, &with_service(params)));
            match outcome {
                Ok(o) if o.success => {
                    println!("passdb: {user} auth succeeded");
                    println!("extra fields:");
                    for (k, v) in o.fields.iter() {
                        match v {
                            Some(v) => println!("  {k}={v}"),
                            None => println!("  {k}"),
                        }
                    }
                    ExitCode::SUCCESS
                }
                Ok(o) => {
                    println!("passdb: {user} auth failed");
                    println!("extra fields:");
                    for (k, v) in o.fields.iter() {
                        match v {
                            Some(v) => println!("  {k}={v}"),
                            None => println!("  {k}"),
                        }
                    }
                    ExitCode::from(77)
                }
                Err(e) => {
                    eprintln!("Error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        AuthCommand::Lookup {
            socket,
            params,
            passdb,
            user,
        } => {
            let params = with_service(params);
            let mut client = match UnixMasterClient::connect(&socket) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("Error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if user.contains(['*', '?']) {
                let mut p = params.clone();
                p.push(format!("user={user}"));
                return match client.list(&p) {
                    Ok(users) => {
                        for u in users {
                            println!("{u}");
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("Error: {e}");
                        ExitCode::FAILURE
                    }
                };
            }
            let found = if passdb {
                client
                    .pass(&user, &params)
                    .map(|f| f.map(|f| (user.clone(), f)))
            } else {
                client.user(&user, &params)
            };
            match found {
                Ok(Some((name, fields))) => {
                    println!("field\tvalue");
                    println!("user\t{name}");
                    for (k, v) in fields.iter().filter(|(k, _)| *k != "user") {
                        println!("{k}\t{}", v.unwrap_or(""));
                    }
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    eprintln!("userdb lookup: user {user} doesn't exist");
                    ExitCode::from(67)
                }
                Err(e) => {
                    eprintln!("Error: userdb lookup failed for {user}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
