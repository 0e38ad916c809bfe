//! Where pause time went, from the log alone: CPU times per pause (JDK 8
//! `[Times:`, unified `gc,cpu`), GC worker counts, and safepoints (JDK 8-12
//! `Total time for which application threads were stopped`, JDK 13+
//! `Safepoint "..."`), read from trimmed real logs of JDK 11, 17, 21 and 25
//! and a JDK 8 log in HotSpot's layout; then the stalled-pause and safepoint
//! figures of `tunekeeper gc` over them.

use std::path::{Path, PathBuf};
use std::process::Command;

use tunekeeper::gc::event::{GcEvent, PauseKind};
use tunekeeper::gc::jdk8::Jdk8Parser;
use tunekeeper::gc::parser::{LineOutcome, LineParser};
use tunekeeper::gc::unified::UnifiedParser;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc")
        .join(name)
}

/// Events of a file and how many lines the parser did not recognise.
fn parse(parser: &mut dyn LineParser, path: &Path) -> (Vec<GcEvent>, usize) {
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut evs = Vec::new();
    let mut unknown = 0;
    for line in text.lines() {
        if parser.feed(line.as_bytes(), &mut |e| evs.push(e)) == LineOutcome::Unrecognised {
            unknown += 1;
        }
    }
    parser.finish(&mut |e| evs.push(e));
    (evs, unknown)
}

/// A number written after `key` in `line`, up to `end`, read by the test
/// itself (not by the parser under test).
fn number_after(line: &str, key: &str, end: &str) -> f64 {
    let at = line.find(key).expect(key) + key.len();
    let rest = &line[at..];
    rest[..rest.find(end).expect(end)]
        .trim()
        .parse()
        .expect("number")
}

fn gc_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .arg("gc")
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("run tunekeeper");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn jdk8_times_and_stopping_threads() {
    let (evs, unknown) = parse(&mut Jdk8Parser::new(), &fixture("pauses/jdk8-stopped.log"));
    assert_eq!(unknown, 0);
    let start = evs
        .iter()
        .find_map(|e| match e {
            GcEvent::JvmStart(i) => Some(i.clone()),
            _ => None,
        })
        .expect("start");
    assert_eq!(start.parallel_workers, Some(4), "-XX:ParallelGCThreads=4");
    // Each pause is followed by its CPU times.
    let mut seq = Vec::new();
    for e in &evs {
        match e {
            GcEvent::Pause(p) => seq.push(format!("pause {:?} {:?}", p.kind, p.workers)),
            GcEvent::PauseCpu(c) => {
                seq.push(format!("cpu {} {} {}", c.user_ms, c.sys_ms, c.real_ms))
            }
            GcEvent::Safepoint(s) => seq.push(format!(
                "safepoint {} {} {:?}",
                s.reaching_ms, s.total_ms, s.operation
            )),
            _ => {}
        }
    }
    assert_eq!(
        seq,
        [
            "pause Young Some(4)",
            "cpu 20 0 10",
            "safepoint 0.028 6.106 None",
            "safepoint 310 312 None",
            "pause Young Some(4)",
            "cpu 20 10 610",
            "safepoint 0.03 613 None",
            "pause Full None",
            "cpu 850 50 900",
            "safepoint 0.05 901.2 None",
        ]
    );

    let v = gc_json(&[fixture("pauses/jdk8-stopped.log").to_str().unwrap()]);
    let st = &v["stalls"];
    assert_eq!(st["pauses_with_cpu"], 3);
    // The 612 ms young pause used 30 ms of CPU on 4 threads: it waited.
    assert_eq!(st["stalled_pauses"], 1);
    assert_eq!(st["worst"][0]["duration_ms"], 612.345);
    assert_eq!(st["worst"][0]["threads"], 4);
    // The serial JDK 8 full GC worked 900 ms of CPU in 900 ms: not stalled,
    // though dividing by the header's 4 threads would have called it one.
    assert_eq!(st["worst"].as_array().map(Vec::len), Some(1));
    let sp = &v["safepoints"];
    assert_eq!(sp["count"], 4);
    // The stop with no pause before it is not a GC.
    assert_eq!(sp["non_gc_count"], 1);
    assert_eq!(sp["non_gc_stopped_ms"], 312.0);
    assert_eq!(sp["time_to_safepoint"]["max_ms"], 310.0);
    assert_eq!(sp["max_stopped_ms"], 901.2);
    let keys: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert!(!keys.contains(&"log_gc_cpu") && !keys.contains(&"log_safepoint"));
}

/// The unified fixtures: the first 90 lines of the shared corpus'
/// `with-safepoints.log` of each JDK (`-Xlog:gc*,safepoint`).
#[test]
fn unified_gc_cpu_and_safepoint_lines_of_jdk_11_17_21_25() {
    for jdk in [11, 17, 21, 25] {
        let path = fixture(&format!("pauses/unified-jdk{jdk}.log"));
        let text = std::fs::read_to_string(&path).unwrap();
        let (evs, unknown) = parse(&mut UnifiedParser::new(), &path);
        assert_eq!(unknown, 0, "jdk{jdk}");

        // CPU lines, read here by hand, in order.
        let cpu_lines: Vec<(f64, f64, f64)> = text
            .lines()
            .filter(|l| l.contains("User="))
            .map(|l| {
                (
                    number_after(l, "User=", "s ") * 1000.0,
                    number_after(l, "Sys=", "s ") * 1000.0,
                    number_after(l, "Real=", "s") * 1000.0,
                )
            })
            .collect();
        let mut last_pause_id = None;
        let mut cpus = Vec::new();
        for e in &evs {
            match e {
                GcEvent::Pause(p) => last_pause_id = Some(p.gc_id),
                GcEvent::PauseCpu(c) => {
                    assert_eq!(
                        Some(c.gc_id),
                        last_pause_id,
                        "jdk{jdk}: cpu follows its pause"
                    );
                    cpus.push((c.user_ms, c.sys_ms, c.real_ms));
                }
                _ => {}
            }
        }
        assert!(!cpus.is_empty(), "jdk{jdk}");
        assert_eq!(cpus, cpu_lines, "jdk{jdk}");

        // Safepoints: JDK 13+ in ns, JDK 11 in seconds.
        let expected: Vec<(f64, f64)> = text
            .lines()
            .filter_map(|l| {
                if l.contains("Safepoint \"") {
                    Some((
                        number_after(l, "Reaching safepoint: ", " ns") / 1e6,
                        number_after(l, "Total: ", " ns") / 1e6,
                    ))
                } else if l.contains("Total time for which") {
                    Some((
                        number_after(l, "Stopping threads took: ", " seconds") * 1e3,
                        number_after(l, "stopped: ", " seconds") * 1e3,
                    ))
                } else {
                    None
                }
            })
            .collect();
        let got: Vec<(f64, f64)> = evs
            .iter()
            .filter_map(|e| match e {
                GcEvent::Safepoint(s) => Some((s.reaching_ms, s.total_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), expected.len(), "jdk{jdk}");
        for (g, x) in got.iter().zip(&expected) {
            assert!(
                (g.0 - x.0).abs() < 1e-9 && (g.1 - x.1).abs() < 1e-9,
                "jdk{jdk}: {g:?} vs {x:?}"
            );
        }
        let ops: Vec<Option<bool>> = evs
            .iter()
            .filter_map(|e| match e {
                GcEvent::Safepoint(s) => Some(s.is_gc()),
                _ => None,
            })
            .collect();
        assert!(ops.iter().all(Option::is_some), "jdk{jdk}: every op named");
        if jdk == 11 {
            // JDK 11 names the operation on `Entering safepoint region:`;
            // the first two (biased locking) are not GCs.
            assert_eq!(&ops[..3], [Some(false), Some(false), Some(true)]);
        }

        // Workers: per pause (`Using 2 workers of 2`), and the header on 17+.
        let first = evs
            .iter()
            .find_map(|e| match e {
                GcEvent::Pause(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(first.kind, PauseKind::Young);
        assert_eq!(first.workers, Some(2), "jdk{jdk}");
        let header = evs.iter().find_map(|e| match e {
            GcEvent::JvmStart(i) => Some(i.parallel_workers),
            _ => None,
        });
        let want = if jdk == 11 { None } else { Some(2) };
        assert_eq!(header, Some(want), "jdk{jdk}");
    }
}

#[test]
fn logs_without_the_lines_say_null_and_why() {
    // `-Xlog:gc` only: neither CPU times nor safepoints.
    let v = gc_json(&[fixture("truth/jdk17/gc-tag-only.log.gz").to_str().unwrap()]);
    assert!(v["stalls"]["stalled_pauses"].is_null());
    assert!(v["stalls"]["stalled_share_percent"].is_null());
    assert!(
        v["stalls"]["null_because"]
            .as_str()
            .unwrap()
            .contains("gc+cpu")
    );
    assert!(v["safepoints"]["time_to_safepoint"].is_null());
    assert!(
        v["safepoints"]["null_because"]
            .as_str()
            .unwrap()
            .contains("-Xlog:gc*,safepoint")
    );
    let advice: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["key"] == "log_gc_cpu" || f["key"] == "log_safepoint")
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_owned(),
                f["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(advice.len(), 2, "{advice:?}");
    assert!(
        advice
            .iter()
            .all(|(_, d)| d.contains("-Xlog:gc*,safepoint"))
    );

    // `gc*` without safepoint: CPU times yes, safepoints no.
    let v = gc_json(&[fixture("truth/jdk21/default-decorators.log.gz")
        .to_str()
        .unwrap()]);
    assert_eq!(v["stalls"]["stalled_pauses"], 0);
    assert!(v["stalls"]["pauses_with_cpu"].as_u64().unwrap() > 10);
    assert!(v["safepoints"]["time_to_safepoint"].is_null());
}

#[test]
fn every_pause_of_a_real_log_has_its_cpu_time_and_safepoint() {
    for jdk in [11, 17, 21, 25] {
        let path = fixture(&format!("truth/jdk{jdk}/with-safepoints.log.gz"));
        let v = gc_json(&[path.to_str().unwrap()]);
        let pauses = v["overall"]["count"].as_u64().unwrap();
        assert!(pauses > 10, "jdk{jdk}");
        assert_eq!(v["stalls"]["pauses_with_cpu"], pauses, "jdk{jdk}");
        let tts = &v["safepoints"]["time_to_safepoint"];
        assert!(tts["p99_ms"].as_f64().unwrap() <= tts["max_ms"].as_f64().unwrap());
        // Every pause is inside a safepoint: stopped time covers pause time.
        let stopped = v["safepoints"]["stopped_ms"].as_f64().unwrap();
        let paused = v["overall"]["total_ms"].as_f64().unwrap();
        assert!(stopped >= paused * 0.99, "jdk{jdk}: {stopped} < {paused}");
    }
}

#[test]
fn profile_sets_the_stall_rule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("strict.toml"),
        "description = \"test\"\ninclude = [\"kafka-broker\"]\n[gc]\n\
         stall_ratio = { expect = \">=2\", why = \"test\" }\n\
         stall_min_ms = { expect = \">=5\", why = \"test\" }\n\
         stalled_pauses = { expect = \"<=0\", why = \"test\" }\n",
    )
    .unwrap();
    let log = fixture("pauses/jdk8-stopped.log");
    let v = gc_json(&[
        "--profile-dir",
        dir.path().to_str().unwrap(),
        "-p",
        "strict",
        log.to_str().unwrap(),
    ]);
    assert_eq!(v["stalls"]["rule"]["ratio"], 2.0);
    assert_eq!(v["stalls"]["rule"]["min_wait_ms"], 5.0);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "stalled_pauses")
        .expect("stalled_pauses finding");
    assert_eq!(f["status"], "drift");
    assert_eq!(f["actual"], "1");
    // The rule's keys are settings, not findings.
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["key"] != "stall_ratio" && f["key"] != "stall_min_ms")
    );
}

fn gc_run(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .arg("gc")
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("run tunekeeper");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), v, stderr)
}

fn finding<'a>(v: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no finding {key}"))
}

#[test]
fn broker_config_sets_the_timeout_budget() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("server.properties");
    std::fs::write(
        &cfg,
        "process.roles=broker\nnode.id=3\nbroker.session.timeout.ms=1500\n",
    )
    .unwrap();
    let log = fixture("pauses/jdk8-stopped.log");
    let (code, v, err) = gc_run(&[
        "--broker-config",
        cfg.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    let budget = v["timeout_budget"].as_array().expect("timeout_budget");
    let keys: Vec<&str> = budget.iter().map(|t| t["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "broker.session.timeout.ms",
            "broker.heartbeat.interval.ms",
            "replica.lag.time.max.ms",
            "session.timeout.ms"
        ]
    );
    assert_eq!(budget[0]["value_ms"], 1500);
    assert_eq!(
        budget[1]["value_ms"], 2000,
        "a KRaft broker's heartbeat, Kafka's default"
    );
    assert_eq!(budget[0]["worst_pause_ms"], 900.0);
    assert_eq!(budget[0]["worst_stop_ms"], 901.2);
    assert_eq!(budget[0]["worst_pause_percent"], 60.0);
    // The 901 ms stop is more than half of 1.5 s: a finding naming the
    // timeout, its value, where it came from, and the pause.
    let f = finding(&v, "timeout:broker.session.timeout.ms");
    assert_eq!(f["status"], "drift");
    let detail = f["detail"].as_str().unwrap();
    assert!(detail.contains("1500 ms"), "{detail}");
    assert!(detail.contains(cfg.to_str().unwrap()), "{detail}");
    assert!(detail.contains("full pause of 900.0 ms"), "{detail}");
    let f = finding(&v, "timeout:replica.lag.time.max.ms");
    assert_eq!(f["status"], "ok");
    assert!(f["detail"].as_str().unwrap().contains("Kafka's default"));

    // Without a configuration there is no budget (and no finding).
    let (_, v, _) = gc_run(&[log.to_str().unwrap()]);
    assert!(v.get("timeout_budget").is_none());
}

#[test]
fn a_timeout_that_is_not_a_number_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("server.properties");
    std::fs::write(&cfg, "zookeeper.session.timeout.ms=18s\n").unwrap();
    let log = fixture("pauses/jdk8-stopped.log");
    let (code, v, err) = gc_run(&[
        "--broker-config",
        cfg.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(v.is_null(), "nothing half-written");
    assert!(
        err.contains(cfg.to_str().unwrap()) && err.contains("zookeeper.session.timeout.ms"),
        "{err}"
    );
}

#[test]
fn pid_of_a_running_broker_gives_its_timeouts_and_overrides() {
    let javac = Command::new("javac").arg("-version").output();
    if !javac.is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: no JDK (javac/java) on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let classes = dir.path().join("classes");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jvm/idle-broker/kafka/Kafka.java");
    assert!(
        Command::new("javac")
            .arg("-d")
            .arg(&classes)
            .arg(&src)
            .status()
            .unwrap()
            .success()
    );
    let cfg = dir.path().join("server.properties");
    std::fs::write(
        &cfg,
        "zookeeper.connect=localhost:2181\nreplica.lag.time.max.ms=1600\n",
    )
    .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut broker = Kill(
        Command::new("java")
            .args(["-Xmx64m", "-cp"])
            .arg(&classes)
            .arg("kafka.Kafka")
            .arg(&cfg)
            .args(["--override", "zookeeper.session.timeout.ms=6000"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Wait for "up": main runs, so the command line is the broker's.
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(broker.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "up");
    let pid = broker.0.id().to_string();
    let log = fixture("pauses/jdk8-stopped.log");
    let (_, v, err) = gc_run(&["--pid", &pid, log.to_str().unwrap()]);
    let budget = v["timeout_budget"]
        .as_array()
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(budget[0]["key"], "zookeeper.session.timeout.ms");
    assert_eq!(budget[0]["value_ms"], 6000);
    assert!(budget[0]["from"].as_str().unwrap().contains("--override"));
    assert_eq!(budget[1]["value_ms"], 1600);
    assert_eq!(budget[1]["from"], cfg.to_str().unwrap());
    assert_eq!(
        finding(&v, "timeout:replica.lag.time.max.ms")["status"],
        "drift"
    );
    assert_eq!(
        finding(&v, "timeout:zookeeper.session.timeout.ms")["status"],
        "ok"
    );
    // Static causes of stalls for that JVM: it runs without
    // -XX:+PerfDisableSharedMem, so /tmp's file system decides.
    let tmp = Command::new("stat")
        .args(["-f", "-c", "%T", "/tmp"])
        .output()
        .unwrap();
    let want = if String::from_utf8_lossy(&tmp.stdout).trim() == "tmpfs" {
        "ok"
    } else {
        "drift"
    };
    let f = finding(&v, "hsperfdata_off_disk");
    assert_eq!(f["status"], want, "{f}");
    assert_eq!(f["check"], "stall");
}
