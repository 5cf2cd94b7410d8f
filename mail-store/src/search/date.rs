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

/// The `date.sent` Dovecot caches for a message (`message_date_parse()`
/// of its first `Date:` field): Unix time and the zone's offset in
/// minutes; `(0, 0)` when the message has no `Date:` field. `None` when
/// the value is not in the plain RFC 5322 form this reads exactly
/// (`[Www,] d Mon yyyy hh:mm[:ss] [zone] [(comment)]`): such a message is
/// left for Dovecot to judge.
pub fn sent_date(msg: &crate::Message<'_>) -> Option<(u32, i32)> {
    let data = msg.data();
    let Some(field) = msg.root().fields.iter().find(|f| f.is(data, "Date")) else {
        return Some((0, 0));
    };
    parse_sent_date(&field.full_value(data))
}

fn parse_sent_date(value: &[u8]) -> Option<(u32, i32)> {
    let text = std::str::from_utf8(value).ok()?;
    let text = match text.find('(') {
        // one trailing comment, e.g. "(UTC)"
        Some(i) if text[i..].trim_end().ends_with(')') && !text[i + 1..].contains('(') => {
            &text[..i]
        }
        Some(_) => return None,
        None => text,
    };
    let mut words: Vec<&str> = text
        .split([' ', '\t', '\n', '\r'])
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(first) = words.first() {
        if let Some(day) = first.strip_suffix(',') {
            if day.len() != 3 || !day.bytes().all(|b| b.is_ascii_alphabetic()) {
                return None;
            }
            words.remove(0);
        }
    }
    let [d, mon, y, time, rest @ ..] = words.as_slice() else {
        return None;
    };
    let digits = |s: &str, min: usize, max: usize| -> Option<u32> {
        if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let day = digits(d, 1, 2)?;
    if mon.len() < 3 || !mon.is_ascii() {
        return None;
    }
    let m = month(&mon[..3])?;
    let mut year = i64::from(digits(y, 2, 4)?);
    match y.len() {
        2 => year += if year < 70 { 2000 } else { 1900 },
        4 if year >= 1970 => {}
        _ => return None,
    }
    let parts: Vec<&str> = time.split(':').collect();
    let (hh, mm, ss) = match parts.as_slice() {
        [h, m] => (digits(h, 1, 2)?, digits(m, 2, 2)?, 0),
        [h, m, s] => (digits(h, 1, 2)?, digits(m, 2, 2)?, digits(s, 2, 2)?),
        _ => return None,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day == 0 || day > month_days[m as usize - 1] || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let zone = match rest {
        [] => 0,
        [z] => zone_minutes(z)?,
        _ => return None,
    };
    let t = days_from_civil(year, m, day) * 86_400
        + i64::from(hh) * 3600
        + i64::from(mm) * 60
        + i64::from(ss)
        - i64::from(zone) * 60;
    Some((u32::try_from(t).ok()?, zone))
}

/// Zones read exactly: numeric `+hhmm`/`-hhmm` and RFC 822's names.
fn zone_minutes(z: &str) -> Option<i32> {
    let b = z.as_bytes();
    if b.len() == 5 && (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        let n = |i: usize| i32::from(b[i] - b'0');
        let off = (n(1) * 10 + n(2)) * 60 + n(3) * 10 + n(4);
        return Some(if b[0] == b'+' { off } else { -off });
    }
    Some(match z.to_ascii_uppercase().as_str() {
        "UT" | "GMT" => 0,
        "EST" => -300,
        "EDT" => -240,
        "CST" => -360,
        "CDT" => -300,
        "MST" => -420,
        "MDT" => -360,
        "PST" => -480,
        "PDT" => -420,
        _ => return None,
    })
}

#[cfg(test)]
mod sent_date_tests {
    use super::parse_sent_date;

    #[test]
    fn plain_dates_and_what_is_left_to_dovecot() {
        assert_eq!(
            parse_sent_date(b"Thu, 01 Feb 2024 00:00:01 +0000"),
            Some((1_706_745_601, 0))
        );
        assert_eq!(
            parse_sent_date(b"1 Feb 2024 01:00 +0100 (CET)"),
            Some((1_706_745_600, 60))
        );
        assert_eq!(
            parse_sent_date(b"Mon, 2 Jan 06 15:04:05 PST"),
            Some((1_136_243_045, -480))
        );
        for odd in [
            &b"Thu, 31 Feb 2024 00:00:01 +0000"[..],
            b"yesterday",
            b"Thu, 01 Feb 2024 00:00:01 CEST",
            b"01 Feb 1969 00:00:01 +0000",
            b"Thu, 01 Feb 2024 00.00.01 +0000",
            b"",
        ] {
            assert_eq!(
                parse_sent_date(odd),
                None,
                "{}",
                String::from_utf8_lossy(odd)
            );
        }
    }
}
