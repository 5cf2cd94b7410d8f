//! Opens a mailbox's `IndexState` many times in one process and prints
//! the median: for profiling a warm reopen.
//!
//! ```sh
//! cargo run --release -p columba-mail-store --example index_state_loop -- ~/Maildir 1000
//! ```

use std::time::Instant;

use columba_mail_store::store::IndexState;
use columba_maildir::Mailbox;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: index_state_loop MAILDIR [ROUNDS]")?;
    let rounds: usize = args.next().map_or(Ok(1000), |r| r.parse())?;
    let inbox = Mailbox::at(dir.as_ref(), dir.as_ref(), "INBOX");
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let state = IndexState::open(&inbox)?;
        std::hint::black_box((state.len(), state.first_unseen(), state.recent_uids()));
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "IndexState::open: median {:.1} us over {rounds}",
        times[rounds / 2].as_secs_f64() * 1e6
    );
    Ok(())
}
