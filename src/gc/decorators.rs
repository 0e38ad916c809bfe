//! Splits a unified-logging line into its decorators (`[...]` prefixes) and
//! its message, for any decorator set the JVM may have been given, and reads
//! the time decorators only when asked (most lines never need them).

use memchr::memchr;

use super::event::Stamp;

/// At most this many decorators exist (time, utctime, uptime, timemillis,
/// uptimemillis, timenanos, uptimenanos, hostname, pid, tid, level, tags).
const MAX_GROUPS: usize = 12;

/// A line split into decorator groups and message; borrows the line.
pub struct Decorated<'a> {
    line: &'a [u8],
    groups: [(usize, usize); MAX_GROUPS],
    n: usize,
    /// The message: everything after the decorators and their separating space.
    pub msg: &'a [u8],
}

impl<'a> Decorated<'a> {
    /// Splits `line`. A bracketed group counts as a decorator only when it is
    /// immediately followed by another `[` or by the separating space (or the
    /// end of the line), which is how the JVM writes them; anything else is
    /// the start of the message.
    pub fn split(line: &'a [u8]) -> Decorated<'a> {
        let mut groups = [(0usize, 0usize); MAX_GROUPS];
        let mut n = 0;
        let mut pos = 0;
        while n < MAX_GROUPS && line.get(pos) == Some(&b'[') {
            let Some(rel) = find_close(&line[pos + 1..]) else {
                break;
            };
            let close = pos + 1 + rel;
            match line.get(close + 1) {
                None | Some(b'[') | Some(b' ') => {}
                Some(_) => break,
            }
            groups[n] = (pos + 1, close);
            n += 1;
            pos = close + 1;
        }
        if n > 0 && line.get(pos) == Some(&b' ') {
            pos += 1;
        }
        Decorated {
            line,
            groups,
            n,
            msg: &line[pos.min(line.len())..],
        }
    }

    fn group(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.groups[i];
        &self.line[s..e]
    }

    /// The tag set (`gc`, `gc,start`, ...) without its padding, when the line
    /// carries the `tags` decorator. Tags are always the last decorator.
    pub fn tags(&self) -> Option<&'a [u8]> {
        if self.n == 0 {
            return None;
        }
        let g = trim_end(self.group(self.n - 1));
        // After a level only tags may follow, so any tag-shaped group is
        // tags there, whatever its first tag (the JVM has some 250).
        let after_level = || self.n >= 2 && is_level(trim_end(self.group(self.n - 2)));
        (is_tag_set(g) || (is_tag_chars(g) && after_level())).then_some(g)
    }

    /// The last decorator group as written (tags, when the log has them).
    pub fn last_group(&self) -> Option<&'a [u8]> {
        (self.n > 0).then(|| self.group(self.n - 1))
    }

    /// The `level` decorator (`info`, `debug`, ...), when present.
    pub fn level(&self) -> Option<&'a [u8]> {
        (0..self.n)
            .map(|i| trim_end(self.group(i)))
            .find(|g| is_level(g))
    }

    /// The time decorators of this line: wall clock from `time`, `utctime`,
    /// `timemillis` or `timenanos`; uptime from `uptime`, `uptimemillis` or
    /// `uptimenanos`. Unknown groups (hostname, pid, tid, level) are skipped.
    pub fn stamp(&self) -> Stamp {
        let mut st = Stamp::default();
        for i in 0..self.n {
            let g = trim_end(self.group(i));
            match classify_time(g) {
                Some(TimeValue::Wall(ms)) => {
                    st.wall_ms.get_or_insert(ms);
                }
                Some(TimeValue::Uptime(ms)) => {
                    st.uptime_ms.get_or_insert(ms);
                }
                None => {}
            }
        }
        st
    }

    /// Number of decorator groups found.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the line has no decorators (`-Xlog:...:none`).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// Finds `]`: decorators are short, so eight bytes at a time (SWAR)
/// beats `memchr`'s set-up cost per call; longer text falls back to it.
#[inline]
fn find_close(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const PAT: u64 = LO * b']' as u64;
    const SHORT: usize = 64;
    let mut i = 0;
    while i + 8 <= s.len().min(SHORT) {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[i..i + 8]);
        let x = u64::from_le_bytes(word) ^ PAT;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if s.len() > SHORT && i >= SHORT {
        return memchr(b']', &s[i..]).map(|j| i + j);
    }
    s[i..].iter().position(|&b| b == b']').map(|j| i + j)
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' '] = s {
        s = rest;
    }
    s
}

fn is_level(g: &[u8]) -> bool {
    const LEVELS: &[&[u8]] = &[b"trace", b"debug", b"info", b"warning", b"error"];
    LEVELS.contains(&g)
}

/// Lower-case words joined by commas.
fn is_tag_chars(g: &[u8]) -> bool {
    !g.is_empty()
        && g.iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b',' || b == b'_')
}

/// Tag sets are lower-case words joined by commas; the first word is one
/// of the JVM's tags. Requiring a known first tag keeps a `hostname` or a
/// level from being taken for tags.
fn is_tag_set(g: &[u8]) -> bool {
    if !is_tag_chars(g) || is_level(g) {
        return false;
    }
    let first = g.split(|&b| b == b',').next().unwrap_or(g);
    const FIRST_TAGS: &[&[u8]] = &[
        b"gc",
        b"safepoint",
        b"os",
        b"cds",
        b"class",
        b"metaspace",
        b"jit",
        b"jni",
        b"heap",
        b"ref",
        b"logging",
        b"startuptime",
        b"codecache",
        b"monitorinflation",
        b"biasedlocking",
        b"vmoperation",
        b"pagesize",
        b"exceptions",
        b"stringdedup",
        b"nmt",
        b"init",
        b"jfr",
        b"module",
        b"handshake",
        b"thread",
        b"cpu",
        b"task",
        b"phases",
        b"ergo",
        b"age",
        b"marking",
        b"start",
        b"alloc",
        b"humongous",
    ];
    FIRST_TAGS.contains(&first)
}

enum TimeValue {
    Wall(i64),
    Uptime(f64),
}

/// Epoch milliseconds above this are wall-clock time, below are uptime
/// (1e11 ms is 1973 as a date and 3 years as an uptime).
const WALL_THRESHOLD_MS: u64 = 100_000_000_000;

fn classify_time(g: &[u8]) -> Option<TimeValue> {
    let first = *g.first()?;
    if !first.is_ascii_digit() {
        return None;
    }
    if g.len() >= 19 && g.get(10) == Some(&b'T') && g.get(4) == Some(&b'-') {
        return parse_iso(g).map(TimeValue::Wall);
    }
    if let Some(num) = g.strip_suffix(b"ms") {
        let v = parse_uint(num)?;
        return Some(if v >= WALL_THRESHOLD_MS {
            TimeValue::Wall(v as i64)
        } else {
            TimeValue::Uptime(v as f64)
        });
    }
    if let Some(num) = g.strip_suffix(b"ns") {
        let v = parse_uint(num)?;
        return Some(if v / 1_000_000 >= WALL_THRESHOLD_MS {
            TimeValue::Wall((v / 1_000_000) as i64)
        } else {
            TimeValue::Uptime(v as f64 / 1e6)
        });
    }
    if let Some(num) = g.strip_suffix(b"s") {
        return parse_decimal(num).map(|s| TimeValue::Uptime(s * 1000.0));
    }
    None
}

/// Parses an unsigned decimal integer; `None` on anything else or overflow.
pub fn parse_uint(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    Some(v)
}

/// Parses `123`, `1.5`, `0,522` (a comma-decimal locale) into a float.
pub fn parse_decimal(s: &[u8]) -> Option<f64> {
    let sep = s.iter().position(|&b| b == b'.' || b == b',');
    let (int, frac) = match sep {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &b""[..]),
    };
    let iv = if int.is_empty() { 0 } else { parse_uint(int)? };
    if frac.is_empty() {
        return if int.is_empty() {
            None
        } else {
            Some(iv as f64)
        };
    }
    let fv = parse_uint(frac)?;
    Some(iv as f64 + fv as f64 / POW10.get(frac.len()).copied().unwrap_or(f64::INFINITY))
}

const POW10: [f64; 20] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19,
];

fn digits(s: &[u8], from: usize, n: usize) -> Option<i64> {
    parse_uint(s.get(from..from + n)?).map(|v| v as i64)
}

/// Parses `2026-11-24T19:18:30.680+0000` (the `time`/`utctime` decorators;
/// also the JDK 8 date stamp) into epoch milliseconds.
pub fn parse_iso(g: &[u8]) -> Option<i64> {
    let y = digits(g, 0, 4)?;
    let mo = digits(g, 5, 2)?;
    let d = digits(g, 8, 2)?;
    let h = digits(g, 11, 2)?;
    let mi = digits(g, 14, 2)?;
    let s = digits(g, 17, 2)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut pos = 19;
    let mut ms = 0;
    if g.get(pos) == Some(&b'.') {
        let start = pos + 1;
        let mut end = start;
        while g.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let frac = &g[start..end];
        let take = frac.len().min(3);
        ms = parse_uint(&frac[..take]).unwrap_or(0) as i64 * [100, 10, 1][take.max(1) - 1];
        if take == 0 {
            ms = 0;
        }
        pos = end;
    }
    let offset_min = match g.get(pos) {
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(g, pos + 1, 2)?;
            let om_pos = if g.get(pos + 3) == Some(&b':') {
                pos + 4
            } else {
                pos + 3
            };
            let om = digits(g, om_pos, 2).unwrap_or(0);
            let v = oh * 60 + om;
            if sign == b'-' { -v } else { v }
        }
        _ => 0,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_min * 60;
    Some(secs * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_every_decorator_family() {
        let l = b"[2026-11-24T19:18:37.015+0000][2967926ns][15263][15264][info][gc,start    ] GC(0) Pause";
        let d = Decorated::split(l);
        assert_eq!(d.len(), 6);
        assert_eq!(d.msg, b"GC(0) Pause");
        assert_eq!(d.tags(), Some(&b"gc,start"[..]));
        let st = d.stamp();
        assert_eq!(st.wall_ms, Some(1_795_547_917_015));
        assert!((st.uptime_ms.unwrap_or(0.0) - 2.967926).abs() < 1e-9);
    }

    #[test]
    fn millis_nanos_and_none() {
        let d = Decorated::split(b"[1795547917015ms][28ms] Using G1");
        let st = d.stamp();
        assert_eq!(st.wall_ms, Some(1_795_547_917_015));
        assert_eq!(st.uptime_ms, Some(28.0));
        assert_eq!(d.tags(), None);
        let d = Decorated::split(b"Using G1");
        assert!(d.is_empty());
        assert_eq!(d.msg, b"Using G1");
        let d = Decorated::split(b"[0.522s][info][gc] x");
        assert_eq!(d.stamp().uptime_ms, Some(522.0));
        assert_eq!(d.tags(), Some(&b"gc"[..]));
        // A message that itself starts with a bracket is not a decorator.
        let d = Decorated::split(b"[weird]text");
        assert_eq!(d.msg, b"[weird]text");
        let d = Decorated::split(b"[unterminated");
        assert_eq!(d.msg, b"[unterminated");
    }

    #[test]
    fn hostname_is_not_tags() {
        let d = Decorated::split(b"[broker-1] Using G1");
        assert_eq!(d.tags(), None);
        assert!(d.stamp().is_empty());
    }

    #[test]
    fn find_close_everywhere() {
        for len in 0..200 {
            for at in 0..len {
                let mut v = vec![b'a'; len];
                v[at] = b']';
                if at + 1 < len {
                    v[at + 1] = b']';
                }
                assert_eq!(find_close(&v), Some(at), "len {len} at {at}");
            }
            assert_eq!(find_close(&vec![b'a'; len]), None);
        }
        // High bytes must not look like a match.
        assert_eq!(find_close(&[0xdd, 0x5c, 0x5e, 0xff, 0x80, 0x5d]), Some(5));
    }

    #[test]
    fn iso_offsets() {
        assert_eq!(parse_iso(b"1970-01-01T00:00:00.000+0000"), Some(0));
        assert_eq!(parse_iso(b"1970-01-01T01:00:00.001+0100"), Some(1));
        assert_eq!(
            parse_iso(b"2022-11-10T03:37:29.443-0800"),
            Some(1_668_080_249_443)
        );
        assert_eq!(parse_iso(b"2022-13-10T03:37:29.443-0800"), None);
    }
}
