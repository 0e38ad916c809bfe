//! The classes of public logs that went wrong (issue 9, part 2), each on a
//! small hand-made fixture in `tests/fixtures/gc/classes/` that reproduces
//! it: read through the library and through `tunekeeper gc` as a user runs it.

use crate::ci_skip;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tunekeeper::finding::Status;
use tunekeeper::gc::{AnalyseOptions, Analysis, GcError, analyse};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc/classes")
        .join(name)
}

fn run(name: &str) -> Result<Analysis, GcError> {
    analyse(&[fixture(name)], &AnalyseOptions::default())
}

fn tunekeeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(args)
        .output()
        .expect("run tunekeeper")
}

/// Pause counts in reporting order: young, concurrent start, prepare mixed,
/// mixed, remark, cleanup, full.
fn counts(a: &Analysis) -> [u64; 7] {
    let p = &a.stats.pauses;
    [
        p.young.count,
        p.concurrent_start.count,
        p.prepare_mixed.count,
        p.mixed.count,
        p.remark.count,
        p.cleanup.count,
        p.full.count,
    ]
}

fn unrecognised(a: &Analysis) -> Vec<String> {
    a.files
        .iter()
        .flat_map(|f| f.unrecognised_examples.clone())
        .collect()
}

#[test]
fn print_gc_id_prefix_keeps_every_pause() {
    let a = run("jdk8-printgcid.log").expect("analyse");
    assert_eq!(counts(&a), [1, 1, 0, 1, 1, 1, 1]);
    let total = 8.757 + 6.123 + 5.0 + 2.1 + 0.4 + 30.0;
    assert!(
        (a.stats.overall.total_ms - total).abs() < 1e-6,
        "{}",
        a.stats.overall.total_ms
    );
    assert!(unrecognised(&a).is_empty(), "{:?}", unrecognised(&a));
    // The concurrent phases behind `#2: ` are read too.
    assert!(
        a.stats
            .concurrent
            .iter()
            .any(|c| c.name == "Concurrent Mark" && c.durations.count == 1)
    );
}

#[test]
fn g1_pauses_that_cannot_be_read_are_an_error_not_an_empty_report() {
    let log = fixture("unified-pauses-unreadable.log");
    let err =
        analyse(std::slice::from_ref(&log), &AnalyseOptions::default()).expect_err("no pause read");
    let msg = err.to_string();
    assert!(
        msg.contains("2 lines name G1 pauses") && msg.contains("line 3"),
        "{msg}"
    );
    let out = tunekeeper(&["gc", "--format", "json", log.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unified-pauses-unreadable.log")
            && err.contains("none could be read")
            && err.contains("line 3"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no half report");
}

#[test]
fn initial_mark_split_from_its_header_is_a_concurrent_start() {
    let a = run("jdk7-initial-mark-split.log").expect("analyse");
    // `[GC pause (young)0.235:  (initial-mark), ...]` and `[GC pause (young)`
    // ... tenuring lines ... ` (initial-mark), 0.12895600 secs]`.
    assert_eq!(counts(&a), [1, 2, 0, 0, 2, 2, 0]);
    assert_eq!(a.stats.pauses.concurrent_start.max_ms, 128.956);
}

#[test]
fn unified_fragments_without_a_header_are_g1_by_their_event_names() {
    let a = run("unified-fragment-concurrent-start.log").expect("concurrent start");
    assert_eq!(counts(&a), [0, 2, 0, 0, 0, 0, 0]);
    assert!(unrecognised(&a).is_empty());
    let a = run("unified-fragment-remark-safepoint.log").expect("remark");
    assert_eq!(counts(&a), [0, 0, 0, 0, 2, 0, 0]);
    assert!(unrecognised(&a).is_empty());
}

#[test]
fn other_collectors_and_bytes_are_refused_naming_what_they_are() {
    for (name, says) in [
        ("jdk8-cms.log", "a CMS GC log, not G1"),
        ("unified-zgc-fragment.log", "a ZGC log, not G1"),
        ("random-with-gc.bin", "not a GC log"),
    ] {
        let log = fixture(name);
        let out = tunekeeper(&["gc", log.to_str().expect("path")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(name) && err.contains(says), "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name}: no report");
    }
}

#[test]
fn too_short_a_span_gives_null_rates_with_a_reason() {
    for name in ["jdk8-few-pauses.log", "unified-two-pauses.log"] {
        let a = run(name).expect(name);
        let s = &a.stats;
        assert!(s.overall.count >= 2, "{name}");
        assert_eq!(s.gc_ms_per_second, None, "{name}");
        assert_eq!(s.worst_minute_gc_ms_per_second, None, "{name}");
        assert!(s.not_computable.contains(&"gc_ms_per_second"), "{name}");
        let json = serde_json::to_value(&a).expect("json");
        assert!(json["gc_ms_per_second"].is_null(), "{name}");
        let why = json["rates_null_because"].as_str().unwrap_or("");
        assert!(why.contains("a rate needs"), "{name}: {why}");
    }
}

#[test]
fn no_fixture_ever_reports_more_pause_than_time() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gc");
    let mut logs = Vec::new();
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.to_string_lossy().contains(".log")
                && !p.to_string_lossy().ends_with(".json")
            {
                logs.push(p);
            }
        }
    }
    assert!(logs.len() > 40, "{}", logs.len());
    let mut rated = 0;
    for log in logs {
        let Ok(a) = analyse(std::slice::from_ref(&log), &AnalyseOptions::default()) else {
            continue;
        };
        for r in [
            a.stats.gc_ms_per_second,
            a.stats.worst_minute_gc_ms_per_second,
        ]
        .into_iter()
        .flatten()
        {
            rated += 1;
            assert!((0.0..=1000.0).contains(&r), "{}: {r} ms/s", log.display());
        }
    }
    assert!(rated > 20);
}

#[test]
fn normal_jvm_output_is_recognised_not_counted_as_unknown() {
    for name in [
        // JDK 6/7 `Avg: ..., Min: ..., Max: ..., Diff: ...]`, `Mark stack is full.`
        "jdk7-initial-mark-split.log",
        // `[Table]`, `[Queue]` and the statistics of -XX:+PrintStringDeduplicationStatistics.
        "jdk8-string-dedup.log",
        // `[gc,cds]` and `[gc,stringdedup]` lines of JDK 14.
        "unified-known-noise.log",
    ] {
        let a = run(name).expect(name);
        assert!(a.stats.overall.count > 0, "{name}");
        assert!(
            unrecognised(&a).is_empty(),
            "{name}: {:?}",
            unrecognised(&a)
        );
    }
    let a = run("jdk8-string-dedup.log").expect("dedup");
    assert_eq!(
        counts(&a),
        [2, 0, 0, 0, 0, 0, 0],
        "statistics are not events"
    );
}

#[test]
fn heap_fixed_needs_the_minimum_heap_equal_to_the_maximum() {
    // A JDK 17 G1 log of a JVM started with -Xmx256m and no -Xms: the log
    // says `Heap Min Capacity: 8M`, initial 256M, max 256M.
    let a = run("unified-xmx-only-jdk17.log").expect("analyse");
    let f = a
        .findings
        .iter()
        .find(|f| f.key == "heap_fixed")
        .expect("heap_fixed");
    assert_eq!(f.status, Status::Drift, "{f:?}");
    assert_eq!(f.actual.as_deref(), Some("min 8M / max 256M"));
}

#[test]
fn a_g1_fragment_without_a_whole_pause_says_why_its_figures_are_null() {
    // The tail of one JDK 8 pause (its header cut off): G1 by its
    // `[Eden: ...]` detail, no pause to count, so no rate either.
    let log = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc/jdk8/corrupted/no_young_intro.log");
    let a = analyse(std::slice::from_ref(&log), &AnalyseOptions::default()).expect("G1");
    assert_eq!(a.stats.overall.count, 0);
    assert_eq!(a.stats.gc_ms_per_second, None);
    let json = serde_json::to_value(&a).expect("json");
    assert_eq!(json["rates_null_because"], "no pause in the log");
}

/// Kills the JVM when the test ends, whatever happens.
struct Jvm(std::process::Child);

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn heap_fixed_from_a_running_jvm_started_with_xmx_only() {
    let javac = Command::new("javac").arg("-version").output();
    if !javac.is_ok_and(|o| o.status.success()) {
        ci_skip::skip("skipping: no JDK (javac/java) on this machine");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let classes = dir.path().join("classes");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jvm/kafka/Kafka.java");
    let ok = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(&src)
        .status()
        .expect("javac");
    assert!(ok.success());
    let log = dir.path().join("gc.log");
    // `-Xlog:gc` prints no `gc,init` lines: only the command line can tell
    // the heap's minimum, which is what --pid reads.
    let jvm = Jvm(Command::new("java")
        .args(["-Xmx256m", "-XX:+UseG1GC"])
        .arg(format!("-Xlog:gc:file={}", log.display()))
        .arg("-cp")
        .arg(&classes)
        .args(["kafka.Kafka", "1", "30"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("java"));
    let pid = jvm.0.id().to_string();
    crate::wait::until("the JVM's first pause in its log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("Pause Young"))
    });
    let heap_fixed = |args: &[&str]| {
        let out = tunekeeper(args);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        let f = v["findings"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["key"] == "heap_fixed").cloned())
            .expect("heap_fixed");
        (
            f["status"].as_str().unwrap_or("").to_owned(),
            f["actual"].clone(),
            out.status.code(),
        )
    };
    let log = log.to_str().expect("path");
    let (status, actual, code) = heap_fixed(&["gc", "--format", "json", "--pid", &pid, log]);
    assert_eq!(status, "drift");
    assert_eq!(actual, "no -Xms / max 256M");
    assert_eq!(code, Some(1));
    // The log alone does not say the minimum: not "ok", not a guess.
    let (status, actual, _) = heap_fixed(&["gc", "--format", "json", log]);
    assert_eq!(status, "not-applicable");
    assert!(actual.is_null());
}
