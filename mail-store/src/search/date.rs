//! Dates for SEARCH: IMAP `date` arguments (`1-Feb-1994`) and the message's
//! `Date:` header (RFC 5322, with the obsolete forms), as day numbers.

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn month(s: &str) -> Option<u32> {
    let s = s.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == s).map(|i| i as u32 + 1)
}

/// Parses an IMAP search date `d-Mon-yyyy` into a day number.
pub fn parse_imap_date(s: &str) -> Option<i64> {
    let s = s.trim_matches('"');
    let mut it = s.split('-');
    let d: u32 = it.next()?.parse().ok()?;
    let m = month(it.next()?)?;
    let y: i64 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=31).contains(&d) || !(0..=9999).contains(&y) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// The day number of a `Date:` header value as written (its own time zone),
/// or `None` if it does not parse.
pub fn parse_header_date(value: &[u8]) -> Option<i64> {
    let text = String::from_utf8_lossy(value);
    // drop comments and the optional day-of-week
    let mut clean = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => clean.push(c),
            _ => {}
        }
    }
    let clean = match clean.split_once(',') {
        Some((_, rest)) => rest.to_string(),
        None => clean,
    };
    let mut words = clean.split_whitespace();
    let d: u32 = words.next()?.parse().ok()?;
    let m = month(&words.next()?.chars().take(3).collect::<String>())?;
    let mut y: i64 = words.next()?.parse().ok()?;
    if y < 50 {
        y += 2000;
    } else if y < 1000 {
        y += 1900;
    }
    if !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// The day number of a Unix time shifted by `offset_secs` (the time zone
/// in which dates are compared).
pub fn day_of(unix_secs: i64, offset_secs: i64) -> i64 {
    (unix_secs + offset_secs).div_euclid(86_400)
}
