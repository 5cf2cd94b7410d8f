//! The `indexer-worker` role: one job per process. It looks the user up
//! on auth-userdb, drops to the user (as a post-login process does), syncs
//! the mailbox and fills `dovecot.index.cache` for the messages not cached
//! yet with mail-store's precache, then answers the indexer and exits.

use columba_auth_sasl::escape::{tab_escape, tab_unescape};
use columba_auth_sasl::protocol::master_client::UnixMasterClient;
use columba_mail_store::store::{self, PrecacheFields};
use columba_maildir::Maildir;

use crate::serve::error::ServeError;
use crate::serve::log;
use crate::serve::role::RoleContext;
use crate::serve::user::{CurrentIds, UserEnv};

/// Longest user or mailbox name in a job.
const MAX_NAME: usize = 255;

/// The job frame: `INDEX\t<user>\t<mailbox>`.
pub fn encode_job(user: &str, mailbox: &str) -> Vec<u8> {
    format!("INDEX\t{}\t{}", tab_escape(user), tab_escape(mailbox)).into_bytes()
}

/// Parses a job frame.
pub fn decode_job(payload: &[u8]) -> Result<(String, String), ServeError> {
    let mut parts = payload.split(|&b| b == b'\t');
    if parts.next() != Some(b"INDEX".as_slice()) {
        return Err(ServeError::Control("not an indexer job".into()));
    }
    let mut name = |what: &str| -> Result<String, ServeError> {
        let raw = parts
            .next()
            .ok_or_else(|| ServeError::Control(format!("indexer job: {what} missing")))?;
        let s = String::from_utf8(tab_unescape(raw))
            .map_err(|_| ServeError::Control(format!("indexer job: {what} is not UTF-8")))?;
        if s.is_empty() || s.len() > MAX_NAME {
            return Err(ServeError::Control(format!("indexer job: bad {what}")));
        }
        Ok(s)
    };
    let user = name("user")?;
    let mailbox = name("mailbox")?;
    if parts.next().is_some() {
        return Err(ServeError::Control("indexer job: extra fields".into()));
    }
    Ok((user, mailbox))
}

/// Parses the worker's answer: `DONE\t<parsed>\t<already cached>` or
/// `FAIL\t<reason>`.
pub fn parse_answer(payload: &[u8]) -> Result<(), ServeError> {
    let text = String::from_utf8_lossy(payload);
    if text.starts_with("DONE\t") {
        return Ok(());
    }
    Err(ServeError::Storage(
        text.strip_prefix("FAIL\t").unwrap_or(&text).to_string(),
    ))
}

/// Runs the `indexer-worker` role: one job from the indexer.
pub fn run(mut ctx: RoleContext) -> Result<(), ServeError> {
    let Some(frame) = ctx.control.recv()? else {
        return Ok(());
    };
    let (user, mailbox) = decode_job(&frame.payload)?;
    let prefix = format!("indexer-worker({user})");
    let answer = match index(&ctx, &user, &mailbox) {
        Ok((parsed, cached)) => format!("DONE\t{parsed}\t{cached}"),
        Err(e) => {
            log::error(&prefix, &format!("{mailbox}: {e}"));
            format!("FAIL\t{}", e.to_string().replace(['\t', '\n'], " "))
        }
    };
    ctx.control.send(answer.as_bytes(), &[])?;
    Ok(())
}

fn index(ctx: &RoleContext, user: &str, mailbox: &str) -> Result<(usize, usize), ServeError> {
    let config = &ctx.config;
    let mut userdb = UnixMasterClient::connect(&config.socket("auth-userdb"))
        .map_err(|e| ServeError::Auth(e.to_string()))?;
    let (user, fields) = userdb
        .user(user, &["service=indexer-worker".to_string()])
        .map_err(|e| ServeError::Auth(e.to_string()))?
        .ok_or_else(|| ServeError::Auth(format!("user {user} not found from userdb")))?;
    drop(userdb);
    let env = UserEnv::resolve(&user, &fields, config, CurrentIds::of_this_process()?)?;
    let dropped = env.drop_privileges(config)?;
    let maildir = Maildir::open(&dropped.mail_root)
        .map_err(|e| ServeError::Storage(format!("{}: {e}", dropped.mail_root.display())))?;
    let folder = maildir
        .folder(mailbox)
        .map_err(|e| ServeError::Storage(format!("{mailbox}: {e}")))?;
    store::sync(&folder).map_err(|e| ServeError::Storage(e.to_string()))?;
    let report = store::precache(&folder, None, &PrecacheFields::default())
        .map_err(|e| ServeError::Storage(e.to_string()))?;
    Ok((report.parsed, report.already_cached))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift) for property tests.
    fn bytes(seed: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                alphabet[(*seed % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    /// Property test standing in for a fuzz target: any bytes decode to a
    /// job or a typed error, and what decodes encodes back to itself.
    #[test]
    fn arbitrary_frames_never_panic_and_round_trip() {
        let alphabet = b"INDEX\t\\\xffab\x01tn";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in 0..20_000 {
            let mut frame = if n % 2 == 0 {
                b"INDEX\t".to_vec()
            } else {
                Vec::new()
            };
            frame.extend(bytes(&mut seed, n % 60, alphabet));
            if let Ok((user, mailbox)) = decode_job(&frame) {
                assert_eq!(
                    decode_job(&encode_job(&user, &mailbox)).unwrap(),
                    (user, mailbox)
                );
            }
            let _ = parse_answer(&frame);
        }
    }

    #[test]
    fn jobs_round_trip_and_bad_ones_are_refused() {
        let job = encode_job("a\tb", "INBOX");
        assert_eq!(decode_job(&job).unwrap(), ("a\tb".into(), "INBOX".into()));
        for bad in [
            &b"INDEX\tu"[..],
            b"INDEX\t\tINBOX",
            b"X\tu\tm",
            b"INDEX\tu\tm\tx",
        ] {
            assert!(decode_job(bad).is_err(), "{bad:?}");
        }
        assert!(parse_answer(b"DONE\t1\t0").is_ok());
        assert!(parse_answer(b"FAIL\tno such user")
            .unwrap_err()
            .to_string()
            .contains("no such user"));
    }
}
