//! Integration tests of the JDK 7/8 G1 log parser through the public library
//! API only: hand-written exact fixtures, trimmed real logs, the corrupted
//! logs, and (when the shared corpus is present) the full public logs.
//!
//! There is no JVM-side truth for the public JDK 8 logs, so pause counts are
//! checked against an independent, grep-like count of the pause headers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tunekeeper::gc::event::{GcEvent, HeapChange, Pause, PauseKind};
use tunekeeper::gc::jdk8::{Jdk8Parser, UNKNOWN_CAUSE};
use tunekeeper::gc::parser::{LineOutcome, LineParser};

/// Everything a parse of one input produced.
#[derive(Debug, Default)]
struct Parsed {
    events: Vec<GcEvent>,
    lines: usize,
    unrecognised: Vec<String>,
    dropped: u64,
}

impl Parsed {
    fn pauses(&self) -> Vec<&Pause> {
        self.events
            .iter()
            .filter_map(|e| match e {
                GcEvent::Pause(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    fn pause_counts(&self) -> BTreeMap<PauseKind, usize> {
        let mut counts = BTreeMap::new();
        for p in self.pauses() {
            *counts.entry(p.kind).or_default() += 1;
        }
        counts
    }

    fn count(&self, f: impl Fn(&GcEvent) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }
}

fn parse(bytes: &[u8]) -> Parsed {
    let mut parser = Jdk8Parser::new();
    let mut parsed = Parsed::default();
    let mut events = Vec::new();
    // A final newline ends the last line; it does not start an empty one.
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for line in body.split(|&b| b == b'\n') {
        parsed.lines += 1;
        if parser.feed(line, &mut |e| events.push(e)) == LineOutcome::Unrecognised {
            parsed
                .unrecognised
                .push(String::from_utf8_lossy(line).into_owned());
        }
    }
    parser.finish(&mut |e| events.push(e));
    parsed.events = events;
    parsed.dropped = parser.dropped_pauses();
    parsed
}

fn parse_str(text: &str) -> Parsed {
    parse(text.as_bytes())
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gc/jdk8")
}

/// The pause headers of a log, counted by plain substring search, without
/// the parser's state machine: every `[GC pause` (kind from the parentheses
/// on the rest of its line), `[Full GC`, `[GC remark`, `[GC cleanup`.
fn independent_counts(bytes: &[u8]) -> BTreeMap<PauseKind, usize> {
    let text = String::from_utf8_lossy(bytes);
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        for (at, _) in line.match_indices("[GC pause") {
            let rest = &line[at..];
            let kind = if rest.contains("(initial-mark)") {
                PauseKind::ConcurrentStart
            } else if rest.contains("(mixed)") || rest.contains("(partial)") {
                PauseKind::Mixed
            } else {
                PauseKind::Young
            };
            *counts.entry(kind).or_default() += 1;
        }
        for (needle, kind) in [
            ("[Full GC", PauseKind::Full),
            ("[GC remark", PauseKind::Remark),
            ("[GC cleanup", PauseKind::Cleanup),
        ] {
            let n = line.matches(needle).count();
            if n > 0 {
                *counts.entry(kind).or_default() += n;
            }
        }
    }
    counts
}

/// Evacuation-failure markers and concurrent phase ends (or aborts), counted
/// by substring search like [`independent_counts`].
fn independent_evac_and_concurrent(bytes: &[u8]) -> (usize, usize) {
    let text = String::from_utf8_lossy(bytes);
    let evac = text
        .lines()
        .filter(|l| l.contains("(to-space exhausted)") || l.contains("(to-space overflow)"))
        .count();
    let concurrent = text
        .match_indices("[GC concurrent-")
        .filter(|(at, _)| {
            let rest = &text[*at..];
            let record = &rest[..rest.find(']').unwrap_or(rest.len())];
            record.contains("-end,") || record.ends_with("-abort")
        })
        .count();
    (evac, concurrent)
}

/// Checks every pause for sane values.
fn assert_sane(name: &str, parsed: &Parsed) {
    for p in parsed.pauses() {
        assert!(
            p.duration_ms.is_finite() && (0.0..3_600_000.0).contains(&p.duration_ms),
            "{name}: duration {p:?}"
        );
        assert!(!p.cause.is_empty(), "{name}: empty cause {p:?}");
        if let Some(h) = p.heap {
            assert!(h.capacity_kb > 0, "{name}: zero capacity {p:?}");
            assert!(
                h.before_kb < 1 << 40 && h.after_kb < 1 << 40,
                "{name}: heap {p:?}"
            );
        }
        if let Some(u) = p.at.uptime_ms {
            assert!(u.is_finite() && u >= 0.0, "{name}: uptime {p:?}");
        }
    }
    for e in &parsed.events {
        if let GcEvent::Concurrent(c) = e {
            assert!(
                c.duration_ms.is_finite() && c.duration_ms >= 0.0,
                "{name}: {c:?}"
            );
            assert!(c.name.starts_with("Concurrent "), "{name}: {c:?}");
        }
    }
}

fn summary(parsed: &Parsed) -> String {
    let counts: Vec<String> = parsed
        .pause_counts()
        .iter()
        .map(|(k, n)| format!("{}={n}", k.as_str()))
        .collect();
    format!(
        "lines={} unrecognised={} pauses[{}] concurrent={} humongous={} jvm_starts={} evac_failures={} dropped={}",
        parsed.lines,
        parsed.unrecognised.len(),
        counts.join(" "),
        parsed.count(|e| matches!(e, GcEvent::Concurrent(_))),
        parsed.count(|e| matches!(e, GcEvent::HumongousAllocation { .. })),
        parsed.count(|e| matches!(e, GcEvent::JvmStart(_))),
        parsed
            .pauses()
            .iter()
            .filter(|p| p.evacuation_failure)
            .count(),
        parsed.dropped,
    )
}

fn heap(before_kb: u64, after_kb: u64, capacity_kb: u64) -> Option<HeapChange> {
    Some(HeapChange {
        before_kb,
        after_kb,
        capacity_kb,
    })
}

// ---------------------------------------------------------------------------
// Exact, hand-written fixtures.
// ---------------------------------------------------------------------------

#[test]
fn young_pause_with_details_and_interleaving() {
    let parsed = parse(&std::fs::read(fixtures_dir().join("exact/young_interleaved.log")).unwrap());
    assert!(parsed.unrecognised.is_empty(), "{:?}", parsed.unrecognised);
    let pauses = parsed.pauses();
    assert_eq!(pauses.len(), 3, "{pauses:#?}");

    let p = pauses[0];
    assert_eq!(p.kind, PauseKind::Young);
    assert_eq!(p.cause, "G1 Evacuation Pause");
    assert_eq!(p.duration_ms, 5.252);
    assert_eq!(p.heap, heap(24 * 1024, 5965, 256 * 1024));
    assert!(!p.evacuation_failure);
    // Stamped at its end: 2014-06-25T10:00:00.123+0200 plus 5 ms.
    assert_eq!(p.at.wall_ms, Some(1_403_683_200_123 + 5));
    assert!((p.at.uptime_ms.unwrap() - (24_263.0 + 5.252)).abs() < 1e-6);

    let p = pauses[1];
    assert_eq!(p.kind, PauseKind::ConcurrentStart);
    assert_eq!(p.cause, "G1 Humongous Allocation");
    assert_eq!(p.duration_ms, 154.975);
    assert_eq!(p.heap, heap(1576 * 1024, 132_506, 2252 * 1024));

    let p = pauses[2];
    assert_eq!(p.kind, PauseKind::Mixed);
    assert_eq!(p.cause, "GCLocker Initiated GC");
    assert_eq!(p.duration_ms, 12.5);
    assert!(p.evacuation_failure);
    assert_eq!(p.heap, heap(510 * 1024 + 922, 510 * 1024 + 922, 512 * 1024));

    // The concurrent phases written between the header and its duration.
    let names: Vec<(&str, f64)> = parsed
        .events
        .iter()
        .filter_map(|e| match e {
            GcEvent::Concurrent(c) => Some((c.name.as_str(), c.duration_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("Concurrent Scan Root Regions", 4.033),
            ("Concurrent Mark", 12.3)
        ]
    );
    // One humongous event from the pause cause, one from the ergonomics line.
    assert_eq!(
        parsed.count(|e| matches!(e, GcEvent::HumongousAllocation { .. })),
        2
    );
}

#[test]
fn remark_cleanup_full_and_jdk7_style() {
    let parsed = parse(&std::fs::read(fixtures_dir().join("exact/jdk7_and_full.log")).unwrap());
    assert!(parsed.unrecognised.is_empty(), "{:?}", parsed.unrecognised);
    let pauses = parsed.pauses();
    let kinds: Vec<PauseKind> = pauses.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        vec![
            PauseKind::Young,
            PauseKind::Young,
            PauseKind::Remark,
            PauseKind::Cleanup,
            PauseKind::Full,
            PauseKind::Full,
            PauseKind::Full,
            PauseKind::ConcurrentStart,
        ]
    );
    // JDK 7: no cause printed.
    assert_eq!(pauses[0].cause, UNKNOWN_CAUSE);
    assert_eq!(pauses[0].duration_ms, 2.912);
    assert_eq!(pauses[0].heap, heap(24 * 1024, 5965, 256 * 1024));
    assert_eq!(pauses[0].at.wall_ms, None);
    // JDK 7 `(to-space overflow)` after tenuring output.
    assert!(pauses[1].evacuation_failure);
    assert_eq!(pauses[1].duration_ms, 262.976);
    // Remark: the total, not the nested ref-proc time.
    assert_eq!(pauses[2].duration_ms, 1.2345);
    assert_eq!(pauses[2].cause, UNKNOWN_CAUSE);
    assert_eq!(pauses[2].heap, None);
    // Cleanup carries its heap on the line.
    assert_eq!(pauses[3].duration_ms, 0.9);
    assert_eq!(pauses[3].heap, heap(200 * 1024, 150 * 1024, 256 * 1024));
    // Full GC: the `[Eden:` line's precise heap replaces the rounded one.
    assert_eq!(pauses[4].cause, "Allocation Failure");
    assert_eq!(pauses[4].duration_ms, 400.0);
    assert_eq!(pauses[4].heap, heap(204_800, 102_400 + 102, 262_144));
    assert_eq!(pauses[5].cause, "System.gc()");
    assert_eq!(pauses[5].duration_ms, 23.346);
    // Old style, no cause, reference processing inside, no `[Eden:` line.
    assert_eq!(pauses[6].cause, UNKNOWN_CAUSE);
    assert_eq!(pauses[6].duration_ms, 23.628);
    assert_eq!(pauses[6].heap, heap(17 * 1024, 3756, 13 * 1024));
    // Decimal commas (a JVM under a German locale).
    assert_eq!(pauses[7].duration_ms, 85.423);
    assert_eq!(
        pauses[7].heap,
        heap(4982 * 1024 + 307, 2498 * 1024 + 410, 5704 * 1024)
    );
    assert!((pauses[7].at.uptime_ms.unwrap() - (212_442_415.0 + 85.423)).abs() < 1e-3);

    let abort = parsed
        .events
        .iter()
        .find_map(|e| match e {
            GcEvent::Concurrent(c) if c.name == "Concurrent Mark Abort" => Some(c),
            _ => None,
        })
        .expect("abort");
    assert!((abort.duration_ms - 2_000.0).abs() < 1e-6);
}

#[test]
fn jvm_header_and_restart() {
    let parsed = parse(&std::fs::read(fixtures_dir().join("exact/restart.log")).unwrap());
    assert!(parsed.unrecognised.is_empty(), "{:?}", parsed.unrecognised);
    let starts: Vec<_> = parsed
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            GcEvent::JvmStart(j) => Some((i, j)),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 2);
    let (i0, first) = starts[0];
    assert_eq!(i0, 0, "the JVM start comes before its pauses");
    assert_eq!(first.version.as_deref(), Some("1.8.0_65-b17"));
    assert_eq!(first.collector.as_deref(), Some("G1"));
    assert_eq!(first.initial_heap_kb, Some(262_144));
    assert_eq!(first.max_heap_kb, Some(4_194_304));
    assert!(first.flags.iter().any(|f| f == "-XX:+UseG1GC"));
    assert_eq!(first.flags.len(), 8);
    let (i1, second) = starts[1];
    assert_eq!(second.version.as_deref(), Some("1.8.0_31-b13"));
    // The pause cut off by the restart is dropped, the one before it is kept.
    assert_eq!(parsed.dropped, 1);
    let before: Vec<_> = parsed.events[..i1]
        .iter()
        .filter(|e| matches!(e, GcEvent::Pause(_)))
        .collect();
    assert_eq!(before.len(), 1);
    assert_eq!(parsed.pauses().len(), 2);
}

#[test]
fn unknown_and_broken_lines_are_counted_not_fatal() {
    let text = "hello world\n\
                0.5: [GC pause (young)\n\
                this is not a log line\n\
                , 0.001 secs]\n\
                , 0.002 secs]\n\
                \u{fffd}\u{fffd}\n\
                1.0: \n\
                [Times: user=0.00 sys=0.00, real=0.00 secs]\n";
    let parsed = parse_str(text);
    assert_eq!(
        parsed.unrecognised,
        vec![
            "hello world",
            "this is not a log line",
            ", 0.002 secs]",
            "\u{fffd}\u{fffd}",
            "1.0: "
        ]
    );
    assert_eq!(parsed.pauses().len(), 1);
    assert_eq!(parsed.pauses()[0].duration_ms, 1.0);
    // Invalid UTF-8 and NULs.
    let parsed = parse(b"\xff\xfe[GC pause (\x00\n0.1: [GC pause (\xff) (young), 0.5 secs]\n");
    assert_eq!(parsed.pauses().len(), 1);
    assert_eq!(parsed.pauses()[0].cause, "\u{fffd}");
}

#[test]
fn pause_without_times_line_is_emitted_at_finish_or_next_pause() {
    // `-XX:+PrintGC` without details: one line per pause, heap on the line.
    let parsed = parse_str(
        "0.1: [GC pause (G1 Evacuation Pause) (young) 24M->5M(256M), 0.0029 secs]\n\
         0.2: [GC pause (G1 Evacuation Pause) (mixed) 30M->6M(256M), 0.0031 secs]\n",
    );
    assert!(parsed.unrecognised.is_empty());
    let pauses = parsed.pauses();
    assert_eq!(pauses.len(), 2);
    assert_eq!(pauses[0].heap, heap(24 * 1024, 5 * 1024, 256 * 1024));
    assert_eq!(pauses[1].kind, PauseKind::Mixed);
}

// ---------------------------------------------------------------------------
// Trimmed real logs and the corrupted logs.
// ---------------------------------------------------------------------------

fn fixture_logs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["real", "corrupted"] {
        let dir = fixtures_dir().join(dir);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    files
}

#[test]
fn trimmed_real_logs_match_the_independent_count() {
    let files = fixture_logs();
    assert!(files.len() >= 10, "{files:?}");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let parsed = parse(&bytes);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        println!("{name}: {}", summary(&parsed));
        for line in &parsed.unrecognised {
            println!("    unrecognised: {line}");
        }
        assert_sane(&name, &parsed);
        let expected = independent_counts(&bytes);
        let got = parsed.pause_counts();
        if path.parent().unwrap().ends_with("real") {
            assert!(
                parsed.unrecognised.is_empty(),
                "{name}: {:?}",
                parsed.unrecognised
            );
            assert_eq!(parsed.dropped, 0, "{name}");
            assert_eq!(got, expected, "{name}");
        } else {
            // Corrupted logs: whatever is emitted was announced by a header.
            for (kind, n) in &got {
                assert!(
                    expected.get(kind).copied().unwrap_or(0) >= *n,
                    "{name}: {got:?} vs {expected:?}"
                );
            }
        }
    }
}

#[test]
fn corrupted_logs_give_what_can_be_trusted() {
    let dir = fixtures_dir().join("corrupted");
    let read = |n: &str| parse(&std::fs::read(dir.join(n)).unwrap());

    // A date cut off inside: the line is still an Application time line.
    let p = read("broken_datetimestamp.log");
    assert!(p.unrecognised.is_empty(), "{:?}", p.unrecognised);

    // The Full GC interrupted by two concurrent phases is one pause with its
    // own duration, and the abort is a concurrent phase.
    let p = read("full_concurrent_mark_failure.log");
    assert!(p.unrecognised.is_empty(), "{:?}", p.unrecognised);
    let pauses = p.pauses();
    assert_eq!(pauses.len(), 2);
    assert_eq!(pauses[0].kind, PauseKind::ConcurrentStart);
    assert_eq!(pauses[0].duration_ms, 223.725);
    assert_eq!(pauses[1].kind, PauseKind::Full);
    assert_eq!(pauses[1].cause, "Allocation Failure");
    assert_eq!(pauses[1].duration_ms, 18_195.941);
    assert_eq!(pauses[1].heap, heap(9_433_395, 4_969_062, 29_150_413));
    let concurrent: Vec<&str> = p
        .events
        .iter()
        .filter_map(|e| match e {
            GcEvent::Concurrent(c) => Some(c.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        concurrent,
        vec!["Concurrent Scan Root Regions", "Concurrent Mark Abort"]
    );

    // The pause header is missing: no pause can be attributed; the orphan
    // duration line and the cut tenuring line are shown as unrecognised.
    let p = read("no_young_intro.log");
    assert_eq!(p.pauses().len(), 0);
    assert_eq!(p.unrecognised, vec!["17464 total", ", 0,0854230 secs]"]);

    // A line cut mid-write; the clock running backwards is not an error.
    let p = read("rollsbackclock.log");
    assert_eq!(
        p.unrecognised,
        vec![
            "2014-06-16T07:57:15.207+0200: 30285,518: cation threads were stopped: 0,0002170 seconds"
        ]
    );
}

// ---------------------------------------------------------------------------
// The full public corpus, when present.
// ---------------------------------------------------------------------------

fn corpus_dir() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        PathBuf::from("/work/shared/corpus/gc-public"),
        manifest.join("../shared/corpus/gc-public"),
    ]
    .into_iter()
    .find(|p| p.join("jdk8").is_dir())
}

#[test]
fn full_public_logs() {
    let Some(corpus) = corpus_dir() else {
        println!(
            "skipped: no gc-public corpus at /work/shared/corpus/gc-public or ../shared/corpus/gc-public"
        );
        return;
    };
    let mut total_unrecognised = 0;
    for sub in ["jdk8", "jdk8-corrupted"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let bytes = std::fs::read(&path).unwrap();
            let started = std::time::Instant::now();
            let parsed = parse(&bytes);
            let elapsed = started.elapsed();
            let name = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
            println!(
                "{name}: {} ({:.1} MB/s in this test build)",
                summary(&parsed),
                bytes.len() as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
            );
            for line in parsed.unrecognised.iter().take(10) {
                println!("    unrecognised: {line}");
            }
            assert_sane(&name, &parsed);
            let expected = independent_counts(&bytes);
            let got = parsed.pause_counts();
            println!("    independent count: {expected:?}");
            if sub == "jdk8" {
                total_unrecognised += parsed.unrecognised.len();
                assert_eq!(parsed.dropped, 0, "{name}");
                assert_eq!(got, expected, "{name}");
                let (evac, concurrent) = independent_evac_and_concurrent(&bytes);
                let got_evac = parsed
                    .pauses()
                    .iter()
                    .filter(|p| p.evacuation_failure)
                    .count();
                let got_concurrent = parsed.count(|e| matches!(e, GcEvent::Concurrent(_)));
                assert_eq!((got_evac, got_concurrent), (evac, concurrent), "{name}");
            }
        }
    }
    assert_eq!(total_unrecognised, 0, "unrecognised lines in the real logs");
}

// ---------------------------------------------------------------------------
// Robustness without a fuzzer: mutated fixture lines (the cargo-fuzz target
// in fuzz/ goes further; this runs on stable in every `cargo test`).
// ---------------------------------------------------------------------------

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_lines_never_panic_or_emit_nonsense() {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for dir in ["exact", "corrupted"] {
        for entry in std::fs::read_dir(fixtures_dir().join(dir)).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            lines.extend(bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec));
        }
    }
    const TOKENS: &[&[u8]] = &[
        b"[",
        b"]",
        b"(",
        b")",
        b", ",
        b": ",
        b"->",
        b" secs]",
        b"0,5",
        b"99999999999999999999999999999",
        b"1.5G",
        b"[GC pause (",
        b"[Full GC",
        b"[GC remark ",
        b"[GC concurrent-mark-abort]",
        b"[GC concurrent-mark-end, 1e9 secs]",
        b"[G1Ergonomics humongous allocation]",
        b"[Eden: Heap: 1M(2M)->",
        b"[Times: ",
        b"2014-06-25T10:00:00.123+0200: ",
        b"\xff\xfe",
        b"\0",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..40 {
        let mut parser = Jdk8Parser::new();
        let mut check = |e: GcEvent| match e {
            GcEvent::Pause(p) => {
                assert!(
                    p.duration_ms.is_finite() && p.duration_ms >= 0.0,
                    "round {round}: {p:?}"
                );
                assert!(!p.cause.is_empty());
            }
            GcEvent::Concurrent(c) => {
                assert!(
                    c.duration_ms.is_finite() && c.duration_ms >= 0.0,
                    "round {round}: {c:?}"
                )
            }
            _ => {}
        };
        for _ in 0..500 {
            let mut line = lines[rng.below(lines.len())].clone();
            for _ in 0..=rng.below(4) {
                match rng.below(5) {
                    0 if !line.is_empty() => {
                        let at = rng.below(line.len());
                        line[at] = rng.next() as u8;
                    }
                    1 => {
                        let at = rng.below(line.len() + 1);
                        let token = TOKENS[rng.below(TOKENS.len())];
                        line.splice(at..at, token.iter().copied());
                    }
                    2 => line.truncate(rng.below(line.len() + 1)),
                    3 => {
                        // Another thread's line written into the middle.
                        let other = &lines[rng.below(lines.len())];
                        let at = rng.below(line.len() + 1);
                        line.splice(at..at, other.iter().copied());
                    }
                    _ => {}
                }
            }
            parser.feed(&line, &mut check);
        }
        parser.finish(&mut check);
    }
}

/// JDK 8 repeats the JVM header at the top of each rotated file: that is the
/// same JVM going on, not a restart; a header followed by uptime starting
/// again is a restart.
#[test]
fn a_rotated_files_header_is_not_a_restart() {
    let header = "Java HotSpot(TM) 64-Bit Server VM (25.65-b01) for linux-amd64 JRE (1.8.0_65-b17), built on Oct  6 2015\n\
                  Memory: 4k page, physical 16777216k(692440k free), swap 0k(0k free)\n\
                  CommandLine flags: -XX:InitialHeapSize=268435456 -XX:MaxHeapSize=268435456 -XX:+PrintGCDetails -XX:+UseG1GC\n";
    let pause = |t: f64| {
        format!(
            "{t:.3}: [GC pause (G1 Evacuation Pause) (young), 0.0050000 secs]\n   [Eden: 24.0M(24.0M)->0.0B(30.0M) Survivors: 0.0B->3072.0K Heap: 24.0M(256.0M)->6882.0K(256.0M)]\n [Times: user=0.02 sys=0.00, real=0.01 secs] \n"
        )
    };
    let starts = |text: &str| {
        let mut p = Jdk8Parser::new();
        let mut starts = 0;
        let mut pauses = 0;
        let mut count = |ev: GcEvent| match ev {
            GcEvent::JvmStart(_) => starts += 1,
            GcEvent::Pause(_) => pauses += 1,
            _ => {}
        };
        for line in text.lines() {
            p.feed(line.as_bytes(), &mut count);
        }
        p.finish(&mut count);
        (starts, pauses)
    };
    // With JDK 8's rotation marker.
    let marked = format!(
        "{header}{}{}2026-11-25 10:00:00 GC log file created gc.log.1\n{header}{}",
        pause(10.0),
        pause(11.0),
        pause(12.0)
    );
    assert_eq!(starts(&marked), (1, 3));
    // Without the marker (files concatenated): the uptime goes on.
    let continued = format!("{header}{}{header}{}", pause(100.0), pause(101.0));
    assert_eq!(starts(&continued), (1, 2));
    // A real restart: the uptime starts again.
    let restarted = format!("{header}{}{header}{}", pause(100.0), pause(0.5));
    assert_eq!(starts(&restarted), (2, 2));
}
