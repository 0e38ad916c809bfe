//! `tunekeeper gc` as a user runs it: exit codes, JSON keys, messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc")
        .join(rel)
}

fn tunekeeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(args)
        .output()
        .expect("run tunekeeper")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn json_has_every_documented_key() {
    let log = fixture("truth/jdk17/kafka-time-tags.log.gz");
    let out = tunekeeper(&["gc", "--format", "json", path(&log)]);
    // The default profile's service levels apply: 280 ms/s and a full GC drift.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for key in [
        "pauses",
        "overall",
        "gc_ms_per_second",
        "worst_minute_gc_ms_per_second",
        "young_gcs_per_second",
        "allocation_rate_mb_per_s",
        "pause_interval",
        "full_gcs",
        "evacuation_failures",
        "humongous_allocations",
        "concurrent",
        "heap_after_gc",
        "not_computable",
        "rates_null_because",
        "flags",
        "findings",
        "files",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for kind in [
        "young",
        "concurrent_start",
        "prepare_mixed",
        "mixed",
        "remark",
        "cleanup",
        "full",
    ] {
        let k = &v["pauses"][kind];
        for field in [
            "count", "total_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
        ] {
            assert!(k[field].is_number(), "pauses.{kind}.{field}");
        }
    }
    let file = &v["files"][0];
    for field in ["path", "format", "lines", "unrecognised_lines"] {
        assert!(file.get(field).is_some(), "files[0].{field}");
    }
    assert!(v["gc_ms_per_second"].as_f64().is_some_and(|r| r > 0.0));
    assert!(
        v["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["check"] == "jvm"))
    );
}

#[test]
fn without_a_profile_the_default_profiles_service_levels_apply() {
    // A 1 s run at ~280 ms of pause per second: 18 times kafka-broker's 15.
    let log = fixture("truth/jdk17/kafka-time-tags.log.gz");
    let out = tunekeeper(&["gc", "--format", "json", path(&log)]);
    assert_eq!(out.status.code(), Some(1), "drift exits 1");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rate = v["findings"]
        .as_array()
        .and_then(|fs| {
            fs.iter()
                .find(|f| f["check"] == "gc" && f["key"] == "gc_ms_per_second")
        })
        .expect("the gc_ms_per_second level is checked")
        .clone();
    assert_eq!(rate["status"], "drift", "{rate}");
    assert_eq!(rate["expected"], "<=15");
    assert!(
        rate["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("kafka-broker:")),
        "{rate}"
    );
    let text = tunekeeper(&["gc", path(&log)]);
    assert_eq!(text.status.code(), Some(1));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("drift") && l.contains("gc_ms_per_second")),
        "{text}"
    );
}

#[test]
fn text_report_and_output_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("report.txt");
    let log = fixture("truth/jdk25/small-heap-stress.log.gz");
    let out = tunekeeper(&["gc", "-o", path(&out_file), path(&log)]);
    // Its full GCs fail the default profile's `full_gcs <= 0`.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let text = std::fs::read_to_string(&out_file).expect("report");
    for needle in [
        "young",
        "concurrent_start",
        "full",
        "overall",
        "GC pause per second",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}

#[test]
fn not_g1_exits_2_naming_the_file() {
    let log = fixture("other/parallel-jdk17.log");
    let out = tunekeeper(&["gc", path(&log)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("parallel-jdk17.log: a Parallel GC log, not G1"),
        "{err}"
    );
    let out = tunekeeper(&["gc", path(&fixture("other/notes.txt"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("notes.txt: not a GC log"));
}

#[test]
fn drift_exits_1() {
    let log = fixture("other/g1-heap-not-fixed-jdk17.log");
    let out = tunekeeper(&["gc", "--format", "json", path(&log)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn since_until_filter_by_wall_clock() {
    let log = fixture("truth/jdk17/deco-utctime-pid-tags.log.gz");
    let all = tunekeeper(&["gc", "--format", "json", path(&log)]);
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).expect("json");
    let n = all["overall"]["count"].as_u64().expect("count");
    // Everything is before 2000 and after 2100 nothing.
    let out = tunekeeper(&[
        "gc",
        "--format",
        "json",
        "--since",
        "2100-01-01T00:00:00Z",
        path(&log),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["overall"]["count"], 0);
    let out = tunekeeper(&[
        "gc",
        "--format",
        "json",
        "--since",
        "2000-01-01T00:00:00Z",
        "--until",
        "2100-01-01T00:00:00Z",
        path(&log),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["overall"]["count"].as_u64(), Some(n));
    // Uptime-only log: a clear error, not a silently empty report.
    let log = fixture("truth/jdk17/gc-tag-only.log.gz");
    let out = tunekeeper(&["gc", "--since", "2000-01-01T00:00:00Z", path(&log)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wall-clock"));
    let out = tunekeeper(&["gc", "--since", "yesterday", path(&log)]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn profile_service_levels_become_findings() {
    let log = fixture("truth/jdk25/small-heap-stress.log.gz");
    let out = tunekeeper(&[
        "gc",
        "--profile",
        "kafka-broker",
        "--format",
        "json",
        path(&log),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    let full = findings
        .iter()
        .find(|f| f["check"] == "gc" && f["key"] == "full_gcs")
        .unwrap();
    assert_eq!(
        full["status"], "drift",
        "the stress log has full GCs: {full}"
    );
    assert_eq!(full["expected"], "<=0");
    assert!(
        full["source"].as_str().unwrap().starts_with(
            "kafka-broker: LinkedIn SRE talk \"Enterprise Kafka: Kafka as a Service\""
        )
    );
    // The profile's [jvm] rules decide which flag checks run.
    let rules: Vec<&str> = findings
        .iter()
        .filter(|f| f["check"] == "jvm")
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "g1",
            "heap_fixed",
            "pause_target_set",
            "young_fixed",
            "ihop_set",
            "explicit_gc_concurrent",
            "log_rotation"
        ]
    );

    // A running JVM's command line fills in what the log does not say.
    let me = std::process::id().to_string();
    let out = tunekeeper(&["gc", "--pid", &me, "--format", "json", path(&log)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let target = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "pause_target_set")
        .unwrap()
        .clone();
    assert_eq!(
        target["status"], "drift",
        "a command line without -XX:MaxGCPauseMillis: {target}"
    );

    let out = tunekeeper(&["gc", "--profile", "no-such", path(&log)]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every JDK 8 and unified log we have — the trimmed fixtures, and the whole
/// public corpus when `../shared` is beside the checkout — goes through the
/// command: a result (exit 0/1) with every line counted, or a clear error
/// (exit 2); never a crash.
#[test]
fn every_public_log_ends_in_a_result_or_a_clear_error() {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        "jdk8/real",
        "jdk8/corrupted",
        "jdk8/exact",
        "public/unified",
    ] {
        let d = fixture(dir);
        if let Ok(rd) = std::fs::read_dir(&d) {
            files.extend(
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file() && !p.ends_with("SOURCES.md")),
            );
        }
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/gc-public");
    if shared.is_dir() {
        for sub in ["jdk8", "jdk8-corrupted", "unified"] {
            if let Ok(rd) = std::fs::read_dir(shared.join(sub)) {
                files.extend(rd.flatten().map(|e| e.path()));
            }
        }
    } else {
        eprintln!("../shared/corpus/gc-public not found: checking the trimmed fixtures only");
    }
    assert!(files.len() >= 16, "fixtures missing: {files:?}");
    for f in files {
        let out = tunekeeper(&["gc", "--format", "json", path(&f)]);
        let code = out.status.code();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(code, Some(0..=2)),
            "{}: crashed ({code:?}): {err}",
            f.display()
        );
        if code == Some(2) {
            assert!(
                err.contains(f.file_name().unwrap().to_str().unwrap()),
                "{}: unclear error: {err}",
                f.display()
            );
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let text = std::fs::read(&f).unwrap();
        let lines = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64;
        let counted = v["files"][0]["lines"].as_u64().unwrap();
        assert!(
            counted >= lines,
            "{}: {counted} lines read of {lines}",
            f.display()
        );
        let unknown = v["files"][0]["unrecognised_lines"].as_u64().unwrap();
        assert!(
            unknown <= counted / 10 + 3,
            "{}: {unknown} unrecognised of {counted}",
            f.display()
        );
    }
}

/// A wide `-Xlog:all=debug` log (no tags decorator): the lines of other
/// JVM subsystems are counted apart, by kind, in every output; the
/// unrecognised count keeps its meaning (it was 95 % of the lines).
#[test]
fn other_jvm_output_is_counted_apart_in_every_format() {
    let log = fixture("truth/jdk17/all-debug-uptime-level.log.gz");
    let out = tunekeeper(&["gc", "--format", "json", path(&log)]);
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let f = &v["files"][0];
    let lines = f["lines"].as_u64().expect("lines");
    let other = f["other_lines"].as_u64().expect("other_lines");
    let unknown = f["unrecognised_lines"]
        .as_u64()
        .expect("unrecognised_lines");
    assert!(unknown * 1000 < lines, "{unknown} unrecognised of {lines}");
    assert!(other * 10 > lines * 8, "{other} other of {lines}");
    let kinds = f["other_kinds"].as_object().expect("other_kinds");
    assert_eq!(
        kinds.values().filter_map(|n| n.as_u64()).sum::<u64>(),
        other
    );
    for kind in ["class", "os", "cds"] {
        assert!(kinds.contains_key(kind), "{kind} missing from {kinds:?}");
    }
    let out = tunekeeper(&["gc", path(&log)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{other} other JVM output: ")) && text.contains("class "),
        "{text}"
    );
    let out = tunekeeper(&["gc", "--format", "html", path(&log)]);
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains("Other JVM output"), "html header");
    assert!(html.contains("<td>class</td>"), "html kinds");
    // A gc* log has no other output and says so with a 0.
    let out = tunekeeper(&[
        "gc",
        "--format",
        "json",
        path(&fixture("truth/jdk17/kafka-time-tags.log.gz")),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["files"][0]["other_lines"], 0);
    assert!(v["files"][0].get("other_kinds").is_none());
}

/// An empty file alone exits 2 naming it (it exited 0 with two `ok`
/// findings, as if the JVM were healthy).
#[test]
fn a_lone_empty_file_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("gc.log");
    std::fs::write(&empty, b"").expect("write");
    let out = tunekeeper(&["gc", path(&empty)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gc.log: empty, nothing to analyse"), "{err}");
    assert!(out.stdout.is_empty());
}
