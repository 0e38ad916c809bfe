//! Issue 14, "a stopped broker looks like a fix": when the broker JVM exits,
//! its drifting findings vanish from the report. The drift history must say
//! "broker stopped" for them, not "back", and read naturally when the
//! broker runs again and they drift again. A real collector on both
//! backends, fed hand-made reports.

use crate::collector_support;

on_both!(drift_history_says_broker_stopped_not_back);

use std::time::Duration;

use collector_support::{Collector, ago, drift, gc, report};
use serde_json::{Value, json};

/// The `process`/`running` finding the agent adds when the profile expects a broker.
fn running(r: &mut Value, pid: Option<u32>) {
    let f = json!({
        "check": "process",
        "key": "running",
        "expected": "a java process matching /kafka\\.Kafka/",
        "actual": pid.map(|p| format!("pid {p}")),
        "status": if pid.is_some() { "ok" } else { "drift" },
        "detail": if pid.is_some() { Value::Null } else {
            "none runs since 2026-11-25T10:00:00Z: the broker is stopped".into()
        },
    });
    r["findings"].as_array_mut().unwrap().push(f);
}

/// Sets the finding `(check, key)` to `status` (no summary bookkeeping: the
/// collector derives its figures from the findings).
fn set(r: &mut Value, check: &str, key: &str, status: &str, actual: Option<&str>) {
    let f = r["findings"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["check"] == check && f["key"] == key)
        .unwrap_or_else(|| panic!("no finding {check}/{key}"));
    f["status"] = status.into();
    f["actual"] = actual.map_or(Value::Null, Value::from);
}

/// `(check, key, state)` of every event, oldest first.
fn states(events: &Value) -> Vec<(String, String, String)> {
    events
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {events}"))
        .iter()
        .map(|e| {
            (
                e["check"].as_str().unwrap().to_owned(),
                e["key"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn ev(check: &str, key: &str, state: &str) -> (String, String, String) {
    (check.into(), key.into(), state.into())
}

/// The host page's drift-history row of `key` that contains `needle`.
fn row_with<'a>(page: &'a str, key: &str, needle: &str) -> Option<&'a str> {
    let history = page.split("Drift history").nth(1)?;
    history
        .split("<tr>")
        .find(|r| r.contains(&format!(">{key}<")) && r.contains(needle))
}

fn drift_history_says_broker_stopped_not_back() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let host = "stopper";

    // 1. The broker runs; its GC misses the profile's levels, its file
    //    limit is too low, and one kernel key drifts.
    let mut r1 = report(host, "b-1", &ago(Duration::from_secs(300)), 60);
    running(&mut r1, Some(4242));
    gc(&mut r1, 40.0, 20.0, 0); // gc_ms_per_second drifts, the rest ok
    set(&mut r1, "limits", "nofile", "drift", Some("4096"));
    drift(&mut r1, "vm.dirty_ratio", "20");
    assert_eq!(c.post(&r1).0, 202);

    // 2. The broker stops: no JVM, the limit no longer applies, the
    //    process check drifts. The kernel key is fixed at the same time.
    let mut r2 = report(host, "b-2", &ago(Duration::from_secs(200)), 60);
    running(&mut r2, None);
    r2["jvms"] = json!([]);
    set(&mut r2, "limits", "nofile", "not-applicable", None);
    assert_eq!(c.post(&r2).0, 202);

    // 3. The broker runs again and its GC still misses the level.
    let mut r3 = report(host, "b-3", &ago(Duration::from_secs(100)), 60);
    running(&mut r3, Some(5151));
    gc(&mut r3, 41.0, 20.0, 0);
    set(&mut r3, "limits", "nofile", "drift", Some("4096"));
    assert_eq!(c.post(&r3).0, 202);

    let events = c.get_json(&format!("/api/v1/hosts/{host}/drift"));
    let got = states(&events);
    let want = vec![
        // r1
        ev("sysctl", "vm.dirty_ratio", "drift"),
        ev("gc", "gc_ms_per_second", "drift"),
        ev("limits", "nofile", "drift"),
        // r2: the broker's findings went with it; the kernel key was fixed.
        ev("process", "running", "drift"),
        ev("sysctl", "vm.dirty_ratio", "ok"),
        ev("gc", "gc_ms_per_second", "stopped"),
        ev("limits", "nofile", "stopped"),
        // r3: the broker is back, and so is its drift.
        ev("gc", "gc_ms_per_second", "drift"),
        ev("limits", "nofile", "drift"),
        ev("process", "running", "ok"),
    ];
    let mut sorted_got = got.clone();
    let mut sorted_want = want.clone();
    // Order within one report is not part of the contract; order across reports is.
    let report_of = |i: usize| match i {
        0..=2 => 0,
        3..=6 => 1,
        _ => 2,
    };
    sorted_got
        .iter_mut()
        .enumerate()
        .for_each(|(i, e)| e.0 = format!("{}:{}", report_of(i), e.0));
    sorted_want
        .iter_mut()
        .enumerate()
        .for_each(|(i, e)| e.0 = format!("{}:{}", report_of(i), e.0));
    sorted_got.sort();
    sorted_want.sort();
    assert_eq!(sorted_got, sorted_want, "events: {events}");
    // The old field stays truthful: a stopped broker is not a drift.
    for e in events.as_array().unwrap() {
        assert_eq!(e["drifted"], e["state"] == "drift", "{e}");
    }

    // The host page: the GC episode ended with the broker, not "back"; the
    // next one says it began when the broker ran again.
    let (status, page) = c.get(&format!("/hosts/{host}"), None);
    assert_eq!(status, 200, "{page}");
    let ended = row_with(&page, "gc_ms_per_second", "broker stopped")
        .unwrap_or_else(|| panic!("no 'broker stopped' row for the GC key:\n{page}"));
    assert!(!ended.contains("still drifting"), "{ended}");
    let again = row_with(&page, "gc_ms_per_second", "still drifting")
        .unwrap_or_else(|| panic!("no open GC episode:\n{page}"));
    assert!(
        again.contains("after the broker restarted"),
        "the new episode should say it began with the broker's restart: {again}"
    );
    assert!(
        row_with(&page, "nofile", "broker stopped").is_some(),
        "{page}"
    );
    // A real fix still reads as one.
    let fixed = row_with(&page, "vm.dirty_ratio", "<td").unwrap();
    assert!(!fixed.contains("broker"), "{fixed}");
    assert!(!fixed.contains("still drifting"), "{fixed}");
    // The broker's own absence is an episode that ended when it came back.
    let gone = row_with(&page, "running", "<td").unwrap();
    assert!(!gone.contains("still drifting"), "{gone}");

    // Unknown host: 404, like its reports.
    let (status, _) = c.get("/api/v1/hosts/nobody/drift", None);
    assert_eq!(status, 404);
}
