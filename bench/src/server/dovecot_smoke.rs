//! The load generator against a real Dovecot: every workload runs without
//! a single wrong answer, and the process-tree sampler sees Dovecot's
//! sessions as processes. Skipped (visibly) where Dovecot is not installed.

use std::time::Duration;

use super::messages::{bench_messages, fill_mailbox, generated_message, Rng, SizeInNames};
use super::process_tree;
use super::servers::start_dovecot;
use super::workload::{self, MixedWorkload, MIXED_COMMANDS};

#[test]
fn every_workload_runs_cleanly_against_dovecot() {
    columba_interop::require_tool!("dovecot");
    let users: Vec<String> = (1..=3).map(|i| format!("smoke{i}")).collect();
    let dovecot = start_dovecot(&users, "smoke-pw").unwrap();
    let messages = bench_messages(20).unwrap();
    for user in &users {
        fill_mailbox(
            &dovecot.maildir(user),
            "INBOX",
            &messages,
            SizeInNames::SizeAndVirtualSize,
        )
        .unwrap();
        dovecot.fix_ownership(user).unwrap();
    }
    let root = dovecot.root_pid().unwrap();
    let target = &dovecot.target;

    let logins = workload::logins(target, 2, Duration::from_millis(800), Some(root));
    assert!(logins.ops > 0 && logins.errors == 0, "{logins:?}");
    assert!(logins.server_cpu_us_per_op().is_some_and(|us| us > 0.0));

    let mixed = MixedWorkload {
        mailbox: "INBOX".into(),
        append_message: generated_message(1, 500, &mut Rng::new(1)),
        bodies_per_fetch: 3,
    };
    let run = workload::mixed(target, &mixed, 3, Duration::from_millis(1500), Some(root));
    assert!(run.ops >= 7 && run.errors == 0, "{run:?}");
    assert_eq!(run.mean_latency.len(), MIXED_COMMANDS.len());
    assert!(run.mean_latency.iter().all(|l| !l.is_zero()), "{run:?}");

    // each round put the mailbox back as it was
    let mut c = target.login(0).unwrap();
    let r = c.command("SELECT INBOX").unwrap();
    assert_eq!(r.untagged_number("EXISTS"), Some(20));

    // idle sessions are processes of the master's tree
    let before = process_tree::sample(root).unwrap();
    let idle = workload::open_idle(target, 6, "INBOX").unwrap();
    let after = process_tree::sample(root).unwrap();
    assert!(
        after.processes >= before.processes + 6,
        "{before:?} {after:?}"
    );
    assert!(after.pss_kib > before.pss_kib);
    drop(idle);
    assert!(
        dovecot.log_problems().is_empty(),
        "{:?}",
        dovecot.log_problems()
    );
}
