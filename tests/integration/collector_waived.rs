//! Waived findings at the collector (issue 13, "shown and counted, not
//! drift"): a drifting key that a waiver comes to cover reads `waived` in
//! the drift history, not "back"; its waiver expiring makes it drift again.
//! Each host's waived findings are counted in /api/v1/hosts, on the fleet
//! page and in /metrics. A real collector on both backends, fed hand-made
//! reports.

use crate::collector_support;

on_both!(
    drifting_then_waived_then_expired_reads_drift_waived_drift,
    waived_findings_are_counted_not_drift,
);

use std::time::Duration;

use collector_support::{Collector, ago, report};
use serde_json::{Value, json};

const KEY: &str = "vm.swappiness";
const WHY: &str = "vendor image pins swappiness; ticket OPS-1234";

/// Sets the kernel finding `KEY` to `status` with the value 60, carrying
/// `waiver` (the note the agent attaches to a finding a waiver matched).
fn swappiness(r: &mut Value, status: &str, waiver: Value) {
    let f = r["findings"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["key"] == KEY)
        .unwrap_or_else(|| panic!("no finding {KEY}"));
    f["status"] = status.into();
    f["actual"] = "60".into();
    f["waiver"] = waiver;
}

fn note(expired: bool) -> Value {
    json!({
        "justification": WHY,
        "expires": if expired { "2026-01-31" } else { "2099-01-31" },
        "expired": expired,
        "from": "/etc/tunekeeper/waivers.toml:3",
    })
}

/// `state` of every event of `KEY`, oldest first.
fn states(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {events}"))
        .iter()
        .filter(|e| e["key"] == KEY)
        .map(|e| e["state"].as_str().unwrap().to_owned())
        .collect()
}

/// The host's entry in /api/v1/hosts.
fn listed(c: &Collector, host: &str) -> Value {
    let hosts = c.get_json("/api/v1/hosts");
    hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == host)
        .unwrap_or_else(|| panic!("{host} not listed: {hosts}"))
        .clone()
}

/// The value of the exposition line starting with `series`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The three reports of one host: the key drifts, a waiver covers it, the
/// waiver expired. Each is posted after `between` runs on the collector.
fn post_three(c: &Collector, host: &str, mut between: impl FnMut(usize)) {
    let mut r1 = report(host, "w-1", &ago(Duration::from_secs(300)), 60);
    swappiness(&mut r1, "drift", Value::Null);
    assert_eq!(c.post(&r1).0, 202);
    between(1);
    let mut r2 = report(host, "w-2", &ago(Duration::from_secs(200)), 60);
    swappiness(&mut r2, "waived", note(false));
    assert_eq!(c.post(&r2).0, 202);
    between(2);
    let mut r3 = report(host, "w-3", &ago(Duration::from_secs(100)), 60);
    swappiness(&mut r3, "drift", note(true));
    assert_eq!(c.post(&r3).0, 202);
    between(3);
}

fn drifting_then_waived_then_expired_reads_drift_waived_drift() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let host = "waiver-host";
    post_three(&c, host, |_| {});

    let events = c.get_json(&format!("/api/v1/hosts/{host}/drift"));
    assert_eq!(states(&events), ["drift", "waived", "drift"], "{events}");
    let waived = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["state"] == "waived")
        .unwrap();
    assert_eq!(waived["justification"], WHY, "{waived}");
    assert_eq!(waived["drifted"], false, "{waived}");
    assert_eq!(waived["actual"], Value::Null, "{waived}");

    // The host page: the first episode ended waived (with why), not "back";
    // the second is still drifting.
    let (status, page) = c.get(&format!("/hosts/{host}"), None);
    assert_eq!(status, 200, "{page}");
    let history = page.split("Drift history").nth(1).unwrap();
    let rows: Vec<&str> = history
        .split("<tr>")
        .filter(|r| r.contains(&format!(">{KEY}<")))
        .collect();
    assert_eq!(rows.len(), 2, "{history}");
    assert!(
        rows.iter()
            .any(|r| r.contains(r#"pill unk">waived</span>"#) && r.contains(WHY)),
        "no 'waived' episode:\n{history}"
    );
    assert!(
        rows.iter().any(|r| r.contains("still drifting")),
        "{history}"
    );
}

fn waived_findings_are_counted_not_drift() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let host = "waiver-host";
    let other = "plain-host";
    // Another host that never has anything waived.
    assert_eq!(
        c.post(&report(other, "o-1", &ago(Duration::from_secs(250)), 60))
            .0,
        202
    );

    post_three(&c, host, |step| match step {
        1 => assert_eq!(listed(&c, host)["waived"], 0),
        2 => {
            // Counted, and not drift.
            let h = listed(&c, host);
            assert_eq!(h["waived"], 1, "{h}");
            assert_eq!(h["drift"], 0, "{h}");
            assert_eq!(listed(&c, other)["waived"], 0);

            // The fleet page shows it on the host's row and fleet-wide.
            let (status, fleet) = c.get("/", None);
            assert_eq!(status, 200, "{fleet}");
            let row = fleet
                .split("<tr")
                .find(|r| r.contains(host))
                .unwrap_or_else(|| panic!("no row of {host}:\n{fleet}"));
            assert!(row.contains("1 waived"), "{row}");
            let plain = fleet.split("<tr").find(|r| r.contains(other)).unwrap();
            assert!(!plain.contains("waived"), "{plain}");
            assert!(
                fleet.contains("<b>1</b> waived on 1 host"),
                "no fleet-wide waived count:\n{fleet}"
            );

            // The cluster figures (the hosts without a cluster here).
            let clusters = c.get_json("/api/v1/clusters");
            let none = clusters
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"].is_null())
                .unwrap_or_else(|| panic!("no '(no cluster)' group: {clusters}"));
            assert_eq!(none["waived"], 1, "{none}");
            assert_eq!(none["drifting"], 0, "{none}");

            // /metrics: the waived finding of the (no) cluster, and its host.
            let (status, metrics) = c.get("/metrics", None);
            assert_eq!(status, 200, "{metrics}");
            assert_eq!(
                sample(
                    &metrics,
                    "tunekeeper_collector_waived_findings{cluster=\"\"}"
                ),
                Some(1.0),
                "{metrics}"
            );
            assert_eq!(
                sample(&metrics, "tunekeeper_collector_waived_hosts{cluster=\"\"}"),
                Some(1.0),
                "{metrics}"
            );
        }
        _ => {
            // The waiver expired: drift again, nothing waived.
            let h = listed(&c, host);
            assert_eq!((&h["waived"], &h["drift"]), (&json!(0), &json!(1)), "{h}");
            let (_, fleet) = c.get("/", None);
            assert!(!fleet.contains(" waived on "), "{fleet}");
        }
    });
}
