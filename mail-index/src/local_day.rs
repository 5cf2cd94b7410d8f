//! The start of the local day, as Dovecot's `time_to_local_day_start()`
//! computes it for `day_stamp` and `day_first_uid[]`: `localtime()` of the
//! commit time, then `mktime()` of that date at 00:00:00 with DST unknown.
//!
//! The zone is found as libc finds it: the `TZ` environment variable when
//! set (a zone name such as `Europe/Berlin`, `:`-prefixed or not, or a POSIX
//! rule such as `CET-1CEST,M3.5.0,M10.5.0/3`; empty means UTC), otherwise
//! `/etc/localtime`, otherwise UTC. It is read once per process.

use std::sync::OnceLock;

use tz::{DateTime, TimeZone, TimeZoneRef};

use crate::error::{Error, Result};

/// The process's local time zone, read on first use.
fn process_zone() -> &'static TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    ZONE.get_or_init(|| {
        let zone = match std::env::var("TZ") {
            Ok(tz) if tz.is_empty() => Ok(TimeZone::utc()),
            Ok(tz) => TimeZone::from_posix_tz(&tz),
            Err(_) => TimeZone::local(),
        };
        zone.unwrap_or_else(|_| TimeZone::utc())
    })
}

/// Start of the local day containing `now` (UNIX seconds), in the process's
/// time zone: what Dovecot stores as `day_stamp` when it commits an append
/// at `now`.
pub fn local_day_start(now: u32) -> u32 {
    day_start(now, process_zone().as_ref())
}

/// Start of the day containing `now` in the zone `tz` (a `TZ` value).
pub fn day_start_in_zone(now: u32, tz: &str) -> Result<u32> {
    let zone = TimeZone::from_posix_tz(tz)
        .map_err(|e| Error::Invalid(format!("time zone {tz:?}: {e}")))?;
    Ok(day_start(now, zone.as_ref()))
}

fn day_start(now: u32, zone: TimeZoneRef<'_>) -> u32 {
    let utc_day = now - now % 86400;
    let Ok(local) = DateTime::from_timespec(i64::from(now), 0, zone) else {
        return utc_day;
    };
    // A midnight that a DST change skips maps to the transition instant,
    // as mktime() with tm_isdst = -1 does; a repeated one to its first
    // occurrence.
    DateTime::find(
        local.year(),
        local.month(),
        local.month_day(),
        0,
        0,
        0,
        0,
        zone,
    )
    .ok()
    .and_then(|found| found.earliest())
    .and_then(|start| u32::try_from(start.unix_time()).ok())
    .filter(|&start| start <= now)
    .unwrap_or(utc_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from glibc's localtime() and mktime() (tm_isdst = -1).
    #[test]
    fn matches_libc_mktime() {
        for (tz, now, start) in [
            ("UTC", 1_700_000_000, 1_699_920_000),
            ("America/New_York", 1_700_000_000, 1_699_938_000),
            ("Asia/Tokyo", 1_700_000_000, 1_699_974_000),
            ("Australia/Lord_Howe", 1_700_000_000, 1_699_966_800),
            // Midnight skipped by the 2018 DST start in Brazil.
            ("America/Sao_Paulo", 1_541_332_800, 1_541_300_400),
            // The day of a DST start in Europe, after the change.
            ("Europe/Berlin", 1_711_846_800, 1_711_839_600),
            ("CET-1CEST,M3.5.0,M10.5.0/3", 1_711_846_800, 1_711_839_600),
        ] {
            assert_eq!(day_start_in_zone(now, tz).unwrap(), start, "{tz}");
        }
    }

    #[test]
    fn a_bad_zone_is_an_error() {
        assert!(day_start_in_zone(1, "").is_err());
        assert!(day_start_in_zone(1, "Not/A_Zone+bogus!").is_err());
    }

    #[test]
    fn before_the_first_local_midnight_falls_back_to_utc() {
        assert_eq!(day_start_in_zone(3600, "America/New_York").unwrap(), 0);
    }
}
