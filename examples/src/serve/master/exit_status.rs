//! How the master words a child's end, as Dovecot's master does
//! (`service(imap-login): child 1234 killed with signal 9`).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// The log text for a child that ended with `status`, or `None` when it
/// exited cleanly (status 0), which Dovecot does not log.
pub fn describe(service: &str, pid: u32, status: ExitStatus) -> Option<String> {
    if let Some(signal) = status.signal() {
        let core = if status.core_dumped() {
            " (core dumped)"
        } else {
            ""
        };
        return Some(format!(
            "service({service}): child {pid} killed with signal {signal}{core}"
        ));
    }
    match status.code() {
        Some(0) => None,
        Some(code) => Some(format!(
            "service({service}): child {pid} returned error {code}"
        )),
        None => Some(format!(
            "service({service}): child {pid} died with status {}",
            status.into_raw()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_dovecot() {
        assert_eq!(describe("imap", 7, ExitStatus::from_raw(0)), None);
        assert_eq!(
            describe("auth", 123, ExitStatus::from_raw(9)).unwrap(),
            "service(auth): child 123 killed with signal 9"
        );
        assert_eq!(
            describe("imap-login", 5, ExitStatus::from_raw(1 << 8)).unwrap(),
            "service(imap-login): child 5 returned error 1"
        );
    }
}
