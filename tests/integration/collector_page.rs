//! The fleet page in a real browser: a collector with hand-made reports
//! (several hosts, two weeks of history, hostile host names) rendered by
//! headless Chromium. Checks the rendered DOM (rows, escaping, the inline
//! script ran) and saves screenshots under `target/screenshots/`.
//! Skips, saying why, when Chromium is not installed.

use crate::browser_support;
use crate::ci_skip;
use crate::collector_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use browser_support::{browse, chromium};
use collector_support::{Collector, ago, drift, gc, report, segment};
use serde_json::Value;

const EVIL: &str = "<img src=x onerror=alert(1)>";
const SCRIPTED: &str = "<script>document.title='pwned'</script>";
const SQL: &str = "'; DROP TABLE reports;--";
/// The hosts whose profiles carry the markup above.
const EVIL_HOST: &str = "evil-01.kafka.prod";
const SCRIPTED_HOST: &str = "scripted-01.kafka.prod";

/// Two weeks of hourly reports for a host: a GC rate with a daily rhythm,
/// last week a little worse, a couple of spikes; drift episodes along the way.
fn history(c: &Collector, host: &str, unhealthy_now: bool) {
    let hours = 13 * 24 + 20;
    for h in (1..=hours).rev() {
        let age = Duration::from_secs(h * 3600 + 120);
        let mut r = report(host, &format!("{host}-h{h}"), &ago(age), 60);
        let x = h as f64;
        let mut rate = 6.0 + 3.0 * (x / 24.0 * std::f64::consts::TAU).sin().abs();
        let mut p99 = 28.0 + 8.0 * (x / 7.0).sin().abs();
        if h > 7 * 24 {
            rate += 2.5;
            p99 += 6.0;
        }
        if h % 97 == 0 {
            rate *= 2.2;
            p99 *= 2.5;
        }
        let full = u64::from(h == 200);
        gc(
            &mut r,
            (rate * 100.0).round() / 100.0,
            (p99 * 10.0).round() / 10.0,
            full,
        );
        // vm.swappiness drifted for a day nine days ago; vm.max_map_count drifts since two days.
        if (8 * 24..9 * 24).contains(&h) {
            drift(&mut r, "vm.swappiness", "60");
        }
        if h < 2 * 24 {
            drift(&mut r, "vm.max_map_count", "65530");
        }
        if (3 * 24 + 5..3 * 24 + 9).contains(&h) {
            drift(&mut r, "enabled", "always");
        }
        assert_eq!(c.post(&r).0, 202);
    }
    let mut r = report(
        host,
        &format!("{host}-now"),
        &ago(Duration::from_secs(20)),
        60,
    );
    drift(&mut r, "vm.max_map_count", "65530");
    if unhealthy_now {
        gc(&mut r, 23.4, 182.0, 1);
        drift(&mut r, "vm.dirty_ratio", "20");
    } else {
        gc(&mut r, 7.2, 31.5, 0);
    }
    assert_eq!(c.post(&r).0, 202);
}

fn populate(c: &Collector) {
    history(c, "broker-01.kafka.prod", false);
    history(c, "broker-02.kafka.prod", true);
    let fresh = |name: &str, profile: &str, age: Duration, interval: u64| {
        let mut r = report(name, &format!("{name}-1"), &ago(age), interval);
        r["profile"] = profile.into();
        r
    };
    let mut r = fresh(
        "broker-03.kafka.prod",
        "kafka-broker",
        Duration::from_secs(35),
        60,
    );
    gc(&mut r, 4.1, 22.0, 0);
    assert_eq!(c.post(&r).0, 202);
    let r = fresh(
        "broker-04.kafka.prod",
        "kafka-broker",
        Duration::from_secs(1500),
        60,
    );
    assert_eq!(c.post(&r).0, 202);
    let mut r = fresh("zk-01.kafka.prod", "zookeeper", Duration::from_secs(12), 60);
    r["jvms"] = Value::Array(vec![]);
    assert_eq!(c.post(&r).0, 202);
    let r = fresh(
        "controller-01.kafka.prod",
        "kraft-controller",
        Duration::from_secs(50),
        60,
    );
    assert_eq!(c.post(&r).0, 202);
    // Host names with markup are refused (422, tests/integration/hostile_collector.rs);
    // the hostile values come in fields that stay free text.
    let (status, _) = c.post(&fresh(EVIL, "kafka-broker", Duration::from_secs(5), 60));
    assert_eq!(status, 422);
    let mut r = fresh(EVIL_HOST, EVIL, Duration::from_secs(5), 60);
    drift(&mut r, "vm.swappiness", "<script>alert(2)</script>");
    assert_eq!(c.post(&r).0, 202);
    assert_eq!(
        c.post(&fresh(SCRIPTED_HOST, SCRIPTED, Duration::from_secs(8), 60))
            .0,
        202
    );
    assert_eq!(
        c.post(&fresh("sql-01.kafka.prod", SQL, Duration::from_secs(9), 60))
            .0,
        202
    );
}

#[test]
fn fleet_and_host_pages_render_in_chromium_escaped() {
    let Some(browser) = chromium() else {
        ci_skip::skip(
            "fleet_and_host_pages_render_in_chromium_escaped: chromium is not installed (apt-get install chromium)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    populate(&c);
    // And one real report: this machine, audited by the agent itself.
    std::fs::write(
        dir.path().join("agent-token"),
        format!("{}\n", collector_support::TOKEN),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("agent.toml"),
        format!(
            "endpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n",
            c.base,
            dir.path().join("agent-token").display(),
            dir.path().join("spool").display(),
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    // No process in the agent's view: its report is the host's alone.
    let view = crate::proc_view::ProcView::new(&[]);
    let once = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(["agent", "--once", "--config"])
        .arg(dir.path().join("agent.toml"))
        .env("TUNEKEEPER_ROOT", view.root())
        .output()
        .unwrap();
    assert_eq!(
        once.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    let me = crate::support::hostname();
    let profile = dir.path().join("chromium-profile");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // The fleet table.
    let url = format!("{}/", c.base);
    let dom = browse(&browser, &profile, &["--dump-dom".into(), url.clone()]);
    assert_eq!(
        dom.matches("data-problem=").count(),
        10,
        "one row per host:\n{dom}"
    );
    assert!(
        dom.contains("10 of 10 hosts"),
        "the count line (rendered by the server)"
    );
    assert!(
        !dom.contains("<img"),
        "a profile with markup created an element:\n{dom}"
    );
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "shown as text"
    );
    assert!(
        dom.contains("&lt;script&gt;document.title="),
        "shown as text"
    );
    assert!(
        dom.contains("<title>tunekeeper · fleet</title>"),
        "no script ran"
    );
    assert!(
        dom.contains("&#39;; DROP TABLE reports;--") || dom.contains("'; DROP TABLE reports;--")
    );
    assert!(
        dom.contains(&format!("href=\"/hosts/{}\"", segment(EVIL_HOST))),
        "the hostile profile's host is linked"
    );
    assert!(dom.contains(">stale<"), "broker-04 flagged stale");
    assert!(dom.contains(">unhealthy<"), "broker-02's GC flagged");
    browse(
        &browser,
        &profile,
        &[
            format!("--screenshot={}", shots.join("fleet.png").display()),
            "--window-size=1400,1000".into(),
            url,
        ],
    );

    // A host with two weeks of history.
    let url = format!("{}/hosts/{}", c.base, segment("broker-02.kafka.prod"));
    let dom = browse(&browser, &profile, &["--dump-dom".into(), url.clone()]);
    assert_eq!(
        dom.matches("<svg class=\"chart\"").count(),
        3,
        "two-week charts and the week overlay"
    );
    assert!(dom.contains("This week against last week"));
    assert!(
        dom.contains("still drifting"),
        "vm.max_map_count drifts now"
    );
    assert!(
        dom.contains("vm.swappiness"),
        "the swappiness episode is in the history"
    );
    assert!(
        dom.contains("65530") && dom.contains("&gt;=262144"),
        "expected and actual shown"
    );
    assert!(
        dom.contains("Enterprise Kafka: Kafka as a Service"),
        "the profile's source is shown"
    );
    browse(
        &browser,
        &profile,
        &[
            format!("--screenshot={}", shots.join("host.png").display()),
            "--window-size=1400,1000".into(),
            url.clone(),
        ],
    );
    browse(
        &browser,
        &profile,
        &[
            format!("--screenshot={}", shots.join("host-full.png").display()),
            "--window-size=1400,2600".into(),
            url,
        ],
    );

    // The hostile host's own page.
    let url = format!("{}/hosts/{}", c.base, segment(EVIL_HOST));
    let dom = browse(&browser, &profile, &["--dump-dom".into(), url.clone()]);
    assert!(
        !dom.contains("<img") && !dom.contains("<script>alert"),
        "markup ran:\n{dom}"
    );
    assert!(
        dom.contains("<b>&lt;img src=x onerror=alert(1)&gt;</b>"),
        "the profile as text: {dom}"
    );
    assert!(
        dom.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
        "a hostile value as text"
    );
    browse(
        &browser,
        &profile,
        &[
            format!("--screenshot={}", shots.join("host-evil.png").display()),
            "--window-size=1400,1000".into(),
            url,
        ],
    );
    let url = format!("{}/hosts/{}", c.base, segment(SCRIPTED_HOST));
    let dom = browse(&browser, &profile, &["--dump-dom".into(), url]);
    assert!(
        !dom.contains("pwned</title>") && dom.contains("tunekeeper</title>"),
        "{dom}"
    );

    let (status, _) = c.get(&format!("/hosts/{}", segment("nobody")), None);
    assert_eq!(status, 404);
    for name in ["fleet.png", "host.png", "host-full.png", "host-evil.png"] {
        let len = std::fs::metadata(shots.join(name))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 10_000, "screenshot {name} missing or empty");
    }
    println!("screenshots in {}", shots.display());

    // The agent's own report: real findings with the profile's sources.
    let url = format!("{}/hosts/{}", c.base, segment(&me));
    let dom = browse(&browser, &profile, &["--dump-dom".into(), url]);
    assert!(dom.contains(&me), "the real host's page");
    assert!(
        dom.contains("base: LinkedIn SRE talk") && dom.contains("swapping is death"),
        "findings carry the profile's source"
    );
}
