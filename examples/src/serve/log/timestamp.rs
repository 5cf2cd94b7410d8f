//! `log_timestamp`: the strftime subset Dovecot's default and common
//! settings use, rendered in the local time zone.

use std::sync::OnceLock;

use tz::{DateTime, TimeZone};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/// Conversions understood after `%`.
const CONVERSIONS: &str = "YmdeHMSbhaAyjTFz%";

/// Checks that `format` uses only the supported conversions
/// (`%Y %m %d %e %H %M %S %b %h %a %A %y %j %T %F %z %%`).
pub fn check_format(format: &str) -> Result<(), String> {
    let mut chars = format.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some((_, k)) if CONVERSIONS.contains(k) => {}
                Some((_, k)) => {
                    return Err(format!(
                        "%{k} at byte {i} is not supported (use %Y %m %d %e %H %M %S %b %a %y %j %T %F %z %%)"
                    ))
                }
                None => return Err(format!("a lone % at byte {i}")),
            }
        }
    }
    Ok(())
}

/// The process's local time zone (`TZ`, else `/etc/localtime`, else UTC).
fn zone() -> &'static TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    ZONE.get_or_init(|| {
        match std::env::var("TZ") {
            Ok(tz) if tz.is_empty() => Ok(TimeZone::utc()),
            Ok(tz) => TimeZone::from_posix_tz(&tz),
            Err(_) => TimeZone::local(),
        }
        .unwrap_or_else(|_| TimeZone::utc())
    })
}

/// Formats the UNIX time `secs` with `format` in the local zone.
pub fn format_local(format: &str, secs: i64) -> String {
    match DateTime::from_timespec(secs, 0, zone().as_ref()) {
        Ok(t) => format_parts(format, &Parts::of(&t)),
        Err(_) => format.to_string(),
    }
}

/// Formats the current time with `format` in the local zone.
pub fn now(format: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    format_local(format, secs)
}

/// A broken-down time.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month 1..=12.
    pub month: u8,
    /// Day of the month 1..=31.
    pub day: u8,
    /// Hour 0..=23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Day of the week, 0 = Sunday.
    pub week_day: u8,
    /// Day of the year, 0-based.
    pub year_day: u16,
    /// Offset from UTC in seconds.
    pub utc_offset: i32,
}

impl Parts {
    fn of(t: &DateTime) -> Parts {
        Parts {
            year: t.year(),
            month: t.month(),
            day: t.month_day(),
            hour: t.hour(),
            minute: t.minute(),
            second: t.second(),
            week_day: t.week_day(),
            year_day: t.year_day(),
            utc_offset: t.local_time_type().ut_offset(),
        }
    }
}

/// Formats broken-down time `p` with `format`.
pub fn format_parts(format: &str, p: &Parts) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(k) = chars.next() else {
            out.push('%');
            break;
        };
        let month = MONTHS[usize::from(p.month.clamp(1, 12) - 1)];
        let day_name = DAYS[usize::from(p.week_day % 7)];
        let piece = match k {
            'Y' => p.year.to_string(),
            'm' => format!("{:02}", p.month),
            'd' => format!("{:02}", p.day),
            'e' => format!("{:2}", p.day),
            'H' => format!("{:02}", p.hour),
            'M' => format!("{:02}", p.minute),
            'S' => format!("{:02}", p.second),
            'b' | 'h' => month.to_string(),
            'a' => day_name.to_string(),
            'A' => full_day(p.week_day).to_string(),
            'y' => format!("{:02}", p.year.rem_euclid(100)),
            'j' => format!("{:03}", p.year_day + 1),
            'T' => format!("{:02}:{:02}:{:02}", p.hour, p.minute, p.second),
            'F' => format!("{}-{:02}-{:02}", p.year, p.month, p.day),
            'z' => {
                let sign = if p.utc_offset < 0 { '-' } else { '+' };
                let off = p.utc_offset.unsigned_abs();
                format!("{sign}{:02}{:02}", off / 3600, off % 3600 / 60)
            }
            '%' => "%".to_string(),
            other => format!("%{other}"),
        };
        out.push_str(&piece);
    }
    out
}

fn full_day(week_day: u8) -> &'static str {
    [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ][usize::from(week_day % 7)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_default_and_iso_formats() {
        let p = Parts {
            year: 2026,
            month: 3,
            day: 7,
            hour: 4,
            minute: 5,
            second: 6,
            week_day: 6,
            year_day: 65,
            utc_offset: 3600,
        };
        // Dovecot's default log_timestamp
        assert_eq!(format_parts("%b %d %H:%M:%S ", &p), "Mar 07 04:05:06 ");
        assert_eq!(
            format_parts("%Y-%m-%d %H:%M:%S ", &p),
            "2026-03-07 04:05:06 "
        );
        assert_eq!(
            format_parts("%e|%a|%y|%j|%z|%%", &p),
            " 7|Sat|26|066|+0100|%"
        );
    }

    #[test]
    fn utc_rendering_matches_a_known_instant() {
        let utc = TimeZone::utc();
        let t = DateTime::from_timespec(1_700_000_000, 0, utc.as_ref()).unwrap();
        assert_eq!(
            format_parts("%F %T %a", &Parts::of(&t)),
            "2023-11-14 22:13:20 Tue"
        );
    }

    #[test]
    fn unsupported_conversions_are_refused() {
        assert!(check_format("%b %d %H:%M:%S ").is_ok());
        let e = check_format("%Q").unwrap_err();
        assert!(e.contains("%Q"), "{e}");
        assert!(check_format("x%").is_err());
    }
}
