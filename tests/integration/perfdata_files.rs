//! HotSpot perf-data files without a JVM: real files copied from stopped
//! JDK 11 and 17 JVMs (`tests/fixtures/jvm/perfdata/`, with the figures
//! `jstat -snap` printed for them at the same moment), cut at every length,
//! and the log-to-collector mapping pinned by the corpus's MXBean counts.

use std::path::{Path, PathBuf};

use tunekeeper::jvm::perfdata::counters::{CollectorKind, CounterSnapshot};
use tunekeeper::jvm::perfdata::crosscheck::LogTotals;
use tunekeeper::jvm::perfdata::{PerfDataError, read_file};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jvm/perfdata")
        .join(name)
}

/// The figures jstat -J-Djstat.showUnsupported=true -snap printed for the
/// fixtures while their JVMs were stopped.
#[test]
fn real_files_decode_to_jstats_figures() {
    let s17 = CounterSnapshot::from_perf_data(&read_file(&fixture("jdk17-g1.hsperfdata")).unwrap())
        .unwrap();
    assert_eq!(s17.jdk, Some(17));
    assert_eq!(s17.frequency_hz, 1_000_000_000);
    assert_eq!(s17.jvm_start_ms, 1_796_571_022_842);
    assert_eq!(s17.collectors.len(), 3);
    assert_eq!(s17.collectors[0].name, "G1 young collection pauses");
    assert_eq!(s17.collectors[0].invocations, 212);
    assert_eq!(s17.collectors[0].time_ticks, 417_678_063);
    assert_eq!(s17.pauses(CollectorKind::Full), Some((1, 34.173134)));
    assert_eq!(s17.collectors[2].name, "G1 concurrent cycle pauses");
    assert_eq!(s17.collectors[2].invocations, 40);
    assert_eq!(s17.safepoints.count, 253);
    assert_eq!(s17.safepoints.sync_ticks, 58_458_327);
    assert_eq!(s17.safepoints.time_ticks, 547_657_573);
    assert_eq!(s17.last_cause.as_deref(), Some("G1 Evacuation Pause"));
    assert_eq!(s17.policy.as_deref(), Some("GarbageFirst"));

    let s11 = CounterSnapshot::from_perf_data(&read_file(&fixture("jdk11-g1.hsperfdata")).unwrap())
        .unwrap();
    assert_eq!(s11.jdk, Some(11));
    // JDK 11 names its collectors differently: found by name all the same.
    assert_eq!(s11.collectors[0].name, "G1 incremental collections");
    assert_eq!(s11.pauses(CollectorKind::Young).unwrap().0, 129);
    assert_eq!(s11.collectors[1].name, "G1 stop-the-world full collections");
    assert_eq!(s11.pauses(CollectorKind::Full).unwrap().0, 1);
    assert_eq!(s11.collectors[2].name, "G1 stop-the-world phases");
    assert_eq!(s11.pauses(CollectorKind::ConcurrentCycle).unwrap().0, 10);
    assert_eq!(s11.safepoints.count, 143);
    assert_eq!(s11.safepoints.sync_ticks, 32_008_023);
    assert_eq!(s11.safepoints.time_ticks, 413_448_113);
}

/// A real file cut at every length: an error naming the file, or (past the
/// entries) the same figures; never a panic.
#[test]
fn a_real_file_cut_anywhere_is_an_error_naming_it() {
    let real = std::fs::read(fixture("jdk17-g1.hsperfdata")).unwrap();
    let whole = read_file(&fixture("jdk17-g1.hsperfdata")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let used = u32::from_le_bytes(real[8..12].try_into().unwrap()) as usize;
    let mut errors = 0;
    // Every 4 bytes through the used part (entries are 4-aligned), then
    // every kilobyte of the zeros after it.
    let cuts = (0..used + 8)
        .step_by(4)
        .chain((used + 8..=real.len()).step_by(1024));
    for cut in cuts {
        // A new file each time: rewriting a truncated one makes ext4 flush
        // it to disk (auto_da_alloc), a few milliseconds each.
        let f = dir.path().join(format!("{cut}"));
        std::fs::write(&f, &real[..cut]).unwrap();
        match read_file(&f) {
            Ok(pd) => {
                assert!(
                    cut >= used,
                    "cut at {cut} of {used} used bytes read as whole"
                );
                assert_eq!(pd.entries, whole.entries);
            }
            Err(e) => {
                errors += 1;
                assert!(matches!(e, PerfDataError::Malformed { .. }), "{e}");
                assert!(e.to_string().starts_with(&f.display().to_string()), "{e}");
            }
        }
    }
    assert!(errors >= used / 4 - 1, "{errors}");
}

/// Bytes flipped in a real file: an error or figures, never a panic.
#[test]
fn a_real_file_with_flipped_bytes_never_panics() {
    let real = std::fs::read(fixture("jdk11-g1.hsperfdata")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("4242");
    let mut rng = fastrand::Rng::with_seed(23);
    for _ in 0..300 {
        let mut b = real.clone();
        for _ in 0..rng.usize(1..6) {
            let i = rng.usize(0..8192);
            b[i] = rng.u8(..);
        }
        std::fs::write(&f, &b).unwrap();
        if let Ok(pd) = read_file(&f) {
            let _ = CounterSnapshot::from_perf_data(&pd);
        }
    }
}

/// The corpus's MXBean counts pin which log pauses each collector counts:
/// young = Young, Concurrent Start, Prepare Mixed, Mixed; full = Full; on
/// JDK 20+ the MXBean "G1 Concurrent GC" = Remark + Cleanup, which is what
/// the counters' concurrent-cycle collector counts on every JDK.
#[test]
fn the_corpus_pins_the_log_to_collector_mapping() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gc/truth");
    let mut checked = 0;
    for jdk in ["jdk11", "jdk17", "jdk21", "jdk25"] {
        for entry in std::fs::read_dir(root.join(jdk)).unwrap().flatten() {
            let p = entry.path();
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".truth.json") else {
                continue;
            };
            let log = p.with_file_name(format!("{stem}.log.gz"));
            if !log.exists() {
                continue;
            }
            let truth: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let count = |n: &str| {
                truth["truth"]["collectors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == n)
                    .map(|c| c["count"].as_u64().unwrap())
            };
            let a =
                tunekeeper::gc::analyse(std::slice::from_ref(&log), &Default::default()).unwrap();
            let t = LogTotals::from_stats(&a.stats);
            assert_eq!(
                Some(t.young.0),
                count("G1 Young Generation"),
                "{}",
                log.display()
            );
            assert_eq!(
                Some(t.full.0),
                count("G1 Old Generation"),
                "{}",
                log.display()
            );
            if let Some(c) = count("G1 Concurrent GC") {
                assert_eq!(t.concurrent_cycle.0, c, "{}", log.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
}
