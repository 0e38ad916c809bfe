//! The collector under hostile reports (issue 19, the collector's side):
//! what the backends store is the same (principle 5), every input bounded
//! (principle 1), the webhook neither follows redirects nor shows its URL's
//! secrets, and two machines under one host name. The real binary on
//! loopback, a real SQLite file or a real PostgreSQL server.

use crate::collector_support;

// The same tests on SQLite and on a real PostgreSQL server.
on_both!(
    p5_a_nul_in_log_dirs_is_refused_alike_and_the_next_report_is_stored,
    p5_every_string_of_a_report_refuses_a_nul_and_an_overlong_value,
    p5_a_report_the_database_refuses_is_422_not_a_5xx_retried_for_ever,
    p1_deep_json_in_an_unknown_field_is_refused_and_what_is_served_reads_back,
    p1_interval_seconds_is_bounded_as_the_agents_interval,
    p1_cluster_names_ids_and_machine_ids_are_bounded,
    p1_counts_of_lists_are_bounded_and_refusals_counted_by_limit,
    machines_taking_turns_under_one_name_are_a_conflict_with_their_own_drift,
    a_replaced_machine_is_no_conflict,
);

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use collector_support::{
    Collector, READ_TOKEN, ago, drift, eventually, exec_sql, fixture, postgres, report,
};
use serde_json::{Value, json};
use tunekeeper::collector::limits::{
    INTERVAL_SECONDS, MAX_CLUSTER_BYTES, MAX_JSON_DEPTH, MAX_JVM_FLAGS, MAX_JVMS, MAX_NUMBER_BYTES,
    MAX_STRING_BYTES,
};
use tunekeeper::finding::{Finding, Status, Summary, WaiverNote};
use tunekeeper::report::{
    AgentInfo, BrokerHardware, Cluster, CounterCheck, CounterFigure, CounterPauses,
    CounterSafepoints, CounterWindow, GcLogLines, GcReport, GcSafepoints, GcStalls, GcWindow,
    Hardware, HostInfo, JvmCounters, JvmReport, LogDirSize, NetLink, PauseSummary, Report,
    RoleReport, SCHEMA_VERSION, StalledPauseReport,
};

fn host<'a>(hosts: &'a Value, name: &str) -> &'a Value {
    hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == name)
        .unwrap_or_else(|| panic!("host {name:?} missing from {hosts}"))
}

/// The value of the refusal counter for `limit` in `/metrics`.
fn refused(c: &Collector, limit: &str) -> u64 {
    let (status, text) = c.get("/metrics", Some(READ_TOKEN));
    assert_eq!(status, 200, "{text}");
    let series = format!("tunekeeper_collector_reports_refused_total{{limit=\"{limit}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
        .parse()
        .unwrap()
}

/// Asserts a 422 naming `field` (and, when given, saying `says`).
fn assert_refused(answer: (u16, String), field: &str, says: &str) {
    let (status, body) = answer;
    assert_eq!(status, 422, "{field}: {body}");
    let error = serde_json::from_str::<Value>(&body).unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.starts_with(&format!("{field}: ")),
        "names {field}: {error}"
    );
    assert!(error.contains(says), "{field}: says {says:?}: {error}");
}

// ---- Principle 5: what the backends store is the same -------------------

/// A broker's `log.dirs=/x\u0000y` reaches the report as a drifting
/// `kafka` finding: a column of the drift history. On PostgreSQL that was
/// a 500 the agent retried for ever (SQLite stored it).
fn p5_a_nul_in_log_dirs_is_refused_alike_and_the_next_report_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut r = report("nul-host", "nul-1", &ago(Duration::from_secs(60)), 60);
    let findings = r["findings"].as_array_mut().unwrap();
    findings.push(json!({
        "check": "kafka", "key": "log.dirs", "expected": "directories that exist",
        "actual": "/x\u{0}y", "status": "drift",
        "detail": "log.dirs=/x\u{0}y (/opt/kafka/config/server.properties)",
    }));
    let at = findings.len() - 1;
    assert_refused(
        c.post(&r),
        &format!("findings[{at}].actual"),
        "a NUL character",
    );
    assert_eq!(refused(&c, "nul"), 1);
    // The reports behind it go on.
    let next = report("nul-host", "nul-2", &ago(Duration::ZERO), 60);
    assert_eq!(c.post(&next).0, 202);
    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(host(&hosts, "nul-host")["last_report_id"], "nul-2");
}

/// A report with every optional part present and every list non-empty,
/// built from the types field by field (no `..Default`): a field added to
/// the report later does not compile here until it is given a value, and
/// then its strings are tested with the rest.
fn maximal_report(id: &str) -> Value {
    let finding = |check: &str, key: &str, status: Status| Finding {
        check: check.into(),
        key: key.into(),
        expected: "1".into(),
        actual: Some("60".into()),
        status,
        source: Some("kafka-broker: low swappiness".into()),
        detail: Some("set in /etc/sysctl.d/99-x.conf".into()),
        waiver: Some(WaiverNote {
            justification: "vendor image".into(),
            expires: Some("2030-01-01".into()),
            expired: false,
            from: "/etc/tunekeeper/waivers.toml:3".into(),
        }),
    };
    let pause = PauseSummary {
        count: 3,
        total_ms: 30.0,
        mean_ms: 10.0,
        p50_ms: 9.0,
        p90_ms: 12.0,
        p99_ms: 14.0,
        p999_ms: 14.0,
        max_ms: 14.0,
    };
    let window = |name: &str| GcWindow {
        window: name.into(),
        pauses: BTreeMap::from([("young".to_owned(), pause)]),
        overall: pause,
        wall_seconds: Some(60.0),
        gc_ms_per_second: Some(0.5),
        worst_minute_gc_ms_per_second: Some(0.5),
        rates_null_because: Some("the JVM ran less than a minute of this window".into()),
        full_gcs: 0,
        evacuation_failures: 0,
        humongous_allocations: 1,
        stalls: Some(GcStalls {
            pauses_with_cpu: 3,
            stalled_pauses: Some(1),
            stalled_ms: Some(14.0),
            stalled_share_percent: Some(46.0),
            worst: vec![StalledPauseReport {
                kind: "young".into(),
                wall_ms: Some(1_700_000_000_000),
                uptime_ms: Some(1000.0),
                duration_ms: 14.0,
                cpu_ms: 1.0,
                threads: 4,
                host: Some("io pressure 40%".into()),
            }],
            null_because: Some("fewer than 10 pauses with CPU times".into()),
        }),
        safepoints: Some(GcSafepoints {
            count: 5,
            time_to_safepoint_p99_ms: Some(0.2),
            time_to_safepoint_max_ms: Some(0.3),
            non_gc_count: Some(2),
            non_gc_stopped_ms: Some(1.0),
            max_stopped_ms: Some(14.0),
            null_because: Some("no safepoint lines before JDK 9".into()),
        }),
    };
    let counter_window = |name: &str| CounterWindow {
        window: name.into(),
        seconds: Some(60.0),
        pauses: BTreeMap::from([(
            "young".to_owned(),
            CounterPauses {
                count: 4,
                time_ms: 40.0,
            },
        )]),
        gc_ms_per_second: Some(0.7),
        safepoints: CounterSafepoints {
            count: 9,
            reaching_ms: 0.9,
            at_safepoint_ms: Some(41.0),
            mean_reaching_ms: Some(0.1),
            mean_at_safepoint_ms: Some(4.5),
            worst_mean_reaching_ms: Some(0.3),
            worst_mean_at_safepoint_ms: Some(9.0),
            stretches: 4,
            null_because: Some("JDK 11 keeps no at-safepoint time".into()),
        },
    };
    let findings = vec![finding("sysctl", "vm.swappiness", Status::Waived)];
    let r = Report {
        schema: SCHEMA_VERSION,
        id: id.into(),
        time: ago(Duration::ZERO),
        interval_seconds: 60,
        host: HostInfo {
            hostname: "maximal".into(),
            machine_id: Some("0123456789abcdef0123456789abcdef".into()),
            kernel: "6.1.0-18-amd64".into(),
            cpus: 8,
            memory_bytes: 32 << 30,
        },
        profile: "kafka-broker".into(),
        summary: Summary::of(&findings),
        findings,
        jvms: vec![JvmReport {
            pid: 4242,
            command: "kafka.Kafka /opt/kafka/config/server.properties".into(),
            roles: vec!["broker".into()],
            profile: Some("kafka-broker".into()),
            config: Some("/opt/kafka/config/server.properties".into()),
            flags: vec!["-Xmx6g".into()],
            findings: vec![finding("gc", "pause_p99_ms", Status::Ok)],
            gc_logs: vec!["/var/log/kafka/gc.log".into()],
            gc: Some(GcReport {
                interval: window("last_interval"),
                total: window("jvm_lifetime"),
                gc_ids_missing: Some(0),
                lines: Some(GcLogLines {
                    read: 100,
                    unrecognised: 1,
                    other: 2,
                    other_kinds: BTreeMap::from([("class".to_owned(), 2)]),
                }),
            }),
            exited: true,
            counters: Some(JvmCounters {
                state: "read".into(),
                reason: None,
                remedy: Some("a drop-in grants CAP_DAC_READ_SEARCH".into()),
                path: Some("/tmp/hsperfdata_kafka/4242".into()),
                jdk: Some(21),
                only_witness: false,
                interval: Some(counter_window("last_interval")),
                total: Some(counter_window("jvm_lifetime")),
                cross_check: Some(CounterCheck {
                    verified: false,
                    summary: "young pauses: the log has 3, the JVM counted 4".into(),
                    checks: vec![CounterFigure {
                        figure: "young pauses".into(),
                        log: 3.0,
                        jvm: Some(4.0),
                        unit: "pauses".into(),
                        tolerance: 0.0,
                        status: "differs".into(),
                        detail: Some("the log set rotated lines away".into()),
                    }],
                    not_comparable: Some("no safepoint lines".into()),
                }),
            }),
        }],
        roles: vec![RoleReport {
            role: "broker".into(),
            profile: "kafka-broker".into(),
            because: "a broker runs here (pid 4242)".into(),
            pids: vec![4242],
            running: true,
            missing_since: Some("2026-11-25T06:00:00Z".into()),
            process_key: "running".into(),
            summary: Summary::default(),
            finding_keys: vec![["sysctl".into(), "vm.swappiness".into()]],
        }],
        agent: AgentInfo {
            version: "0.1.0".into(),
            spool_dropped_total: 0,
            spool_depth: 0,
        },
        cluster: Some(Cluster {
            name: "orders".into(),
            from: "config".into(),
        }),
        host_pressure: Some(tunekeeper::host::pressure::HostPressure {
            seconds: 60.0,
            io: Some(tunekeeper::host::pressure::PressureShare {
                some_percent: 1.0,
                full_percent: Some(0.5),
            }),
            memory: None,
            cpu: None,
            dirty_kb: Some(1),
            writeback_kb: Some(0),
            major_faults: Some(0),
            swap_in_pages: Some(0),
            swap_out_pages: Some(0),
            direct_reclaim_stalls: Some(0),
            compaction_stalls: Some(0),
            process_major_faults: Some(0),
        }),
        hardware: Some(Hardware {
            network: vec![NetLink {
                name: "eth0".into(),
                speed_mbps: Some(10_000),
            }],
            brokers: vec![BrokerHardware {
                broker_id: Some(1),
                broker_id_from: Some("node.id".into()),
                log_dirs: vec![LogDirSize {
                    path: "/data1/kafka".into(),
                    total_bytes: Some(1 << 40),
                }],
            }],
        }),
    };
    serde_json::to_value(&r).unwrap()
}

/// Every string of `v` with its JSON path (the form the collector names
/// fields in: `jvms[0].gc.interval.stalls.worst[0].kind`).
fn strings(v: &Value, path: &str, out: &mut Vec<String>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::String(_) => out.push(path.to_owned()),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                strings(x, &join(k), out);
            }
        }
        _ => {}
    }
}

/// The value at a path made by [`strings`].
fn at<'a>(v: &'a mut Value, path: &str) -> &'a mut Value {
    let mut cur = v;
    for part in path.split('.') {
        let (name, idx) = match part.split_once('[') {
            Some((n, rest)) => (n, Some(rest)),
            None => (part, None),
        };
        cur = &mut cur[name];
        if let Some(rest) = idx {
            for i in rest.split('[') {
                cur = &mut cur[i.trim_end_matches(']').parse::<usize>().unwrap()];
            }
        }
    }
    cur
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Every string of a real report (the fixture, from an agent) and of a
/// report with every part present: a NUL in it, or a value one byte past
/// the bound, is 422 naming that field, on both backends; nothing is
/// stored; the report as it is stores and reads back.
fn p5_every_string_of_a_report_refuses_a_nul_and_an_overlong_value() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut base_fixture = fixture();
    base_fixture["time"] = ago(Duration::ZERO).into();
    let maximal = maximal_report("maximal-0");
    assert_eq!(depth(&maximal), 8, "the README says a report is 8 deep");
    let mut cases = 0;
    for (name, base) in [("fixture", base_fixture), ("maximal", maximal.clone())] {
        let mut paths = Vec::new();
        strings(&base, "", &mut paths);
        assert!(paths.len() > 40, "{name}: {} strings", paths.len());
        for (i, path) in paths.iter().enumerate() {
            let mut r = base.clone();
            r["id"] = format!("{name}-nul-{i}").into();
            let s = at(&mut r, path);
            let text = s.as_str().unwrap().to_owned();
            *s = format!("{text}\u{0}end").into();
            assert_refused(c.post(&r), path, "a NUL character");

            let mut r = base.clone();
            r["id"] = format!("{name}-long-{i}").into();
            *at(&mut r, path) = "é".repeat(MAX_STRING_BYTES / 2 + 1).into();
            assert_refused(
                c.post(&r),
                path,
                &format!("longer than the bound of {MAX_STRING_BYTES} bytes"),
            );
            cases += 2;
        }
    }
    assert!(cases > 700, "{cases} cases");
    assert_eq!(
        c.get_json("/api/v1/hosts"),
        json!([]),
        "nothing refused was stored"
    );
    assert_eq!(refused(&c, "nul") + refused(&c, "string_bytes"), cases);
    // The report itself, every part present, is stored and read back whole.
    assert_eq!(c.post(&maximal).0, 202);
    let docs = c.get_json("/api/v1/hosts/maximal/reports");
    assert_eq!(docs[0], maximal);
}

/// A report past every bound of ingest, that the database still refuses
/// (here a trigger stands in for whatever a database may refuse): the
/// answer is 422, which the agent sets aside, never a 5xx, which it
/// retries for ever with everything behind it waiting.
fn p5_a_report_the_database_refuses_is_422_not_a_5xx_retried_for_ever() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    assert_eq!(
        c.post(&report("warm", "warm-1", &ago(Duration::ZERO), 60))
            .0,
        202
    );
    let sql = if postgres().is_some() {
        "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN
           IF NEW.profile = 'poison' THEN
             RAISE EXCEPTION 'poisoned profile' USING ERRCODE = 'check_violation';
           END IF;
           RETURN NEW;
         END $$ LANGUAGE plpgsql;
         CREATE TRIGGER poison BEFORE INSERT ON hosts FOR EACH ROW EXECUTE FUNCTION poison();"
    } else {
        "CREATE TRIGGER poison BEFORE INSERT ON hosts WHEN NEW.profile = 'poison'
         BEGIN SELECT RAISE(ABORT, 'poisoned profile'); END;"
    };
    exec_sql(dir.path(), sql);
    let mut bad = report("poisoned", "poison-1", &ago(Duration::ZERO), 60);
    bad["profile"] = "poison".into();
    let (status, body) = c.post(&bad);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("poisoned profile"), "{body}");
    assert_eq!(refused(&c, "storage"), 1);
    // Nothing of it was kept: a retry is refused again, not a duplicate.
    assert_eq!(c.post(&bad).0, 422);
    let next = report("poisoned", "poison-2", &ago(Duration::ZERO), 60);
    assert_eq!(c.post(&next).0, 202, "the reports behind it go on");
}

// ---- Principle 1: every input bounded ----------------------------------

/// `depth` nested arrays around a number.
fn nested(depth: usize) -> Value {
    let text = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    serde_json::from_str(&text).unwrap_or_else(|_| {
        // Deeper than serde_json's own limit: built by hand.
        let mut v = json!(1);
        for _ in 0..depth {
            v = Value::Array(vec![v]);
        }
        v
    })
}

/// Deeply nested JSON in a field the collector does not know was stored
/// and served back, and the host's listing could then not be read (here
/// by serde_json, whose limit is 128 levels). Refused now, with the
/// path; nesting within the bound is stored and reads back; so does a
/// long number refused in an unknown field.
fn p1_deep_json_in_an_unknown_field_is_refused_and_what_is_served_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut r = report("deep", "deep-1", &ago(Duration::ZERO), 60);
    // Written as text: serde_json itself would not build this Value.
    let body = r.to_string();
    let deep = format!(
        "{},\"surprise\":{}1{}}}",
        &body[..body.len() - 1],
        "[".repeat(400),
        "]".repeat(400)
    );
    let (status, answer) = c.post_raw(
        collector_support::gzip(deep.as_bytes()),
        Some(collector_support::TOKEN),
        Some("gzip"),
    );
    assert_eq!(status, 422, "{answer}");
    let field = format!("surprise{}", "[0]".repeat(MAX_JSON_DEPTH - 1));
    assert!(
        answer.contains(&format!("{field}: nested deeper than 32 levels")),
        "{answer}"
    );
    // A number of 5,000 digits in an unknown field: many readers refuse it.
    r["id"] = "deep-2".into();
    let digits = format!(
        "{},\"big\":{}}}",
        &r.to_string()[..r.to_string().len() - 1],
        "9".repeat(5000)
    );
    let (status, answer) = c.post_raw(
        collector_support::gzip(digits.as_bytes()),
        Some(collector_support::TOKEN),
        Some("gzip"),
    );
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer.contains("big: a number written with 5000 characters"),
        "{answer}"
    );
    assert!(answer.contains(&format!("{MAX_NUMBER_BYTES}")), "{answer}");
    // Within the bound: stored with the document, and the listing reads.
    r["id"] = "deep-3".into();
    r["surprise"] = nested(MAX_JSON_DEPTH - 2);
    assert_eq!(c.post(&r).0, 202);
    let (status, listing) = c.get("/api/v1/hosts/deep/reports", None);
    assert_eq!(status, 200);
    let docs: Value = serde_json::from_str(&listing).expect("the listing reads back");
    assert_eq!(docs[0]["surprise"], r["surprise"]);
    assert_eq!(refused(&c, "json_depth"), 1);
    assert_eq!(refused(&c, "number_bytes"), 1);
}

/// A report saying `interval_seconds` = 10^15 made its host never stale.
/// Bounded as the agent's own `interval` is: 1 s to a day.
fn p1_interval_seconds_is_bounded_as_the_agents_interval() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let hour_ago = ago(Duration::from_secs(3600));
    for (i, bad) in [1_000_000_000_000_000u64, INTERVAL_SECONDS.1 + 1, 0]
        .iter()
        .enumerate()
    {
        let r = report("never-stale", &format!("i-{i}"), &hour_ago, *bad);
        assert_refused(
            c.post(&r),
            "interval_seconds",
            "the agent's `interval` range",
        );
    }
    assert_eq!(refused(&c, "interval_seconds"), 3);
    // At the bound: stored, and an hour without a report on a 60 s
    // interval is stale.
    let r = report("never-stale", "i-ok", &hour_ago, 60);
    assert_eq!(c.post(&r).0, 202);
    let day = report("daily", "d-ok", &hour_ago, INTERVAL_SECONDS.1);
    assert_eq!(c.post(&day).0, 202);
    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(host(&hosts, "never-stale")["stale"], true);
    assert_eq!(host(&hosts, "daily")["stale"], false);
}

/// Cluster names had no length bound (a 1 MiB name in every alert, label
/// and page); the report id's bound answered 400 as if malformed; a
/// machine id is an id.
fn p1_cluster_names_ids_and_machine_ids_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut r = report("clustered", "c-1", &ago(Duration::ZERO), 60);
    r["cluster"] = json!({ "name": "o".repeat(MAX_CLUSTER_BYTES + 1), "from": "config" });
    assert_refused(c.post(&r), "cluster.name", "longer than the bound of 128");
    r["cluster"]["name"] = "o".repeat(MAX_CLUSTER_BYTES).into();
    assert_eq!(c.post(&r).0, 202);
    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(
        host(&hosts, "clustered")["cluster"],
        "o".repeat(MAX_CLUSTER_BYTES)
    );

    let long_id = "i".repeat(129);
    let r = report("clustered", &long_id, &ago(Duration::ZERO), 60);
    assert_refused(c.post(&r), "id", "longer than the bound of 128");
    let mut r = report("clustered", "c-2", &ago(Duration::ZERO), 60);
    for bad in ["a/b", "", "x y", &"m".repeat(129)] {
        r["host"]["machine_id"] = bad.into();
        assert_refused(c.post(&r), "host.machine_id", "not a machine id");
    }
    assert_eq!(refused(&c, "cluster"), 1);
    assert_eq!(refused(&c, "id"), 1);
    assert_eq!(refused(&c, "machine_id"), 4);
}

/// JVMs, a JVM's flags, the hardware's log directories and any list the
/// collector does not know: bounded in count, each refusal naming the
/// list and counted by its limit.
fn p1_counts_of_lists_are_bounded_and_refusals_counted_by_limit() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &["--max-body-bytes", "16777216"]);
    let base = report("lists", "l-0", &ago(Duration::ZERO), 60);
    let jvm = base["jvms"][0].clone();

    let mut r = base.clone();
    r["id"] = "l-jvms".into();
    r["jvms"] = Value::Array(vec![jvm.clone(); MAX_JVMS + 1]);
    assert_refused(c.post(&r), "jvms", "257 items, more than the bound of 256");

    let mut r = base.clone();
    r["id"] = "l-flags".into();
    r["jvms"][0]["flags"] = Value::Array(vec!["-Xss1m".into(); MAX_JVM_FLAGS + 1]);
    assert_refused(c.post(&r), "jvms[0].flags", "more than the bound of 1024");

    let mut r = maximal_report("l-dirs");
    let dirs = &mut r["hardware"]["brokers"][0]["log_dirs"];
    let one = dirs[0].clone();
    *dirs = Value::Array(vec![one; 1025]);
    assert_refused(
        c.post(&r),
        "hardware.brokers[0].log_dirs",
        "more than the bound of 1024",
    );

    let mut r = base.clone();
    r["id"] = "l-unknown".into();
    r["agent"]["future_list"] = Value::Array(vec![json!(0); 16_385]);
    assert_refused(c.post(&r), "agent.future_list", "more than 16384 items");

    // At the bounds: stored.
    let mut r = base.clone();
    r["id"] = "l-ok".into();
    r["jvms"] = Value::Array(vec![jvm; MAX_JVMS]);
    assert_eq!(c.post(&r).0, 202);

    for (limit, n) in [("jvms", 1), ("jvm_flags", 1), ("hardware", 1), ("items", 1)] {
        assert_eq!(refused(&c, limit), n, "{limit}");
    }
    let (_, text) = c.get("/metrics", Some(READ_TOKEN));
    assert!(
        text.contains(
            "tunekeeper_collector_reports_received_total{outcome=\"refused\",code=\"422\"} 4"
        ),
        "{text}"
    );
}

// ---- The webhook --------------------------------------------------------

/// What a receiver saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// A webhook receiver on loopback: the first `redirects` requests are
/// answered `301 Moved Permanently` to `/moved`, the rest 200. Every
/// request is kept.
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn start(redirects: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&seen), Arc::clone(&stop));
        let answered = AtomicUsize::new(0);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let Some(req) = read_request(&mut conn) else {
                    continue;
                };
                s.lock().unwrap().push(req);
                let answer: &[u8] = if answered.fetch_add(1, Ordering::SeqCst) < redirects {
                    b"HTTP/1.1 301 Moved Permanently\r\nlocation: /moved\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                } else {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                };
                let _ = conn.write_all(answer);
            }
        });
        Receiver { addr, seen, stop }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// One HTTP/1.1 request: method, path and body.
fn read_request(conn: &mut TcpStream) -> Option<Seen> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .to_ascii_lowercase()
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut first = head.split_whitespace();
    Some(Seen {
        method: first.next()?.to_owned(),
        path: first.next()?.to_owned(),
        body: buf[head_end..head_end + len].to_vec(),
    })
}

fn webhook_counter(c: &Collector, series: &str) -> f64 {
    let (_, text) = c.get("/metrics", Some(READ_TOKEN));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .unwrap_or_else(|| panic!("no {series} in {text}"))
        .parse()
        .unwrap()
}

/// A 301 from the receiver was followed: the alert became a GET without
/// a body, counted delivered. Now a 3xx is a failed attempt, counted and
/// retried, and the alert arrives as the POST it is.
#[test]
fn webhook_a_redirect_is_a_failed_attempt_retried_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(2);
    let url = format!("http://{}/hook", rx.addr);
    let c = Collector::start(
        dir.path(),
        &[
            "--webhook",
            &url,
            "--alert-interval-seconds",
            "1",
            "--read-token-file",
            dir.path().join("read-tokens").to_str().unwrap(),
        ],
    );
    let mut r = report("redirected", "rd-1", &ago(Duration::ZERO), 60);
    drift(&mut r, "vm.swappiness", "60");
    assert_eq!(c.post(&r).0, 202);
    let posted = eventually(|| {
        rx.seen()
            .iter()
            .any(|s| s.method == "POST" && s.path == "/hook" && !s.body.is_empty())
            && rx.seen().len() >= 3
    });
    let seen = rx.seen();
    assert!(posted, "{seen:?}");
    assert!(
        seen.iter().all(|s| s.method == "POST" && s.path == "/hook"),
        "a redirect was followed: {seen:?}"
    );
    let body: Value = serde_json::from_slice(&seen[2].body).unwrap();
    assert_eq!(body["alerts"][0]["labels"]["host"], "redirected");
    let delivered = "tunekeeper_collector_webhook_messages_total{outcome=\"delivered\"}";
    let redirects = "tunekeeper_collector_webhook_attempts_failed_total{kind=\"redirect\"}";
    assert!(eventually(|| { webhook_counter(&c, delivered) == 1.0 }));
    assert_eq!(webhook_counter(&c, redirects), 2.0);
}

/// The webhook URL's query (`?token=...`) was logged at every failed
/// attempt, inside the HTTP client's error text. Now it reaches no log
/// line, metric, page or API: whatever fails (no connection, a 5xx).
#[test]
fn webhook_the_urls_secrets_reach_no_log_metric_page_or_api() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: every attempt fails to connect.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let secret = "s3cr3t-t0ken-4f1e";
    let url =
        format!("http://ops:pa55-{secret}@127.0.0.1:{port}/hook?token={secret}#frag-{secret}");
    let log = dir.path().join("stderr.log");
    let wrapper = format!("exec \"$@\" 2>>{}", log.display());
    let c = Collector::start_with(
        dir.path(),
        &[
            "--webhook",
            &url,
            "--alert-interval-seconds",
            "1",
            "--webhook-timeout-seconds",
            "1",
        ],
        &["sh", "-c", &wrapper, "sh"],
    );
    let mut r = report("secretive", "s-1", &ago(Duration::ZERO), 60);
    drift(&mut r, "vm.swappiness", "60");
    assert_eq!(c.post(&r).0, 202);
    let failed = eventually(|| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("webhook delivery failed")
            .count()
            >= 2
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(failed, "no failed attempt logged: {text}");
    assert!(!text.contains(secret), "the log shows a secret: {text}");
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/hook")),
        "the log names the receiver: {text}"
    );
    for path in ["/metrics", "/", "/hosts/secretive", "/api/v1/hosts"] {
        let (status, body) = c.get(path, None);
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains(secret), "{path} shows a secret");
    }
    assert!(
        webhook_counter(
            &c,
            "tunekeeper_collector_webhook_attempts_failed_total{kind=\"error\"}"
        ) >= 2.0
    );
}

/// Whatever hosts report reaches the webhook's receiver bounded: ten
/// drifting settings whose values are 8 KiB each made an alert of about
/// 160 KiB (and 500 such alerts a message).
#[test]
fn webhook_messages_are_bounded_whatever_hosts_report() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0);
    let url = format!("http://{}/hook", rx.addr);
    let c = Collector::start(
        dir.path(),
        &["--webhook", &url, "--alert-interval-seconds", "1"],
    );
    let mut r = report("loud", "loud-1", &ago(Duration::ZERO), 60);
    r["cluster"] = json!({ "name": "c".repeat(MAX_CLUSTER_BYTES), "from": "config" });
    let keys: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "sysctl")
        .take(10)
        .map(|f| f["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 10);
    for k in &keys {
        drift(&mut r, k, &"v".repeat(MAX_STRING_BYTES));
    }
    assert_eq!(c.post(&r).0, 202);
    assert!(eventually(|| !rx.seen().is_empty()));
    let seen = rx.seen();
    let body: Value = serde_json::from_slice(&seen[0].body).unwrap();
    let description = body["alerts"][0]["annotations"]["description"]
        .as_str()
        .unwrap();
    assert!(description.len() <= 1024, "{} bytes", description.len());
    assert!(description.ends_with('…'));
    assert!(seen[0].body.len() < 8192, "{} bytes", seen[0].body.len());
}

// ---- Two machines under one host name ------------------------------------

fn as_machine(r: &mut Value, machine: &str) {
    r["host"]["machine_id"] = machine.into();
}

fn events(c: &Collector, host: &str) -> Vec<Value> {
    c.get_json(&format!("/api/v1/hosts/{host}/drift"))
        .as_array()
        .unwrap()
        .clone()
}

const MACHINE_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const MACHINE_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// Two machines reporting under one host name were merged silently: the
/// drift history flipped at every report (one machine drifts, the other
/// does not). Now each machine's reports are compared with its own, the
/// host shows the conflict (API, page, fleet page, metric), and it ends
/// three intervals after the machines last took turns.
fn machines_taking_turns_under_one_name_are_a_conflict_with_their_own_drift() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let start = 600;
    for i in 0..8u64 {
        let t = ago(Duration::from_secs(start - i * 60));
        let mut r = report("twin", &format!("twin-{i}"), &t, 60);
        if i % 2 == 0 {
            as_machine(&mut r, MACHINE_A);
            drift(&mut r, "vm.swappiness", "60");
        } else {
            as_machine(&mut r, MACHINE_B);
        }
        assert_eq!(c.post(&r).0, 202);
    }
    // A drifted at its first report; B, new to the name, continued from
    // it (swappiness back); since then each is compared with itself.
    let ev = events(&c, "twin");
    let seen: Vec<(&str, &str)> = ev
        .iter()
        .map(|e| {
            (
                e["state"].as_str().unwrap(),
                e["machine_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [("drift", MACHINE_A), ("ok", MACHINE_B)],
        "the history flipped: {ev:?}"
    );
    let hosts = c.get_json("/api/v1/hosts");
    let h = host(&hosts, "twin");
    assert_eq!(h["machine_id"], MACHINE_B, "{h}");
    let conflict = &h["machine_conflict"];
    let mut ids: Vec<&str> = conflict["machine_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no conflict: {h}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [MACHINE_A, MACHINE_B]);
    let (status, page) = c.get("/hosts/twin", Some(READ_TOKEN));
    assert_eq!(status, 200);
    assert!(
        page.contains("2 machines report under this host name"),
        "{page}"
    );
    assert!(page.contains(MACHINE_A) && page.contains(MACHINE_B));
    let (_, fleet) = c.get("/", Some(READ_TOKEN));
    assert!(fleet.contains("2 machines"), "the fleet page says so");
    let (_, metrics) = c.get("/metrics", Some(READ_TOKEN));
    assert!(
        metrics.contains("tunekeeper_collector_machine_conflict_hosts{cluster=\"\"} 1"),
        "{metrics}"
    );
    // A host with one machine is no conflict.
    let mut solo = report("solo", "solo-1", &ago(Duration::ZERO), 60);
    as_machine(&mut solo, MACHINE_A);
    assert_eq!(c.post(&solo).0, 202);
    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(host(&hosts, "solo")["machine_conflict"], Value::Null);

    // B stops; three intervals (here five minutes, the least window)
    // after the last turn the conflict is over. Moved back in the
    // database rather than waited for.
    drop(c);
    let n = exec_sql(
        dir.path(),
        "UPDATE hosts SET conflict_at = conflict_at - 600000 WHERE hostname = 'twin'",
    );
    assert_eq!(n, 1);
    let c = Collector::start(dir.path(), &[]);
    let hosts = c.get_json("/api/v1/hosts");
    assert_eq!(host(&hosts, "twin")["machine_conflict"], Value::Null);
    assert_eq!(events(&c, "twin").len(), 2);
}

/// A machine replaced by another (a reinstall keeps the name, not the
/// machine id) that never reports again is no conflict, and the new one
/// continues the name's drift history.
fn a_replaced_machine_is_no_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut old = report("rebuilt", "old-1", &ago(Duration::from_secs(120)), 60);
    as_machine(&mut old, MACHINE_A);
    drift(&mut old, "vm.swappiness", "60");
    assert_eq!(c.post(&old).0, 202);
    for i in 0..3u64 {
        let mut new = report(
            "rebuilt",
            &format!("new-{i}"),
            &ago(Duration::from_secs(60 - i * 20)),
            60,
        );
        as_machine(&mut new, MACHINE_B);
        drift(&mut new, "vm.swappiness", "60");
        assert_eq!(c.post(&new).0, 202);
    }
    let hosts = c.get_json("/api/v1/hosts");
    let h = host(&hosts, "rebuilt");
    assert_eq!(h["machine_conflict"], Value::Null, "{h}");
    assert_eq!(h["machine_id"], MACHINE_B);
    // Still drifting since the old machine's report: one episode.
    let ev = events(&c, "rebuilt");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["machine_id"], MACHINE_A);
}

// ---- Upgrading to schema version 3 --------------------------------------

/// What a database made by main at cacbea8 (schema version 2) holds, read
/// and written on after the upgrade: its hosts and drift history as they
/// were, a host's first report after it continuing from its row, and
/// machines then kept apart.
fn migrated_history_continues(c: &Collector) {
    let hosts = c.get_json("/api/v1/hosts");
    let names: Vec<&str> = hosts
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mig-a", "mig-b"]);
    let a = host(&hosts, "mig-a");
    assert_eq!(a["last_report_id"], "mig-a-2");
    assert_eq!(
        a["machine_id"],
        Value::Null,
        "stored before machines were kept"
    );
    assert_eq!(a["machine_conflict"], Value::Null);
    let ev = events(c, "mig-a");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(
        (&ev[0]["state"], &ev[0]["key"]),
        (&json!("drift"), &json!("vm.swappiness"))
    );
    assert!(ev[0].get("machine_id").is_none(), "{ev:?}");
    let docs = c.get_json("/api/v1/hosts/mig-a/reports");
    assert_eq!(docs[0]["id"], "mig-a-2");
    // An id stored before the upgrade is still a duplicate.
    let dup = report("mig-b", "mig-b-0", &ago(Duration::ZERO), 60);
    assert_eq!(c.post(&dup).0, 200);

    // The same machine, now naming itself: it continues (still drifting).
    let post = |id: &str, machine: &str, drifting: bool, secs: u64| {
        let mut r = report("mig-a", id, &ago(Duration::from_secs(secs)), 60);
        as_machine(&mut r, machine);
        if drifting {
            drift(&mut r, "vm.swappiness", "60");
        }
        assert_eq!(c.post(&r).0, 202);
    };
    post("after-1", MACHINE_A, true, 30);
    assert_eq!(events(c, "mig-a").len(), 1, "the upgrade made no event");
    post("after-2", MACHINE_B, false, 20);
    post("after-3", MACHINE_A, true, 10);
    let ev = events(c, "mig-a");
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(
        (&ev[1]["state"], &ev[1]["machine_id"]),
        (&json!("ok"), &json!(MACHINE_B))
    );
    let hosts = c.get_json("/api/v1/hosts");
    let conflict = &host(&hosts, "mig-a")["machine_conflict"];
    assert_eq!(
        conflict["machine_ids"].as_array().map(Vec::len),
        Some(2),
        "{hosts}"
    );
}

#[test]
fn a_version_2_sqlite_database_made_by_main_migrates_to_version_3() {
    // tests/fixtures/collector/made-by-main-cacbea8.db: made by main at
    // cacbea8 (schema version 2) with tests/fixtures/collector/report.json:
    // mig-a posted three reports (the second and third drifting
    // vm.swappiness), mig-b one.
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/collector/made-by-main-cacbea8.db"
    );
    let db = dir.path().join("collector.db");
    std::fs::copy(fixture, &db).unwrap();
    // Retention far out: the fixture's reports were received in 2026.
    let c = Collector::start(dir.path(), &["--retention-days", "36500"]);
    migrated_history_continues(&c);
    assert_eq!(c.terminate().code(), Some(0));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
    let machines: i64 = conn
        .query_row(
            "SELECT count(*) FROM machines WHERE hostname = 'mig-a'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(machines, 2, "machines A and B");
}

#[test]
fn a_version_2_postgres_database_made_by_main_migrates_to_version_3() {
    // tests/fixtures/collector/made-by-main-cacbea8.pg.sql: `pg_dump
    // --inserts` of the database main at cacbea8 made of the same four
    // reports (PostgreSQL 15; psql meta-commands and ownership left out).
    let server = collector_support::pg::PgServer::start();
    let url = server.database("tk_v2");
    server.psql(
        "tk_v2",
        include_str!("../fixtures/collector/made-by-main-cacbea8.pg.sql"),
    );
    assert_eq!(
        server.psql("tk_v2", "SELECT max(version) FROM tunekeeper_schema"),
        "2"
    );
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start_db(
        dir.path(),
        "127.0.0.1:0",
        &["--retention-days", "36500"],
        &[],
        Some(&url),
    );
    migrated_history_continues(&c);
    assert_eq!(c.terminate().code(), Some(0));
    assert_eq!(
        server.psql("tk_v2", "SELECT max(version) FROM tunekeeper_schema"),
        "3"
    );
    assert_eq!(
        server.psql(
            "tk_v2",
            "SELECT count(*) FROM machines WHERE hostname = 'mig-a'"
        ),
        "2"
    );
}
