//! Input handling on real logs: rotated sets in time order, gzip,
//! directories, restarts, cut-off lines, non-G1 logs, public logs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tunekeeper::gc::detect::LogFormat;
use tunekeeper::gc::{AnalyseOptions, Analysis, GcError, analyse};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc")
        .join(rel)
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let file = std::fs::File::open(path).expect("fixture");
    flate2::read::MultiGzDecoder::new(file)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn run(paths: &[PathBuf]) -> Result<Analysis, GcError> {
    analyse(paths, &AnalyseOptions::default())
}

fn young_count(a: &Analysis) -> u64 {
    let p = &a.stats.pauses;
    p.young.count + p.concurrent_start.count + p.prepare_mixed.count + p.mixed.count
}

fn truth_count(truth: &Path, collector: &str) -> u64 {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(truth).expect("truth")).expect("json");
    v["truth"]["collectors"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == collector))
        .and_then(|c| c["count"].as_u64())
        .unwrap_or(0)
}

#[test]
fn rotated_set_is_read_in_time_order_whatever_the_argument_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = fixture("truth/jdk17/rotated");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&src).expect("dir") {
        let p = e.expect("entry").path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if let Some(plain) = name.strip_suffix(".gz") {
            std::fs::write(dir.path().join(plain), gunzip(&p)).expect("write");
            names.push(plain.to_owned());
        }
    }
    assert!(names.len() >= 3, "{names:?}");
    let expected = truth_count(&src.join("gc.truth.json"), "G1 Young Generation");
    // Newest first, then oldest first: same result, files read oldest first.
    names.sort();
    let forward: Vec<PathBuf> = names.iter().map(|n| dir.path().join(n)).collect();
    let backward: Vec<PathBuf> = forward.iter().rev().cloned().collect();
    let a = run(&forward).expect("analyse");
    let b = run(&backward).expect("analyse");
    assert_eq!(young_count(&a), expected);
    assert_eq!(a.stats.pauses, b.stats.pauses);
    let order: Vec<_> = b
        .files
        .iter()
        .map(|f| f.path.rsplit('/').next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        order.first().map(String::as_str),
        Some("gc.log.0"),
        "{order:?}"
    );
    assert_eq!(
        order.last().map(String::as_str),
        Some("gc.log"),
        "{order:?}"
    );
    assert_eq!(b.stats.jvm_starts, 1, "no false restart across files");
    // The directory itself.
    let d = run(&[dir.path().to_path_buf()]).expect("analyse dir");
    assert_eq!(d.stats.pauses, a.stats.pauses);
}

#[test]
fn uptime_only_set_of_two_jvms_keeps_rotation_order() {
    // Both files start near uptime 0 (two JVMs): uptime cannot order them,
    // the rotation names do.
    let dir = tempfile::tempdir().expect("tempdir");
    let older = dir.path().join("gc.log.0");
    let newer = dir.path().join("gc.log");
    std::fs::write(
        &newer,
        gunzip(&fixture("truth/jdk25/default-decorators.log.gz")),
    )
    .expect("write");
    std::fs::write(
        &older,
        gunzip(&fixture("truth/jdk17/default-decorators.log.gz")),
    )
    .expect("write");
    let a = run(&[newer, older]).expect("analyse");
    let order: Vec<_> = a
        .files
        .iter()
        .map(|f| f.path.rsplit('/').next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(order, ["gc.log.0", "gc.log"]);
    assert_eq!(a.stats.jvm_starts, 2);
    assert!(
        a.flags
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with("25")),
        "{:?}",
        a.flags.version
    );
}

#[test]
fn gzip_and_plain_read_the_same() {
    let gz = fixture("truth/jdk21/kafka-time-tags.log.gz");
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("kafka.log");
    std::fs::write(&plain, gunzip(&gz)).expect("write");
    let a = run(&[gz]).expect("gz");
    let b = run(&[plain]).expect("plain");
    assert_eq!(a.stats, b.stats);
    assert_eq!(a.files[0].lines, b.files[0].lines);
    assert!(a.stats.overall.count > 0);
}

#[test]
fn directory_with_gzipped_rotated_set() {
    let src = fixture("truth/jdk25/rotated");
    let a = run(std::slice::from_ref(&src)).expect("dir");
    assert_eq!(
        young_count(&a),
        truth_count(&src.join("gc.truth.json"), "G1 Young Generation")
    );
    // The truth file in the directory is not a log: skipped, not an error.
    assert!(a.files.iter().all(|f| f.path.contains("gc.log")));
}

#[test]
fn a_directory_with_two_sets_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, src) in [
        ("kafkaServer-gc.log", "truth/jdk17/kafka-time-tags.log.gz"),
        ("zookeeper-gc.log", "truth/jdk21/kafka-time-tags.log.gz"),
    ] {
        std::fs::write(dir.path().join(name), gunzip(&fixture(src))).expect("write");
    }
    std::fs::write(dir.path().join("server.log"), "INFO started\n").expect("write");
    let err = run(&[dir.path().to_path_buf()])
        .expect_err("two sets")
        .to_string();
    assert!(
        err.contains("kafkaServer-gc.log") && err.contains("zookeeper-gc.log"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("zookeeper-gc.log")).expect("rm");
    // One set plus an application log: the application log is skipped.
    let a = run(&[dir.path().to_path_buf()]).expect("one set");
    assert_eq!(a.files.len(), 1);
}

#[test]
fn a_restart_inside_a_file_is_a_new_jvm() {
    for (first, second) in [
        (
            "truth/jdk17/default-decorators",
            "truth/jdk21/default-decorators",
        ),
        ("truth/jdk11/kafka-time-tags", "truth/jdk25/kafka-time-tags"),
        ("truth/jdk17/deco-none", "truth/jdk25/deco-none"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let joined = dir.path().join("restarted.log");
        let mut f = std::fs::File::create(&joined).expect("create");
        f.write_all(&gunzip(&fixture(&format!("{first}.log.gz"))))
            .expect("write");
        f.write_all(&gunzip(&fixture(&format!("{second}.log.gz"))))
            .expect("write");
        drop(f);
        let a = run(&[joined]).expect("analyse");
        let expected = truth_count(
            &fixture(&format!("{first}.truth.json")),
            "G1 Young Generation",
        ) + truth_count(
            &fixture(&format!("{second}.truth.json")),
            "G1 Young Generation",
        );
        assert_eq!(young_count(&a), expected, "{first} + {second}");
        assert_eq!(a.stats.jvm_starts, 2, "{first} + {second}");
        assert_eq!(a.files[0].unrecognised_lines, 0);
        if let Some(span) = a.stats.span_s {
            assert!(span > 0.0 && span < 10.0, "{first}: span {span}");
            for p in &a.stats.heap_after_gc {
                assert!(p.t_s.is_some_and(|t| t >= 0.0 && t <= span + 1e-6));
            }
        } else {
            assert!(first.contains("none"), "{first}: time expected");
        }
    }
}

#[test]
fn a_cut_off_last_line_is_fine() {
    let text = gunzip(&fixture("truth/jdk17/gc-tag-only.log.gz"));
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = dir.path().join("whole.log");
    std::fs::write(&whole, &text).expect("write");
    let full = run(&[whole]).expect("whole");
    // Cut in the middle of the last pause line (drop "ms\n" and some digits).
    let cut = dir.path().join("cut.log");
    std::fs::write(&cut, &text[..text.len() - 5]).expect("write");
    let a = run(&[cut]).expect("cut");
    assert_eq!(a.stats.overall.count + 1, full.stats.overall.count);
    assert_eq!(a.files[0].lines, full.files[0].lines);
    assert!(a.files[0].unrecognised_lines <= 1);
    // A cut inside the decorators.
    let cut2 = dir.path().join("cut2.log");
    let last_nl = text[..text.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap_or(0);
    std::fs::write(&cut2, &text[..last_nl + 4]).expect("write");
    assert!(run(&[cut2]).is_ok());
}

#[test]
fn other_collectors_and_text_are_clear_errors() {
    for (file, what) in [
        ("other/parallel-jdk17.log", "a Parallel GC log, not G1"),
        ("other/serial-jdk17.log", "a Serial GC log, not G1"),
        ("other/cms-jdk11.log", "a CMS GC log, not G1"),
        ("other/notes.txt", "not a GC log"),
    ] {
        let path = fixture(file);
        let err = run(std::slice::from_ref(&path))
            .expect_err(file)
            .to_string();
        assert!(err.contains(what), "{file}: {err}");
        assert!(
            err.contains(file.rsplit('/').next().unwrap_or(file)),
            "{file}: {err}"
        );
    }
    // One bad file in a set fails the set, naming that file.
    let err = run(&[
        fixture("truth/jdk17/kafka-time-tags.log.gz"),
        fixture("other/cms-jdk11.log"),
    ])
    .expect_err("mixed")
    .to_string();
    assert!(err.contains("cms-jdk11.log"), "{err}");
    let err = run(&[fixture("does-not-exist.log")])
        .expect_err("missing")
        .to_string();
    assert!(err.contains("does-not-exist.log"), "{err}");
}

#[test]
fn public_unified_logs_parse_with_every_line_accounted_for() {
    let dir = fixture("public/unified");
    for e in std::fs::read_dir(&dir).expect("dir") {
        let p = e.expect("entry").path();
        let a = run(std::slice::from_ref(&p)).expect("analyse");
        let f = &a.files[0];
        assert_eq!(f.format, LogFormat::UnifiedG1);
        let text = std::fs::read(&p).expect("read");
        let lines = text.split(|&b| b == b'\n').count() as u64 - u64::from(text.ends_with(b"\n"));
        assert_eq!(f.lines, lines, "{}", p.display());
        assert_eq!(
            f.unrecognised_lines,
            0,
            "{}: {:?}",
            p.display(),
            f.unrecognised_examples
        );
        assert!(a.stats.overall.count > 0);
    }
    // minimal.log: JDK 9/10 names (`Pause Young (cause)`, `Pause Initial Mark`).
    let a = run(&[dir.join("minimal.log")]).expect("minimal");
    assert!(a.stats.pauses.concurrent_start.count > 0);
    assert!(a.stats.pauses.young.count > 3000);
}

#[test]
fn heap_not_fixed_is_a_flag_finding() {
    let a = run(&[fixture("other/g1-heap-not-fixed-jdk17.log")]).expect("analyse");
    let f = a
        .findings
        .iter()
        .find(|f| f.key == "heap_fixed")
        .expect("finding");
    assert_eq!(f.check, "jvm");
    assert_eq!(f.actual.as_deref(), Some("min 64M / max 256M"));
    assert_eq!(a.exit_code(), 1);
}

#[test]
fn no_time_decorators_give_null_rates() {
    let a = run(&[fixture("truth/jdk21/deco-none.log.gz")]).expect("analyse");
    assert_eq!(a.stats.gc_ms_per_second, None);
    assert_eq!(a.stats.worst_minute_gc_ms_per_second, None);
    assert!(a.stats.not_computable.contains(&"gc_ms_per_second"));
    let json = serde_json::to_value(&a).expect("json");
    assert!(json["gc_ms_per_second"].is_null());
    // Wall-clock-only (Kafka's time,tags) and uptime-only logs do have rates.
    for f in [
        "truth/jdk21/kafka-time-tags.log.gz",
        "truth/jdk21/gc-tag-only.log.gz",
    ] {
        let a = run(&[fixture(f)]).expect("analyse");
        let r = a.stats.gc_ms_per_second.expect(f);
        assert!(r > 0.0 && r < 1000.0, "{f}: {r}");
    }
}

/// Every collector the detector knows is named in its refusal as the lines
/// show it: real JDK 11/21/25 headers and headerless fragments, and JDK 8
/// layouts (ParNew + Serial Old was refused as "a CMS GC log").
#[test]
fn every_refusal_names_the_collector_the_lines_show() {
    for (file, what) in [
        ("zgc-jdk21.log", "a ZGC log, not G1"),
        ("zgc-generational-jdk21.log", "a ZGC log, not G1"),
        ("zgc-jdk25.log", "a ZGC log, not G1"),
        ("zgc-jdk25-fragment.log", "a ZGC log, not G1"),
        ("shenandoah-jdk21.log", "a Shenandoah GC log, not G1"),
        ("shenandoah-jdk25.log", "a Shenandoah GC log, not G1"),
        (
            "shenandoah-jdk25-fragment.log",
            "a Shenandoah GC log, not G1",
        ),
        ("epsilon-jdk11.log", "an Epsilon GC log, not G1"),
        ("epsilon-jdk21.log", "an Epsilon GC log, not G1"),
        ("serial-jdk25.log", "a Serial GC log, not G1"),
        ("parallel-jdk25.log", "a Parallel GC log, not G1"),
        // Headerless: their `gc,heap` lines name the generations.
        ("serial-jdk25-fragment.log", "a Serial GC log, not G1"),
        ("parallel-jdk25-fragment.log", "a Parallel GC log, not G1"),
        (
            "parnew-serial-old-jdk8.log",
            "a ParNew + Serial Old GC log, not G1",
        ),
        (
            "parnew-serial-old-jdk8-no-header.log",
            "a ParNew + Serial Old GC log, not G1",
        ),
        (
            "parnew-young-only-jdk8.log",
            "a ParNew GC log whose lines do not show its old-generation collector (CMS or Serial Old), not G1",
        ),
        ("defnew-cms-jdk8.log", "a CMS GC log, not G1"),
        ("serial-jdk8.log", "a Serial GC log, not G1"),
        ("parallel-jdk8.log", "a Parallel GC log, not G1"),
    ] {
        let path = fixture(&format!("collectors/{file}"));
        let err = run(std::slice::from_ref(&path))
            .expect_err(file)
            .to_string();
        assert!(err.contains(what), "{file}: {err}");
        assert!(err.contains(file), "{file}: {err}");
    }
    // The JDK 8 CMS fixture keeps its name (its flags say so before ParNew).
    let err = run(&[fixture("classes/jdk8-cms.log")])
        .expect_err("cms")
        .to_string();
    assert!(err.contains("a CMS GC log, not G1"), "{err}");
}

/// A lone empty file, or only empty files, is nothing to analyse (exit 2
/// naming it); an empty file in a rotated set stays harmless.
#[test]
fn empty_input_alone_is_nothing_to_analyse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("gc.log");
    std::fs::write(&empty, b"").expect("write");
    let err = run(std::slice::from_ref(&empty)).expect_err("lone empty file");
    assert!(matches!(err, GcError::NothingToAnalyse { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("gc.log") && msg.contains("nothing to analyse"),
        "{msg}"
    );
    // Whitespace only is empty too; two of them, or their directory, alike.
    let blank = dir.path().join("gc.log.0");
    std::fs::write(&blank, b"\n\n").expect("write");
    let err = run(&[empty.clone(), blank.clone()]).expect_err("two empty files");
    assert!(err.to_string().contains("gc.log.0"), "{err}");
    let err = run(&[dir.path().to_path_buf()]).expect_err("directory of empty files");
    assert!(matches!(err, GcError::NothingToAnalyse { .. }), "{err}");
    // Beside a real log it is a freshly rotated file.
    let log = dir.path().join("gc.log.1");
    std::fs::write(&log, gunzip(&fixture("truth/jdk17/kafka-time-tags.log.gz"))).expect("write");
    let a = run(&[log, empty]).expect("set with an empty file");
    assert!(a.stats.overall.count > 0);
    assert!(a.files.iter().any(|f| f.format == LogFormat::Empty));
}
