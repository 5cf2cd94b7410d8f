//! The RFC 9051 search keys (with CONDSTORE's MODSEQ, WITHIN's OLDER and
//! YOUNGER, and SAVEDATE's SAVED*) and a parser for a search program.

use super::date::parse_imap_date;
use super::sequence::SequenceSet;
use crate::error::{Error, Result};

/// One search key; a program is an implicit AND of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// ALL.
    All,
    /// ANSWERED / UNANSWERED (false).
    Answered(bool),
    /// DELETED / UNDELETED.
    Deleted(bool),
    /// DRAFT / UNDRAFT.
    Draft(bool),
    /// FLAGGED / UNFLAGGED.
    Flagged(bool),
    /// SEEN / UNSEEN.
    Seen(bool),
    /// RECENT (IMAP4rev1).
    Recent,
    /// NEW: RECENT and not SEEN.
    New,
    /// OLD: not RECENT.
    Old,
    /// KEYWORD / UNKEYWORD (false).
    Keyword(String, bool),
    /// BEFORE, ON, SINCE on INTERNALDATE (day number, comparison).
    InternalDate(DateCmp, i64),
    /// SENTBEFORE, SENTON, SENTSINCE on the Date header.
    SentDate(DateCmp, i64),
    /// SAVEDBEFORE, SAVEDON, SAVEDSINCE on the save date.
    SavedDate(DateCmp, i64),
    /// SAVEDATESUPPORTED.
    SaveDateSupported,
    /// OLDER n / YOUNGER n seconds (WITHIN): true = older.
    Age(bool, i64),
    /// LARGER n.
    Larger(u64),
    /// SMALLER n.
    Smaller(u64),
    /// HEADER name string (FROM, TO, CC, BCC, SUBJECT are HEADER searches).
    Header(String, String),
    /// BODY string.
    Body(String),
    /// TEXT string.
    Text(String),
    /// UID set.
    Uid(SequenceSet),
    /// Message sequence set.
    Sequence(SequenceSet),
    /// MODSEQ n (entry name and type accepted and ignored).
    ModSeq(u64),
    /// NOT key.
    Not(Box<SearchKey>),
    /// OR key key.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// Parenthesized list: all must match.
    And(Vec<SearchKey>),
}

/// Date comparison of BEFORE / ON / SINCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateCmp {
    /// Strictly before the day.
    Before,
    /// On the day.
    On,
    /// On or after the day.
    Since,
}

impl DateCmp {
    /// Compares a message day with the key's day.
    pub fn matches(self, day: i64, key_day: i64) -> bool {
        match self {
            DateCmp::Before => day < key_day,
            DateCmp::On => day == key_day,
            DateCmp::Since => day >= key_day,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Atom(String),
    Quoted(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Token>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'"' => {
                let mut v = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            return Err(Error::BadSearch {
                                position: out.len(),
                                reason: "unterminated string",
                            })
                        }
                        Some(b'"') => break,
                        Some(b'\\') if i + 1 < b.len() => {
                            v.push(b[i + 1]);
                            i += 2;
                        }
                        Some(&c) => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push(Token::Quoted(String::from_utf8_lossy(&v).into_owned()));
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b'"')
                {
                    i += 1;
                }
                out.push(Token::Atom(s[start..i].to_string()));
            }
        }
    }
    Ok(out)
}

struct KeyParser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Deepest nesting of parentheses, NOT and OR accepted.
pub const MAX_SEARCH_DEPTH: usize = 100;

impl KeyParser {
    fn err(&self, reason: &'static str) -> Error {
        Error::BadSearch {
            position: self.pos,
            reason,
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Token::Atom(s)) | Some(Token::Quoted(s)) => {
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.err("missing argument")),
        }
    }

    fn number(&mut self) -> Result<u64> {
        let s = self.string()?;
        s.parse().map_err(|_| self.err("invalid number"))
    }

    fn date(&mut self) -> Result<i64> {
        let s = self.string()?;
        parse_imap_date(&s).ok_or(self.err("invalid date"))
    }

    fn key(&mut self) -> Result<SearchKey> {
        self.depth += 1;
        if self.depth > MAX_SEARCH_DEPTH {
            return Err(self.err("search program nested too deeply"));
        }
        let key = self.key_inner();
        self.depth -= 1;
        key
    }

    fn key_inner(&mut self) -> Result<SearchKey> {
        let tok = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or(self.err("missing search key"))?;
        self.pos += 1;
        let atom = match tok {
            Token::Open => {
                let mut keys = Vec::new();
                loop {
                    match self.tokens.get(self.pos) {
                        Some(Token::Close) => {
                            self.pos += 1;
                            break;
                        }
                        None => return Err(self.err("missing )")),
                        _ => keys.push(self.key()?),
                    }
                }
                if keys.is_empty() {
                    return Err(self.err("empty list"));
                }
                return Ok(SearchKey::And(keys));
            }
            Token::Close => return Err(self.err("unexpected )")),
            Token::Quoted(_) => return Err(self.err("unexpected string")),
            Token::Atom(a) => a,
        };
        let upper = atom.to_ascii_uppercase();
        use SearchKey as K;
        Ok(match upper.as_str() {
            "ALL" => K::All,
            "ANSWERED" => K::Answered(true),
            "UNANSWERED" => K::Answered(false),
            "DELETED" => K::Deleted(true),
            "UNDELETED" => K::Deleted(false),
            "DRAFT" => K::Draft(true),
            "UNDRAFT" => K::Draft(false),
            "FLAGGED" => K::Flagged(true),
            "UNFLAGGED" => K::Flagged(false),
            "SEEN" => K::Seen(true),
            "UNSEEN" => K::Seen(false),
            "RECENT" => K::Recent,
            "NEW" => K::New,
            "OLD" => K::Old,
            "KEYWORD" => K::Keyword(self.string()?, true),
            "UNKEYWORD" => K::Keyword(self.string()?, false),
            "BEFORE" => K::InternalDate(DateCmp::Before, self.date()?),
            "ON" => K::InternalDate(DateCmp::On, self.date()?),
            "SINCE" => K::InternalDate(DateCmp::Since, self.date()?),
            "SENTBEFORE" => K::SentDate(DateCmp::Before, self.date()?),
            "SENTON" => K::SentDate(DateCmp::On, self.date()?),
            "SENTSINCE" => K::SentDate(DateCmp::Since, self.date()?),
            "SAVEDBEFORE" => K::SavedDate(DateCmp::Before, self.date()?),
            "SAVEDON" => K::SavedDate(DateCmp::On, self.date()?),
            "SAVEDSINCE" => K::SavedDate(DateCmp::Since, self.date()?),
            "SAVEDATESUPPORTED" => K::SaveDateSupported,
            "OLDER" => K::Age(true, self.number()? as i64),
            "YOUNGER" => K::Age(false, self.number()? as i64),
            "LARGER" => K::Larger(self.number()?),
            "SMALLER" => K::Smaller(self.number()?),
            "FROM" | "TO" | "CC" | "BCC" | "SUBJECT" => K::Header(upper.clone(), self.string()?),
            "HEADER" => {
                let name = self.string()?;
                K::Header(name, self.string()?)
            }
            "BODY" => K::Body(self.string()?),
            "TEXT" => K::Text(self.string()?),
            "UID" => {
                let pos = self.pos;
                K::Uid(SequenceSet::parse(&self.string()?, pos)?)
            }
            "MODSEQ" => {
                // optional entry name (quoted) and entry type
                if matches!(self.tokens.get(self.pos), Some(Token::Quoted(_))) {
                    self.pos += 2;
                }
                K::ModSeq(self.number()?)
            }
            "NOT" => K::Not(Box::new(self.key()?)),
            "OR" => {
                let a = self.key()?;
                K::Or(Box::new(a), Box::new(self.key()?))
            }
            _ if upper
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit() || b == b'*') =>
            {
                K::Sequence(SequenceSet::parse(&atom, self.pos - 1)?)
            }
            _ => return Err(self.err("unknown search key")),
        })
    }
}

impl SearchKey {
    /// Parses a search program (`CHARSET` is accepted: text is matched as
    /// UTF-8); several keys become an [`SearchKey::And`].
    pub fn parse(program: &str) -> Result<SearchKey> {
        let tokens = tokenize(program)?;
        let mut p = KeyParser {
            tokens,
            pos: 0,
            depth: 0,
        };
        if matches!(p.tokens.first(), Some(Token::Atom(a)) if a.eq_ignore_ascii_case("CHARSET")) {
            p.pos = 2;
        }
        let mut keys = Vec::new();
        while p.pos < p.tokens.len() {
            keys.push(p.key()?);
        }
        match keys.len() {
            0 => Err(Error::BadSearch {
                position: 0,
                reason: "empty search program",
            }),
            1 => Ok(keys.remove(0)),
            _ => Ok(SearchKey::And(keys)),
        }
    }
}
