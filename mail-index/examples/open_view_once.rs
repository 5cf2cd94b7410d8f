//! Times `IndexDir::open_view_without_cache` of an index directory in a
//! fresh process: the first open (nothing remembered, every file read and
//! the log replayed) and then, optionally, more opens of the same
//! directory (the remembered replay checked against the files).
//!
//! ```sh
//! cargo run --release -p columba-mail-index --example open_view_once -- ~/Maildir [OPENS]
//! ```

use std::time::Instant;

use columba_mail_index::IndexDir;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: open_view_once DIR [OPENS]")?;
    let opens: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 2,
    };
    let index = IndexDir::new(&dir);
    for i in 0..opens {
        let t = Instant::now();
        let view = index.open_view_without_cache()?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let what = if i == 0 { "first" } else { "again" };
        println!(
            "open {what}: {ms:8.3} ms  {} messages, next_uid {}, highest modseq {}",
            view.header().messages_count,
            view.header().next_uid,
            view.highest_modseq,
        );
        if i == 0 {
            // What a SELECT does next: every message's UID, flags, keywords
            // and modseq.
            let t = Instant::now();
            let (mut seen, mut keywords, mut modseqs) = (0usize, 0usize, 0u64);
            for m in view.messages() {
                seen += usize::from(m.flags & columba_mail_index::FLAG_SEEN != 0);
                keywords += m.keywords.len();
                modseqs = modseqs.max(m.modseq);
            }
            println!(
                "messages:   {:8.3} ms  {seen} seen, {keywords} keywords set, highest {modseqs}",
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}
