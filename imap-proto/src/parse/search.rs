//! SEARCH keys.

use super::{PResult, Parser};
use crate::types::{EntryType, SearchKey};

/// Case-insensitive keyword comparison; the length check first makes a
/// miss nearly free in the long dispatch chains.
#[inline(always)]
fn is(word: &[u8], name: &str) -> bool {
    let n = name.as_bytes();
    word.len() == n.len() && word.eq_ignore_ascii_case(n)
}

/// One `search-key`.
pub(crate) fn search_key(p: &mut Parser<'_>) -> PResult<SearchKey> {
    match p.peek() {
        Some(b'(') => {
            p.open()?;
            let mut keys = vec![search_key(p)?];
            while p.eat(b' ') {
                keys.push(search_key(p)?);
            }
            p.close()?;
            return Ok(SearchKey::And(keys));
        }
        Some(b'0'..=b'9' | b'*' | b'$') => return p.sequence_set().map(SearchKey::SequenceSet),
        _ => {}
    }
    let start = p.pos;
    let w = p.word("search key")?;
    macro_rules! unit {
        ($($n:literal => $v:expr),*) => {
            $(if is(w, $n) { return Ok($v); })*
        };
    }
    unit!(
        "ALL" => SearchKey::All,
        "ANSWERED" => SearchKey::Answered,
        "DELETED" => SearchKey::Deleted,
        "DRAFT" => SearchKey::Draft,
        "FLAGGED" => SearchKey::Flagged,
        "NEW" => SearchKey::New,
        "OLD" => SearchKey::Old,
        "RECENT" => SearchKey::Recent,
        "SAVEDATESUPPORTED" => SearchKey::SaveDateSupported,
        "SEEN" => SearchKey::Seen,
        "UNANSWERED" => SearchKey::Unanswered,
        "UNDELETED" => SearchKey::Undeleted,
        "UNDRAFT" => SearchKey::Undraft,
        "UNFLAGGED" => SearchKey::Unflagged,
        "UNSEEN" => SearchKey::Unseen
    );
    if p.sp().is_err() {
        p.pos = start;
        return p.fail("search key");
    }
    macro_rules! string {
        ($($n:literal => $v:path),*) => {
            $(if is(w, $n) { return Ok($v(p.astring()?)); })*
        };
    }
    string!(
        "BCC" => SearchKey::Bcc,
        "BODY" => SearchKey::Body,
        "CC" => SearchKey::Cc,
        "FROM" => SearchKey::From,
        "SUBJECT" => SearchKey::Subject,
        "TEXT" => SearchKey::Text,
        "TO" => SearchKey::To
    );
    macro_rules! date {
        ($($n:literal => $v:path),*) => {
            $(if is(w, $n) { return Ok($v(p.date()?)); })*
        };
    }
    date!(
        "BEFORE" => SearchKey::Before,
        "ON" => SearchKey::On,
        "SINCE" => SearchKey::Since,
        "SAVEDBEFORE" => SearchKey::SavedBefore,
        "SAVEDON" => SearchKey::SavedOn,
        "SAVEDSINCE" => SearchKey::SavedSince,
        "SENTBEFORE" => SearchKey::SentBefore,
        "SENTON" => SearchKey::SentOn,
        "SENTSINCE" => SearchKey::SentSince
    );
    if is(w, "HEADER") {
        let field = p.astring()?;
        p.sp()?;
        Ok(SearchKey::Header(field, p.astring()?))
    } else if is(w, "KEYWORD") {
        Ok(SearchKey::Keyword(p.atom("keyword")?))
    } else if is(w, "UNKEYWORD") {
        Ok(SearchKey::Unkeyword(p.atom("keyword")?))
    } else if is(w, "LARGER") {
        Ok(SearchKey::Larger(p.number()?))
    } else if is(w, "SMALLER") {
        Ok(SearchKey::Smaller(p.number()?))
    } else if is(w, "NOT") {
        Ok(SearchKey::Not(Box::new(nested(p)?)))
    } else if is(w, "OR") {
        let a = nested(p)?;
        p.sp()?;
        let b = nested(p)?;
        Ok(SearchKey::Or(Box::new(a), Box::new(b)))
    } else if is(w, "UID") {
        Ok(SearchKey::Uid(p.sequence_set()?))
    } else if is(w, "MODSEQ") {
        let mut entry = None;
        if matches!(p.peek(), Some(b'"' | b'{' | b'~')) {
            let name = p.string()?;
            p.sp()?;
            let t = p.word("priv, shared or all")?;
            let t = if is(t, "priv") {
                EntryType::Private
            } else if is(t, "shared") {
                EntryType::Shared
            } else if is(t, "all") {
                EntryType::All
            } else {
                p.pos -= t.len();
                return p.fail("priv, shared or all");
            };
            p.sp()?;
            entry = Some((name, t));
        }
        Ok(SearchKey::ModSeq {
            entry,
            modseq: p.number64()?,
        })
    } else {
        p.pos = start;
        p.fail("search key")
    }
}

/// NOT and OR nest keys without parentheses; count them against the depth limit.
fn nested(p: &mut Parser<'_>) -> PResult<SearchKey> {
    p.enter()?;
    let k = search_key(p);
    p.leave();
    k
}
