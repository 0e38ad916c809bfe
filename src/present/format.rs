//! Times and durations as the collector's pages write them.

use time::OffsetDateTime;
use time::macros::format_description;

/// A time as `2026-01-15 12:00 UTC` (`?` out of range).
pub fn fmt_time(ms: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "?".into())
}

/// Unix ms of an RFC 3339 time (`None`: not one, or out of range).
pub fn rfc3339_ms(t: &str) -> Option<i64> {
    let at = OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A time of day as `12:00:00 UTC`.
pub fn fmt_clock(ms: i64) -> String {
    let fmt = format_description!("[hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// A time of day as a chart's axis names it: `12:00`.
pub fn fmt_hm(ms: i64) -> String {
    let fmt = format_description!("[hour]:[minute]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// A day as a chart's axis names it: `Thu 15`.
pub fn fmt_day(ms: i64) -> String {
    let fmt = format_description!("[weekday repr:short] [day padding:none]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// A short duration for people: `42 s`, `5 min`, `3 h 10 min`, `2 d 4 h`.
pub fn fmt_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => match (s % 3600) / 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => match (s % 86_400) / 3600 {
            0 => format!("{} d", s / 86_400),
            h => format!("{} d {h} h", s / 86_400),
        },
    }
}
