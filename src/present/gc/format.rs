//! Numbers, times and durations as the GC report writes them: plain text,
//! escaped by the templates like any other value.

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// `1234567` as `1,234,567`.
pub(super) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with the precision that matters at their size.
pub(super) fn ms(v: f64) -> String {
    if v >= 10_000.0 {
        group(v.round() as u64)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A rate, or `n/a` when the log cannot give it.
pub(super) fn opt(v: Option<f64>) -> String {
    v.map(sig).unwrap_or_else(|| "n/a".into())
}

/// A rate: like [`ms`], but small values keep two significant digits
/// (`0.00031`), where fixed decimals would round them to a false zero.
pub(super) fn sig(v: f64) -> String {
    if v == 0.0 || v >= 1.0 || !v.is_finite() {
        return ms(v);
    }
    let digits = ((-v.log10()).ceil() as usize + 1).min(8);
    format!("{v:.digits$}")
}

/// Time between pauses: ms while short, a duration once it is long.
pub(super) fn gap(v: f64) -> String {
    if v >= 10_000.0 {
        duration(v / 1000.0)
    } else {
        format!("{} ms", ms(v))
    }
}

/// Epoch milliseconds in UTC with the given format (`?` when out of range).
pub(super) fn utc(ms: i64, fmt: &[BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(fmt).ok())
        .unwrap_or_else(|| "?".into())
}

/// Epoch milliseconds as a UTC date and time to the millisecond.
pub(super) fn wall(ms: i64) -> String {
    utc(
        ms,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"),
    )
}

/// A duration for people: `42.0 s`, `5 min 3 s`, `3 h 10 min`, `2 d 4 h`.
pub(super) fn duration(s: f64) -> String {
    human_duration(s, ["min", "s", "h", "d"], " ")
}

/// A duration for a card: `42.0 s`, `4m 59s`, `3h 10m`, `2d 4h`.
pub(super) fn short_duration(s: f64) -> String {
    human_duration(s, ["m", "s", "h", "d"], "")
}

/// Two units of a duration, with the given unit names (minute, second,
/// hour, day) and the separator between number and unit.
fn human_duration(s: f64, [min, sec, hour, day]: [&str; 4], sep: &str) -> String {
    let secs = s.round() as i64;
    if s < 60.0 {
        format!("{s:.1} s")
    } else if secs < 3600 {
        format!("{}{sep}{min} {}{sep}{sec}", secs / 60, secs % 60)
    } else if secs < 86_400 {
        format!("{}{sep}{hour} {}{sep}{min}", secs / 3600, secs % 3600 / 60)
    } else {
        format!(
            "{}{sep}{day} {}{sep}{hour}",
            secs / 86_400,
            secs % 86_400 / 3600
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(ms(2.5), "2.50");
        assert_eq!(ms(31.4159), "31.4");
        assert_eq!(ms(314.159), "314");
        assert_eq!(ms(31_415.9), "31,416");
        assert_eq!(duration(42.0), "42.0 s");
        assert_eq!(sig(0.000_312), "0.00031");
        assert_eq!(sig(0.25), "0.25");
        assert_eq!(sig(0.001), "0.0010");
        assert_eq!(sig(0.0), "0.00");
        assert_eq!(sig(275.42), "275");
        assert_eq!(gap(12_776_153.0), "3 h 32 min");
        assert_eq!(duration(3.0 * 3600.0 + 600.0), "3 h 10 min");
        assert_eq!(short_duration(299.0), "4m 59s");
        assert_eq!(short_duration(2.0 * 86_400.0 + 4.0 * 3600.0), "2d 4h");
    }
}
