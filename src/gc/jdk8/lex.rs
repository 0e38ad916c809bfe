//! Byte-level scanning helpers for JDK 7/8 G1 log lines: numbers (with a
//! `.` or a locale's `,` as decimal separator), memory sizes, heap
//! transitions, date and uptime stamps. Nothing here allocates or panics; every
//! function takes arbitrary bytes and answers `None` when they do not fit.

use crate::gc::event::{HeapChange, Stamp};

/// Removes leading ASCII whitespace.
pub(super) fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

/// Removes trailing ASCII whitespace (also a `\r` left by CRLF files).
pub(super) fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    &s[..s.len() - n]
}

/// Parses `123`, `0.0029120` or `0,0029120` (JVMs running under a locale with
/// a decimal comma print that) at the start of `s`. A `,` or `.` counts as the
/// decimal separator only when a digit follows, so `0.5, next` stops at the
/// comma. Returns the value and the bytes consumed.
pub(super) fn decimal(s: &[u8]) -> Option<(f64, usize)> {
    decimal_scaled(s, 0)
}

/// Like [`decimal`], multiplied by `10^exp` (3 turns seconds into
/// milliseconds). The digits are gathered into one integer and scaled by a
/// single multiplication or division, so `0.0029120` seconds is exactly the
/// closest double to `2.912` ms, not `2.9120000000000004`.
pub(super) fn decimal_scaled(s: &[u8], exp: i32) -> Option<(f64, usize)> {
    let mut i = 0;
    // Exact while below 2^53 (15 digits); longer numbers are garbage anyway.
    let mut mantissa = 0.0f64;
    while i < s.len() && s[i].is_ascii_digit() {
        mantissa = mantissa * 10.0 + f64::from(s[i] - b'0');
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut fraction_digits = 0i32;
    if i + 1 < s.len() && (s[i] == b'.' || s[i] == b',') && s[i + 1].is_ascii_digit() {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            mantissa = mantissa * 10.0 + f64::from(s[i] - b'0');
            fraction_digits = fraction_digits.saturating_add(1);
            i += 1;
        }
    }
    let e = exp - fraction_digits;
    let value = if e >= 0 {
        mantissa * 10f64.powi(e)
    } else {
        mantissa / 10f64.powi(-e)
    };
    // No size, uptime or duration in a GC log comes near 1e18; refusing
    // larger values keeps infinities and overflowing sums out of events.
    (value <= 1e18).then_some((value, i))
}

/// Parses a whole unsigned integer at the start of `s` (saturating, so a
/// 40-digit garbage number cannot overflow).
pub(super) fn integer(s: &[u8]) -> Option<(u64, usize)> {
    let mut i = 0;
    let mut value = 0u64;
    while i < s.len() && s[i].is_ascii_digit() {
        value = value
            .saturating_mul(10)
            .saturating_add(u64::from(s[i] - b'0'));
        i += 1;
    }
    (i > 0).then_some((value, i))
}

/// Parses a size as HotSpot prints it (`24.0M`, `5965.3K`, `0.0B`, `16.3G`,
/// `3758K`) into KiB, rounded to the nearest KiB.
pub(super) fn size_kb(s: &[u8]) -> Option<(u64, usize)> {
    let (value, n) = decimal(s)?;
    let factor = match s.get(n)? {
        b'B' => 1.0 / 1024.0,
        b'K' => 1.0,
        b'M' => 1024.0,
        b'G' => 1024.0 * 1024.0,
        b'T' => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    // `as` saturates for out-of-range floats, which is what garbage deserves.
    Some(((value * factor).round() as u64, n + 1))
}

/// Parses `SIZE(SIZE)` or `SIZE` at the start of `s`: the size and, when
/// present, the capacity in parentheses.
fn size_with_capacity(s: &[u8]) -> Option<(u64, Option<u64>, usize)> {
    let (size, mut i) = size_kb(s)?;
    if s.get(i) == Some(&b'(') {
        let (cap, n) = size_kb(&s[i + 1..])?;
        if s.get(i + 1 + n) != Some(&b')') {
            return None;
        }
        i += n + 2;
        return Some((size, Some(cap), i));
    }
    Some((size, None, i))
}

/// Parses a heap transition at the start of `s`: `24.0M(256.0M)->5965.3K(256.0M)`
/// (the `[Eden: ...]` line's `Heap:` part) or `200M->150M(256M)` (`Full GC`,
/// `GC cleanup`). The capacity is the one after the pause.
pub(super) fn heap_transition(s: &[u8]) -> Option<(HeapChange, usize)> {
    let (before_kb, _, i) = size_with_capacity(s)?;
    if !s[i..].starts_with(b"->") {
        return None;
    }
    let (after_kb, capacity, n) = size_with_capacity(&s[i + 2..])?;
    Some((
        HeapChange {
            before_kb,
            after_kb,
            capacity_kb: capacity?,
        },
        i + 2 + n,
    ))
}

/// Parses the heap transition whose `->` sits at `arrow` in `s`, walking
/// backwards over the size before it (used while scanning a pause's body,
/// where the transition comes after nested records of varying shape).
pub(super) fn heap_transition_at(s: &[u8], arrow: usize) -> Option<HeapChange> {
    let mut start = arrow;
    // An optional `(capacity)` before the arrow.
    if start > 0 && s[start - 1] == b')' {
        let open = memchr::memrchr(b'(', &s[..start - 1])?;
        start = open;
    }
    // The unit letter, then the number.
    if start == 0 || !matches!(s[start - 1], b'B' | b'K' | b'M' | b'G' | b'T') {
        return None;
    }
    start -= 1;
    while start > 0
        && (s[start - 1].is_ascii_digit() || s[start - 1] == b'.' || s[start - 1] == b',')
    {
        start -= 1;
    }
    // A separator left at the front (`x,17M->`) is not part of the number.
    while start < arrow && !s[start].is_ascii_digit() {
        start += 1;
    }
    heap_transition(&s[start..]).map(|(h, _)| h)
}

/// The duration in milliseconds of the record closed by the `]` at `close`:
/// the `N secs` right before it (`, 0.0029120 secs]`).
pub(super) fn secs_before(s: &[u8], close: usize) -> Option<f64> {
    let head = trim_end(&s[..close]);
    let head = head.strip_suffix(b"secs")?;
    let head = trim_end(head);
    let mut start = head.len();
    while start > 0
        && (head[start - 1].is_ascii_digit() || head[start - 1] == b'.' || head[start - 1] == b',')
    {
        start -= 1;
    }
    while start < head.len() && !head[start].is_ascii_digit() {
        start += 1;
    }
    let (ms, n) = decimal_scaled(&head[start..], 3)?;
    (start + n == head.len()).then_some(ms)
}

/// The length of a HotSpot date stamp: `2014-06-25T10:00:00.123+0200`.
pub(super) const DATE_LEN: usize = 28;

/// Parses a `-XX:+PrintGCDateStamps` date at the start of `s` into
/// milliseconds since the Unix epoch (UTC), honouring the zone offset.
pub(super) fn date_ms(s: &[u8]) -> Option<i64> {
    let d = s.get(..DATE_LEN)?;
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &b in &d[range] {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        Some(v)
    };
    if d[4] != b'-' || d[7] != b'-' || d[10] != b'T' || d[13] != b':' || d[16] != b':' {
        return None;
    }
    if d[19] != b'.' && d[19] != b',' {
        return None;
    }
    let sign = match d[23] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second, milli) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    let (off_h, off_m) = (num(24..26)?, num(26..28)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local_ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli;
    Some(local_ms - sign * (off_h * 60 + off_m) * 60_000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm; exact for every year a log can carry).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses the decorations a JDK 8 line may start with: a date
/// (`PrintGCDateStamps`), an uptime in seconds (`PrintGCTimeStamps`), or both,
/// each followed by `: `. Returns the stamp and the bytes consumed (0 when the
/// line starts with neither).
pub(super) fn stamp(s: &[u8]) -> (Stamp, usize) {
    let mut stamp = Stamp::default();
    let mut i = 0;
    if let Some(ms) = date_ms(s) {
        if s.get(DATE_LEN) == Some(&b':') {
            stamp.wall_ms = Some(ms);
            i = DATE_LEN + 1;
            while s.get(i) == Some(&b' ') {
                i += 1;
            }
        }
    }
    if let Some((ms, n)) = decimal_scaled(&s[i..], 3) {
        if s.get(i + n) == Some(&b':') {
            stamp.uptime_ms = Some(ms);
            i += n + 1;
            while s.get(i) == Some(&b' ') {
                i += 1;
            }
        }
    }
    i += gc_id_len(&s[i..]);
    (stamp, i)
}

/// The length of a `-XX:+PrintGCID` prefix (`#12: `) at the start of `s`,
/// 0 when there is none. JDK 8u20+ prints it after the stamps and before the
/// record, so it is read as part of the stamp.
pub(super) fn gc_id_len(s: &[u8]) -> usize {
    if s.first() != Some(&b'#') {
        return 0;
    }
    let digits = s[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || s.get(1 + digits) != Some(&b':') {
        return 0;
    }
    let mut i = 2 + digits;
    while s.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// The start of a `#12: ` PrintGCID prefix that ends right before `end`
/// (`end` itself when there is none), so the stamp before it can be read.
fn before_gc_id(s: &[u8], end: usize) -> usize {
    let mut i = end;
    while i > 0 && s[i - 1] == b' ' {
        i -= 1;
    }
    if i == 0 || s[i - 1] != b':' {
        return end;
    }
    let colon = i - 1;
    let mut j = colon;
    while j > 0 && s[j - 1].is_ascii_digit() {
        j -= 1;
    }
    if j < colon && j > 0 && s[j - 1] == b'#' {
        j - 1
    } else {
        end
    }
}

/// Parses the stamp that ends right before `at` (`... 21306.681: [GC
/// concurrent-...`), for records printed in the middle of another line.
pub(super) fn stamp_before(s: &[u8], at: usize) -> Stamp {
    let mut end = before_gc_id(s, at.min(s.len()));
    while end > 0 && s[end - 1] == b' ' {
        end -= 1;
    }
    if end == 0 || s[end - 1] != b':' {
        return Stamp::default();
    }
    let colon = end - 1;
    // Date only.
    if colon >= DATE_LEN {
        if let Some(ms) = date_ms(&s[colon - DATE_LEN..colon]) {
            return Stamp {
                wall_ms: Some(ms),
                uptime_ms: None,
            };
        }
    }
    let mut start = colon;
    while start > 0
        && (s[start - 1].is_ascii_digit() || s[start - 1] == b'.' || s[start - 1] == b',')
    {
        start -= 1;
    }
    while start < colon && !s[start].is_ascii_digit() {
        start += 1;
    }
    let mut stamp = Stamp::default();
    match decimal_scaled(&s[start..colon], 3) {
        Some((ms, n)) if start + n == colon => stamp.uptime_ms = Some(ms),
        _ => return stamp,
    }
    // A date before the uptime: `DATE: UPTIME: `.
    let mut d_end = start;
    while d_end > 0 && s[d_end - 1] == b' ' {
        d_end -= 1;
    }
    if d_end > DATE_LEN && s[d_end - 1] == b':' {
        stamp.wall_ms = date_ms(&s[d_end - 1 - DATE_LEN..d_end - 1]);
    }
    stamp
}

/// Adds a duration to a stamp (a JDK 8 pause is stamped when it starts; the
/// event model stamps pauses when they end).
pub(super) fn stamp_plus(stamp: Stamp, duration_ms: f64) -> Stamp {
    Stamp {
        wall_ms: stamp
            .wall_ms
            .map(|w| w.saturating_add(duration_ms.round() as i64)),
        uptime_ms: stamp.uptime_ms.map(|u| u + duration_ms),
    }
}

/// Finds the `)` matching the `(` at `s[0]`, allowing nested parentheses
/// (`(System.gc())`). Returns its index.
pub(super) fn matching_paren(s: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in s.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// True if `needle` occurs in `hay`.
pub(super) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_with_point_or_comma() {
        assert_eq!(decimal(b"0.0029120 secs"), Some((0.002912, 9)));
        assert_eq!(decimal(b"0,5"), Some((0.5, 3)));
        assert_eq!(decimal(b"12, next"), Some((12.0, 2)));
        assert_eq!(decimal(b"x"), None);
    }

    #[test]
    fn sizes_in_kib() {
        assert_eq!(size_kb(b"24.0M("), Some((24 * 1024, 5)));
        assert_eq!(size_kb(b"5965.3K"), Some((5965, 7)));
        assert_eq!(size_kb(b"0.0B"), Some((0, 4)));
        assert_eq!(size_kb(b"1.5G"), Some((1_572_864, 4)));
        assert_eq!(size_kb(b"2486,0M"), Some((2486 * 1024, 7)));
        assert_eq!(size_kb(b"12"), None);
    }

    #[test]
    fn heap_transitions() {
        let (h, n) = heap_transition(b"24.0M(256.0M)->5965.3K(256.0M)]").unwrap();
        assert_eq!(
            (h.before_kb, h.after_kb, h.capacity_kb, n),
            (24576, 5965, 262_144, 30)
        );
        let (h, _) = heap_transition(b"17M->3758K(13M), 0.02 secs]").unwrap();
        assert_eq!(
            (h.before_kb, h.after_kb, h.capacity_kb),
            (17408, 3758, 13312)
        );
        let s = b"GC0.1: [x] 17M->3758K(13M), 0.02 secs]";
        let arrow = memchr::memmem::find(s, b"->").unwrap();
        assert_eq!(heap_transition_at(s, arrow).unwrap().before_kb, 17408);
        assert_eq!(heap_transition(b"17M->3758K"), None);
    }

    #[test]
    fn durations_before_close() {
        let s = b", 0.0029120 secs]";
        assert_eq!(secs_before(s, s.len() - 1), Some(2.912));
        let s = b" (to-space exhausted), 0,5 secs]";
        assert_eq!(secs_before(s, s.len() - 1), Some(500.0));
        let s = b"[GC concurrent-mark-abort]";
        assert_eq!(secs_before(s, s.len() - 1), None);
    }

    #[test]
    fn dates_and_stamps() {
        assert_eq!(date_ms(b"1970-01-01T00:00:00.000+0000"), Some(0));
        assert_eq!(date_ms(b"1970-01-01T01:00:00.001+0100"), Some(1));
        assert_eq!(
            date_ms(b"2014-06-25T00:10:58.039+0000"),
            Some(1_403_655_058_039)
        );
        assert_eq!(
            date_ms(b"2014-08-01T09:04:46.201-0500"),
            Some(1_406_901_886_201)
        );
        assert_eq!(date_ms(b"2014-06-16T0,959: Application"), None);
        let (st, n) = stamp(b"2014-06-25T00:10:58.039+0000: 0.488: Total");
        assert_eq!(st.wall_ms, Some(1_403_655_058_039));
        assert_eq!(st.uptime_ms, Some(488.0));
        assert_eq!(n, 37);
        let (st, n) = stamp(b"215646,793: Application");
        assert_eq!((st.uptime_ms, n), (Some(215_646_793.0), 12));
        assert_eq!(stamp(b"9212M->4852M(27G)").1, 0);
        let s = b"[Full GC (Allocation Failure)21306.681: [GC concurrent";
        let at = memchr::memmem::find(s, b"[GC conc").unwrap();
        assert_eq!(stamp_before(s, at).uptime_ms, Some(21_306_681.0));
        let s = b"x 2014-06-25T00:10:58.039+0000: 0.5: [GC";
        let st = stamp_before(s, s.len() - 3);
        assert_eq!(
            (st.wall_ms, st.uptime_ms),
            (Some(1_403_655_058_039), Some(500.0))
        );
        let s = b"2014-06-25T00:10:58.039+0000: [GC";
        assert_eq!(
            stamp_before(s, s.len() - 3).wall_ms,
            Some(1_403_655_058_039)
        );
        assert!(stamp_before(b"[GC", 0).is_empty());
        // -XX:+PrintGCID puts `#N: ` between the stamp and the record.
        let (st, n) = stamp(b"2014-07-24T13:49:45.090+0400: 0.163: #0: [GC pause");
        assert_eq!((st.uptime_ms, n), (Some(163.0), 41));
        assert_eq!(stamp(b"0.5: #12: [GC").1, 10);
        assert_eq!(stamp(b"0.5: #x: [GC").1, 5);
        let s = b"[GC remark 1.504: #2: [Finalize";
        assert_eq!(stamp_before(s, s.len() - 9).uptime_ms, Some(1504.0));
    }
}
