//! Fitting a report into the collector's body limit, by construction: a
//! host is never blind because of what it holds. Long texts (a command
//! line, a flag, a finding's detail quoting a broker's properties) are cut
//! with a marker that says how much was cut; JVMs past [`MAX_JVMS`] are
//! summarised and counted; and if the whole still exceeds the budget
//! (`max_report_bytes`, the collector's `--max-body-bytes`), JVM entries,
//! then the hardware section, then findings are left out, each time with
//! a finding that says what and how many. The result always serialises
//! within the budget: the collector never has to refuse it for its size.

use crate::finding::{Finding, Status, Summary};
use crate::report::{JvmReport, Report};

/// JVMs followed and reported one by one; more are counted in a finding.
pub const MAX_JVMS: usize = 64;
/// The longest text field kept (a finding's detail, a command summary).
pub const MAX_TEXT_BYTES: usize = 4096;
/// The longest single JVM flag kept.
pub const MAX_FLAG_BYTES: usize = 1024;
/// The most JVM flags kept per JVM (a Kafka broker has about forty).
pub const MAX_FLAGS: usize = 256;
/// The most findings kept per JVM.
pub const MAX_JVM_FINDINGS: usize = 512;

/// Cuts `s` to at most `max` bytes (on a character boundary), ending it
/// with a marker that says how many bytes were cut.
pub fn cut(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let marker_room = 40;
    let mut at = max.saturating_sub(marker_room);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    let cut_bytes = s.len() - at;
    s.truncate(at);
    s.push_str(&format!("…[cut: {cut_bytes} more bytes]"));
}

fn cut_finding(f: &mut Finding) {
    for s in [&mut f.check, &mut f.key, &mut f.expected] {
        cut(s, MAX_TEXT_BYTES);
    }
    for s in [&mut f.actual, &mut f.source, &mut f.detail]
        .into_iter()
        .flatten()
    {
        cut(s, MAX_TEXT_BYTES);
    }
    if let Some(w) = &mut f.waiver {
        cut(&mut w.justification, MAX_TEXT_BYTES);
        cut(&mut w.from, MAX_TEXT_BYTES);
    }
}

/// Bounds one JVM entry's texts and lists.
pub fn bound_jvm(j: &mut JvmReport) {
    cut(&mut j.command, MAX_TEXT_BYTES);
    if j.flags.len() > MAX_FLAGS {
        let more = j.flags.len() - MAX_FLAGS;
        j.flags.truncate(MAX_FLAGS);
        j.flags.push(format!("…[cut: {more} more flags]"));
    }
    for f in &mut j.flags {
        cut(f, MAX_FLAG_BYTES);
    }
    if j.gc_logs.len() > 16 {
        j.gc_logs.truncate(16);
    }
    for l in &mut j.gc_logs {
        cut(l, MAX_TEXT_BYTES);
    }
    if let Some(c) = &mut j.config {
        cut(c, MAX_TEXT_BYTES);
    }
    if j.findings.len() > MAX_JVM_FINDINGS {
        j.findings.truncate(MAX_JVM_FINDINGS);
    }
    for f in &mut j.findings {
        cut_finding(f);
    }
    if let Some(c) = &mut j.counters {
        bound_counters(c);
    }
}

/// The most figures a cross-check keeps (the agent makes at most nine).
pub const MAX_COUNTER_CHECKS: usize = 16;
/// The most pause kinds a counters window keeps (the agent makes three).
pub const MAX_COUNTER_KINDS: usize = 8;

/// Bounds a JVM's counters section: its texts (a path, reasons quoting
/// the file's name, the cross-check's sentences) and its lists.
fn bound_counters(c: &mut crate::report::JvmCounters) {
    cut(&mut c.state, 64);
    for s in [&mut c.reason, &mut c.remedy, &mut c.path]
        .into_iter()
        .flatten()
    {
        cut(s, MAX_TEXT_BYTES);
    }
    for w in [&mut c.interval, &mut c.total].into_iter().flatten() {
        cut(&mut w.window, 64);
        while w.pauses.len() > MAX_COUNTER_KINDS {
            w.pauses.pop_last();
        }
        if let Some(n) = &mut w.safepoints.null_because {
            cut(n, MAX_TEXT_BYTES);
        }
    }
    if let Some(x) = &mut c.cross_check {
        cut(&mut x.summary, MAX_TEXT_BYTES);
        if let Some(n) = &mut x.not_comparable {
            cut(n, MAX_TEXT_BYTES);
        }
        x.checks.truncate(MAX_COUNTER_CHECKS);
        for f in &mut x.checks {
            cut(&mut f.figure, 256);
            cut(&mut f.unit, 64);
            cut(&mut f.status, 64);
            if let Some(d) = &mut f.detail {
                cut(d, MAX_TEXT_BYTES);
            }
        }
    }
}

fn size<T: serde::Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map(|v| v.len()).unwrap_or(usize::MAX)
}

fn agent_finding(key: &str, expected: String, actual: String, detail: String) -> Finding {
    Finding {
        check: "agent".into(),
        key: key.into(),
        expected,
        actual: Some(actual),
        status: Status::Unreadable,
        source: None,
        detail: Some(detail),
        waiver: None,
    }
}

/// Bounds one role entry: its texts, its pids (a role's JVMs past
/// [`MAX_JVMS`] are counted in the JVM note, not listed) and the keys of
/// its findings (each a finding of the report, so no more of them than
/// the report can hold).
fn bound_role(r: &mut crate::report::RoleReport) {
    cut(&mut r.because, MAX_TEXT_BYTES);
    cut(&mut r.process_key, MAX_TEXT_BYTES);
    r.pids.truncate(MAX_JVMS);
    r.finding_keys.truncate(MAX_JVM_FINDINGS * 4);
    for k in r.finding_keys.iter_mut().flatten() {
        cut(k, MAX_TEXT_BYTES);
    }
}

/// Every text of `report` within what the collector accepts
/// (`crate::collector::limits`), whatever field it is in: the cuts above
/// are where the texts are made, and this pass catches the rest (a
/// directory from a broker's `log.dirs`, the kernel release, a field added
/// later). A NUL character, which the collector refuses in any field (its
/// PostgreSQL backend cannot store one), becomes U+FFFD; a text longer
/// than [`MAX_TEXT_BYTES`] is cut with the marker. Without this, one such
/// text in a broker's properties would have every report of the host
/// refused.
fn texts_within_bounds(report: &mut Report) {
    fn walk(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => {
                let mut changed = false;
                if s.contains('\0') {
                    *s = s.replace('\0', "\u{fffd}");
                    changed = true;
                }
                if s.len() > MAX_TEXT_BYTES {
                    cut(s, MAX_TEXT_BYTES);
                    changed = true;
                }
                changed
            }
            serde_json::Value::Array(a) => a.iter_mut().fold(false, |c, x| walk(x) | c),
            serde_json::Value::Object(o) => o.values_mut().fold(false, |c, x| walk(x) | c),
            _ => false,
        }
    }
    let Ok(mut v) = serde_json::to_value(&*report) else {
        return;
    };
    if walk(&mut v)
        && let Ok(back) = serde_json::from_value(v)
    {
        *report = back;
    }
}

/// Makes `report` fit `budget` bytes of JSON and returns that JSON.
/// `not_followed`: JVMs the tracker did not follow (past [`MAX_JVMS`]).
/// The agent's own findings about what it left out are kept whatever
/// else is cut: they are how the collector learns that something was.
pub fn fit(report: &mut Report, budget: usize, not_followed: usize) -> Vec<u8> {
    for f in &mut report.findings {
        cut_finding(f);
    }
    for j in &mut report.jvms {
        bound_jvm(j);
    }
    for r in &mut report.roles {
        bound_role(r);
    }
    texts_within_bounds(report);
    let mut notes: Vec<Finding> = Vec::new();
    if let Some(c) = report.cluster.take() {
        if super::config::is_cluster_name(&c.name) {
            report.cluster = Some(c);
        } else {
            let mut from = c.from;
            cut(&mut from, 256);
            notes.push(agent_finding(
                "cluster",
                "a cluster name of 1 to 128 of A-Z a-z 0-9 - _ .".into(),
                format!("{} bytes", c.name.len()),
                format!("the cluster id read from {from} is not a cluster name: the report names no cluster (set `cluster` in the agent's configuration)"),
            ));
        }
    }
    let mut left_out = not_followed;
    if report.jvms.len() > MAX_JVMS {
        left_out += report.jvms.len() - MAX_JVMS;
        report.jvms.truncate(MAX_JVMS);
    }
    // Room for the notes this function may still add.
    let reserve = 2048;
    let jvms = std::mem::take(&mut report.jvms);
    let mut base = size(report) + reserve;
    if base > budget && report.hardware.is_some() {
        report.hardware = None;
        notes.push(agent_finding(
            "hardware",
            format!("the report within {budget} bytes"),
            "left out".into(),
            "the hardware section is left out of this report: it did not fit the report budget"
                .into(),
        ));
        base = size(report) + reserve;
    }
    // What the entries cost, measured once: dropping from the end until the
    // sum fits is linear, not a serialisation per attempt.
    let mut keep = 0;
    let mut used = base + size(&notes);
    for j in &jvms {
        let s = size(j) + 1;
        if used + s > budget {
            break;
        }
        used += s;
        keep += 1;
    }
    let dropped_for_size = jvms.len() - keep;
    report.jvms = jvms;
    report.jvms.truncate(keep);
    left_out += dropped_for_size;
    if left_out > 0 {
        notes.push(agent_finding(
            "jvms",
            format!("every JVM reported (at most {MAX_JVMS}, within {budget} bytes)"),
            format!("{left_out} not reported"),
            format!(
                "{left_out} matching JVMs are counted here, not reported one by one: \
                 past the agent's cap of {MAX_JVMS} JVMs{}",
                if dropped_for_size > 0 {
                    format!(
                        ", or past the report budget (max_report_bytes = {budget}): {dropped_for_size} left out for size"
                    )
                } else {
                    String::new()
                }
            ),
        ));
    }
    if size(report) + size(&notes) + reserve > budget {
        // Host findings past what fits, cut from the end (the audit's order
        // is the profile's), and counted.
        let findings = std::mem::take(&mut report.findings);
        let mut used = size(report) + size(&notes) + reserve;
        let mut keep = 0;
        for f in &findings {
            let s = size(f) + 1;
            if used + s > budget {
                break;
            }
            used += s;
            keep += 1;
        }
        let cut_n = findings.len() - keep;
        report.findings = findings;
        report.findings.truncate(keep);
        notes.push(agent_finding(
            "findings",
            format!("the report within {budget} bytes"),
            format!("{cut_n} left out"),
            format!(
                "{cut_n} findings are left out of this report: they did not fit the report budget"
            ),
        ));
    }
    if !notes.is_empty() {
        // The summary keeps counting the findings left out (they were
        // found, only not sent), and counts the notes.
        report.summary.total += notes.len();
        report.summary.unreadable += notes.len();
        report.findings.extend(notes);
    }
    let mut json = serde_json::to_vec(report).expect("a report always serialises");
    if json.len() > budget {
        // Nothing but the host and one finding: always far below the
        // smallest budget the configuration allows (4 KiB).
        report.jvms.clear();
        report.roles.clear();
        report.hardware = None;
        report.host_pressure = None;
        report.findings = vec![agent_finding(
            "report",
            format!("the report within {budget} bytes"),
            "cut".into(),
            "this report was cut to its host and this finding: nothing else fitted the report budget".into(),
        )];
        report.summary = Summary::of(&report.findings);
        json = serde_json::to_vec(report).expect("a report always serialises");
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(jvms: usize, flags_each: usize, findings: usize) -> Report {
        let finding = |i: usize| Finding {
            check: "sysctl".into(),
            key: format!("k{i}"),
            expected: "1".into(),
            actual: Some("2".into()),
            status: Status::Drift,
            source: None,
            detail: Some("d".repeat(300)),
            waiver: None,
        };
        let jvm = |pid: usize| JvmReport {
            pid: pid as i32,
            command: "kafka.Kafka".repeat(1000),
            flags: (0..flags_each)
                .map(|i| format!("-Dx{i}={}", "v".repeat(2000)))
                .collect(),
            findings: vec![finding(0)],
            gc_logs: vec![],
            gc: None,
            exited: false,
            roles: vec!["broker".into()],
            profile: Some("kafka-broker".into()),
            config: Some("/etc/kafka/server.properties".into()),
            counters: None,
        };
        let findings: Vec<Finding> = (0..findings).map(finding).collect();
        // A role naming every JVM and every finding, as a broker role does.
        let role = crate::report::RoleReport {
            role: "broker".into(),
            profile: "kafka-broker".into(),
            because: "a broker runs here".into(),
            pids: (0..jvms as i32).collect(),
            running: true,
            missing_since: None,
            process_key: "running".into(),
            summary: Summary::of(&findings),
            finding_keys: findings
                .iter()
                .map(|f| [f.check.clone(), f.key.clone()])
                .collect(),
        };
        Report {
            schema: 1,
            id: "id".into(),
            time: "t".into(),
            interval_seconds: 60,
            host: Default::default(),
            profile: "p".into(),
            summary: Summary::of(&findings),
            findings,
            jvms: (0..jvms).map(jvm).collect(),
            agent: Default::default(),
            cluster: None,
            host_pressure: None,
            hardware: None,
            roles: vec![role],
        }
    }

    #[test]
    fn whatever_the_host_holds_the_report_fits() {
        for budget in [4 << 10, 64 << 10, 1 << 20] {
            for (jvms, flags, findings) in [(0, 0, 5), (110, 5, 20), (1, 1400, 5), (3, 10, 20_000)]
            {
                let mut r = report(jvms, flags, findings);
                let json = fit(&mut r, budget, 0);
                assert!(
                    json.len() <= budget,
                    "{jvms} JVMs, {flags} flags, {findings} findings: {} > {budget}",
                    json.len()
                );
                let back: Report = serde_json::from_slice(&json).unwrap();
                if jvms > back.jvms.len() {
                    assert!(
                        back.findings.iter().any(|f| f.check == "agent"),
                        "what was left out is said"
                    );
                }
            }
        }
        // 1,400 flags of 2 KB: cut to the cap, each with its marker.
        let mut r = report(1, 1400, 1);
        fit(&mut r, 1 << 20, 0);
        let flags = &r.jvms[0].flags;
        assert_eq!(flags.len(), MAX_FLAGS + 1);
        assert!(flags.last().unwrap().contains("1144 more flags"));
        assert!(flags[0].ends_with("more bytes]") && flags[0].len() <= MAX_FLAG_BYTES);
        assert!(r.jvms[0].command.len() <= MAX_TEXT_BYTES);
    }

    #[test]
    fn a_cluster_id_that_is_no_cluster_name_is_dropped_and_said() {
        let mut r = report(0, 0, 1);
        r.cluster = Some(crate::report::Cluster {
            name: "c".repeat(300_000),
            from: "meta.properties (/data/meta.properties)".into(),
        });
        let json = fit(&mut r, 1 << 20, 0);
        assert!(json.len() < 64 << 10);
        assert!(r.cluster.is_none());
        assert!(r.findings.iter().any(|f| f.key == "cluster"));
    }

    /// Whatever a broker's files hold, every report the agent sends passes
    /// the collector's own checks (its shape bounds included): a NUL or
    /// a 20 KB text in fields no other cut covers.
    #[test]
    fn every_report_passes_the_collectors_bounds() {
        for budget in [4 << 10, 1 << 20] {
            let mut r = report(3, 10, 20);
            r.id = "00000000-0000-4000-8000-000000000001".into();
            r.time = "2026-11-25T06:00:00Z".into();
            r.host.hostname = "b1".into();
            r.host.kernel = format!("6.1\0{}", "k".repeat(20_000));
            r.profile = "p\0".into();
            r.jvms[0].config = Some("/x\0y".into());
            r.jvms[1].roles = vec!["r".repeat(20_000)];
            r.hardware = Some(crate::report::Hardware {
                network: vec![crate::report::NetLink {
                    name: "eth\0".into(),
                    speed_mbps: None,
                }],
                brokers: vec![crate::report::BrokerHardware {
                    broker_id: None,
                    broker_id_from: Some("\0".into()),
                    log_dirs: vec![
                        crate::report::LogDirSize {
                            path: "/x\0y".into(),
                            total_bytes: None,
                        },
                        crate::report::LogDirSize {
                            path: "/d".repeat(10_000),
                            total_bytes: None,
                        },
                    ],
                }],
            });
            let json = fit(&mut r, budget, 0);
            let sent = crate::collector::http::ingest::validate(json, 0);
            assert!(sent.is_ok(), "{budget}: {:?}", sent.err());
        }
        let mut r = report(1, 0, 1);
        r.jvms[0].config = Some("/x\0y".into());
        fit(&mut r, 1 << 20, 0);
        assert_eq!(r.jvms[0].config.as_deref(), Some("/x\u{fffd}y"));
    }

    /// A JVM's counters section whose texts quote a hostile file name and
    /// whose lists are long: bounded like every other part of an entry.
    #[test]
    fn counters_texts_and_lists_are_bounded() {
        use crate::report::{CounterCheck, CounterFigure, CounterWindow, JvmCounters};
        let long = "x".repeat(100_000);
        let mut r = report(1, 1, 1);
        r.jvms[0].counters = Some(JvmCounters {
            state: long.clone(),
            reason: Some(long.clone()),
            remedy: Some(long.clone()),
            path: Some(long.clone()),
            total: Some(CounterWindow {
                window: long.clone(),
                pauses: (0..100)
                    .map(|i| (format!("k{i}"), Default::default()))
                    .collect(),
                ..CounterWindow::default()
            }),
            cross_check: Some(CounterCheck {
                summary: long.clone(),
                checks: vec![
                    CounterFigure {
                        figure: long.clone(),
                        detail: Some(long.clone()),
                        ..CounterFigure::default()
                    };
                    1000
                ],
                ..CounterCheck::default()
            }),
            ..JvmCounters::default()
        });
        let json = fit(&mut r, 1 << 20, 0);
        assert!(json.len() < 200 << 10, "{}", json.len());
        let c = r.jvms[0].counters.as_ref().unwrap();
        assert!(c.reason.as_ref().unwrap().len() <= MAX_TEXT_BYTES);
        assert!(c.path.as_ref().unwrap().ends_with("more bytes]"));
        assert_eq!(c.total.as_ref().unwrap().pauses.len(), MAX_COUNTER_KINDS);
        let x = c.cross_check.as_ref().unwrap();
        assert_eq!(x.checks.len(), MAX_COUNTER_CHECKS);
        assert!(x.checks[0].detail.as_ref().unwrap().len() <= MAX_TEXT_BYTES);
        assert!(x.summary.len() <= MAX_TEXT_BYTES);
    }

    #[test]
    fn cut_marks_and_respects_char_boundaries() {
        let mut s = "é".repeat(100);
        cut(&mut s, 64);
        assert!(s.len() <= 64 + 40, "{}", s.len());
        assert!(s.contains("more bytes]"), "{s}");
        let mut short = "abc".to_string();
        cut(&mut short, 64);
        assert_eq!(short, "abc");
    }
}
