//! The parser and sniffer never panic: every prefix of real lines (a write
//! cut off anywhere) and single-byte corruptions of them.

use std::io::Read;
use std::path::Path;

use tunekeeper::gc::detect::{line_time, sniff};
use tunekeeper::gc::parser::LineParser;
use tunekeeper::gc::stats::GcStats;
use tunekeeper::gc::unified::UnifiedParser;

fn lines(rel: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc")
        .join(rel);
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("fixture"))
        .read_to_end(&mut text)
        .expect("gunzip");
    // One of each shape is enough: dedupe on the first 40 bytes after decorators.
    let mut seen = std::collections::HashSet::new();
    text.split(|&b| b == b'\n')
        .filter(|l| {
            let key: Vec<u8> = l
                .iter()
                .rev()
                .take(60)
                .copied()
                .filter(|b| !b.is_ascii_digit())
                .collect();
            seen.insert(key)
        })
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn every_prefix_and_corruption_is_survived() {
    let mut p = UnifiedParser::new();
    let mut stats = GcStats::new();
    let mut feed = |l: &[u8]| {
        p.feed(l, &mut |e| stats.add(&e));
        let _ = line_time(l);
    };
    for rel in [
        "truth/jdk25/with-safepoints.log.gz",
        "truth/jdk11/small-heap-stress.log.gz",
        "truth/jdk17/deco-timemillis-timenanos-hostname.log.gz",
    ] {
        let ls = lines(rel);
        assert!(ls.len() > 20, "{rel}");
        for l in &ls {
            for cut in 0..=l.len() {
                feed(&l[..cut]);
            }
            for pos in (0..l.len()).step_by(3) {
                for b in [b'[', b']', b'(', b')', b' ', b'-', b'>', 0xff, b'0'] {
                    let mut m = l.clone();
                    m[pos] = b;
                    feed(&m);
                }
            }
        }
        let _ = sniff(&ls.concat());
    }
    let snap = stats.snapshot();
    assert!(snap.overall.count > 0);
    // Whatever came in, the figures stay finite and non-negative.
    for v in [
        snap.overall.total_ms,
        snap.overall.max_ms,
        snap.overall.p99_ms,
    ] {
        assert!(v.is_finite() && v >= 0.0, "{v}");
    }
    if let Some(r) = snap.gc_ms_per_second {
        assert!(r.is_finite() && r >= 0.0);
    }
}
