//! SEARCH keys as `imap-proto` parses them, converted to the store's keys.

use columba_imap_proto::SearchKey as K;
use columba_mail_store::search::date::days_from_civil;
use columba_mail_store::search::{DateCmp, SearchKey, SequenceSet};

use super::format::set_text;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn day(d: &columba_imap_proto::Date) -> i64 {
    days_from_civil(d.year as i64, d.month as u32, d.day as u32)
}

fn set(s: &columba_imap_proto::SequenceSet) -> Option<SequenceSet> {
    SequenceSet::parse(&set_text(s)?, 0).ok()
}

/// The UIDs a sequence set names in the session's view (which may still
/// number messages expunged meanwhile), or `None` when it names none
/// validly.
pub type SequenceResolver<'a> = &'a dyn Fn(&columba_imap_proto::SequenceSet) -> Option<Vec<u32>>;

/// A sequence-set key as a UID key: sequence numbers are the session's,
/// not the store's current ones.
fn by_sequence(s: &columba_imap_proto::SequenceSet, seqs: SequenceResolver) -> Option<SearchKey> {
    let uids = seqs(s)?;
    if uids.is_empty() {
        return Some(SearchKey::Not(Box::new(SearchKey::All)));
    }
    Some(SearchKey::Uid(
        SequenceSet::parse(&super::format::compact_set(&uids), 0).ok()?,
    ))
}

/// Converts one key; `None` for a set the store cannot search.
pub fn convert(key: &K, seqs: SequenceResolver) -> Option<SearchKey> {
    let header = |name: &str, v: &[u8]| SearchKey::Header(name.into(), text(v));
    Some(match key {
        K::All => SearchKey::All,
        K::Answered => SearchKey::Answered(true),
        K::Unanswered => SearchKey::Answered(false),
        K::Deleted => SearchKey::Deleted(true),
        K::Undeleted => SearchKey::Deleted(false),
        K::Draft => SearchKey::Draft(true),
        K::Undraft => SearchKey::Draft(false),
        K::Flagged => SearchKey::Flagged(true),
        K::Unflagged => SearchKey::Flagged(false),
        K::Seen => SearchKey::Seen(true),
        K::Unseen => SearchKey::Seen(false),
        K::Recent => SearchKey::Recent,
        K::New => SearchKey::New,
        K::Old => SearchKey::Old,
        K::Keyword(a) => SearchKey::Keyword(a.as_str().into(), true),
        K::Unkeyword(a) => SearchKey::Keyword(a.as_str().into(), false),
        K::Before(d) => SearchKey::InternalDate(DateCmp::Before, day(d)),
        K::On(d) => SearchKey::InternalDate(DateCmp::On, day(d)),
        K::Since(d) => SearchKey::InternalDate(DateCmp::Since, day(d)),
        K::SentBefore(d) => SearchKey::SentDate(DateCmp::Before, day(d)),
        K::SentOn(d) => SearchKey::SentDate(DateCmp::On, day(d)),
        K::SentSince(d) => SearchKey::SentDate(DateCmp::Since, day(d)),
        K::SavedBefore(d) => SearchKey::SavedDate(DateCmp::Before, day(d)),
        K::SavedOn(d) => SearchKey::SavedDate(DateCmp::On, day(d)),
        K::SavedSince(d) => SearchKey::SavedDate(DateCmp::Since, day(d)),
        K::SaveDateSupported => SearchKey::SaveDateSupported,
        K::Larger(n) => SearchKey::Larger(*n as u64),
        K::Smaller(n) => SearchKey::Smaller(*n as u64),
        K::From(v) => header("FROM", v),
        K::To(v) => header("TO", v),
        K::Cc(v) => header("CC", v),
        K::Bcc(v) => header("BCC", v),
        K::Subject(v) => header("SUBJECT", v),
        K::Header(n, v) => SearchKey::Header(text(n), text(v)),
        K::Body(v) => SearchKey::Body(text(v)),
        K::Text(v) => SearchKey::Text(text(v)),
        // `$` is a set of UIDs whether after UID or not
        K::Uid(columba_imap_proto::SequenceSet::Saved) => {
            by_sequence(&columba_imap_proto::SequenceSet::Saved, seqs)?
        }
        K::Uid(s) => SearchKey::Uid(set(s)?),
        K::SequenceSet(s) => by_sequence(s, seqs)?,
        K::ModSeq { modseq, .. } => SearchKey::ModSeq(*modseq),
        K::Not(k) => SearchKey::Not(Box::new(convert(k, seqs)?)),
        K::Or(a, b) => SearchKey::Or(Box::new(convert(a, seqs)?), Box::new(convert(b, seqs)?)),
        K::And(keys) => SearchKey::And(
            keys.iter()
                .map(|k| convert(k, seqs))
                .collect::<Option<_>>()?,
        ),
    })
}

/// A search program (implicitly ANDed keys).
pub fn convert_all(keys: &[K], seqs: SequenceResolver) -> Option<SearchKey> {
    if keys.len() == 1 {
        return convert(&keys[0], seqs);
    }
    Some(SearchKey::And(
        keys.iter()
            .map(|k| convert(k, seqs))
            .collect::<Option<_>>()?,
    ))
}
