//! Every JVM-written log (fixtures, and the shared corpus when present) is
//! checked against the JVM's own MXBean counters written beside it.

use std::path::{Path, PathBuf};

use tunekeeper::gc::{AnalyseOptions, analyse};

/// One log (or rotated set) with its truth file.
struct Case {
    name: String,
    input: PathBuf,
    truth: PathBuf,
}

fn find_cases(root: &Path, out: &mut Vec<Case>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            find_cases(&p, out);
            continue;
        }
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(stem) = name.strip_suffix(".truth.json") else {
            continue;
        };
        let dir = p.parent().unwrap_or(Path::new("."));
        // `gc.truth.json` beside `gc.log*` describes the whole rotated set.
        // Fixtures are gzipped; the corpus is not.
        let plain = dir.join(format!("{stem}.log"));
        let input =
            if stem == "gc" && (dir.join("gc.log").exists() || dir.join("gc.log.gz").exists()) {
                dir.to_path_buf()
            } else if plain.exists() {
                plain
            } else {
                dir.join(format!("{stem}.log.gz"))
            };
        out.push(Case {
            name: p.display().to_string(),
            input,
            truth: p,
        });
    }
}

struct Collector {
    count: u64,
    time_ms: f64,
}

fn collector(truth: &serde_json::Value, name: &str) -> Option<Collector> {
    truth["truth"]["collectors"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .map(|c| Collector {
            count: c["count"].as_u64().unwrap_or(0),
            time_ms: c["time_ms"].as_f64().unwrap_or(0.0),
        })
}

/// Checks one case; returns a description of each mismatch.
fn check(case: &Case) -> Vec<String> {
    let mut errors = Vec::new();
    let truth: serde_json::Value = match std::fs::read_to_string(&case.truth)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return vec![format!("{}: unreadable truth: {e}", case.name)],
    };
    let a = match analyse(
        std::slice::from_ref(&case.input),
        &AnalyseOptions::default(),
    ) {
        Ok(a) => a,
        Err(e) => return vec![format!("{}: {e}", case.name)],
    };
    let p = &a.stats.pauses;
    let young_count =
        p.young.count + p.concurrent_start.count + p.prepare_mixed.count + p.mixed.count;
    let young_ms = p.young.total_ms
        + p.concurrent_start.total_ms
        + p.prepare_mixed.total_ms
        + p.mixed.total_ms;
    let mut compare = |what: &str, count: u64, ms: f64, c: Option<Collector>| {
        let c = c.unwrap_or(Collector {
            count: 0,
            time_ms: 0.0,
        });
        if count != c.count {
            errors.push(format!(
                "{}: {what} count {count}, JVM says {}",
                case.name, c.count
            ));
        }
        // The MXBean total sits at or a little under the log's sum: within
        // 3 %, with 2 ms of slack for the tiny remark+cleanup totals (10-30
        // ms, where 3 % is under a millisecond), and 0.06 ms per pause for
        // short logs of many sub-millisecond pauses (JDK 11's MXBean timer
        // misses ~0.05 ms of each printed pause: the 1 s small-heap fixture
        // prints 242.869 ms over 161 pauses, awk agrees, the JVM says 235).
        let slack = (c.time_ms * 0.03).max(2.0).max(0.06 * count as f64);
        if ms + 1.0 < c.time_ms || ms - c.time_ms > slack {
            errors.push(format!(
                "{}: {what} {ms:.3} ms, JVM says {} ms (allowed: -1 .. +{slack:.1} ms)",
                case.name, c.time_ms
            ));
        }
    };
    compare(
        "young",
        young_count,
        young_ms,
        collector(&truth, "G1 Young Generation"),
    );
    compare(
        "full",
        p.full.count,
        p.full.total_ms,
        collector(&truth, "G1 Old Generation"),
    );
    if let Some(c) = collector(&truth, "G1 Concurrent GC") {
        compare(
            "remark+cleanup",
            p.remark.count + p.cleanup.count,
            p.remark.total_ms + p.cleanup.total_ms,
            Some(c),
        );
    }
    // A wide selection (`-Xlog:all=debug`, `all-debug-*`) writes every
    // subsystem's lines, most without tags to tell them by: they must be
    // counted as other JVM output, and at most 0.5 % of the lines (one-off
    // shapes of start-up and exit) may stay unrecognised. A `gc*` log has
    // none.
    let wide = case.name.contains("all-debug");
    for f in &a.files {
        let allowed = if wide { f.lines / 200 } else { 0 };
        if f.unrecognised_lines > allowed {
            errors.push(format!(
                "{}: {} unrecognised lines of {} in {} (at most {allowed}), e.g. {:?}",
                case.name, f.unrecognised_lines, f.lines, f.path, f.unrecognised_examples
            ));
        }
        if wide && f.other_lines * 10 < f.lines * 8 {
            errors.push(format!(
                "{}: only {} of {} lines counted as other JVM output ({:?})",
                case.name, f.other_lines, f.lines, f.other_kinds
            ));
        }
    }
    errors
}

fn run_all(root: &Path) -> usize {
    let mut cases = Vec::new();
    find_cases(root, &mut cases);
    let errors: Vec<String> = cases.iter().flat_map(check).collect();
    assert!(
        errors.is_empty(),
        "{} mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
    cases.len()
}

#[test]
fn fixtures_match_the_jvm_counters() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gc/truth");
    let n = run_all(&root);
    assert!(
        n >= 55,
        "expected at least 55 fixtures with truth, found {n}"
    );
}

#[test]
fn shared_corpus_matches_the_jvm_counters() {
    let candidates = [
        PathBuf::from("/work/shared/corpus/gc"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/gc"),
    ];
    let Some(root) = candidates.iter().find(|p| p.is_dir()) else {
        println!(
            "skipped: the shared corpus (/work/shared/corpus/gc or ../shared/corpus/gc) is not here"
        );
        return;
    };
    let n = run_all(root);
    println!("{n} corpus logs match the JVM counters");
    assert!(n > 0);
}
