//! The shipped Prometheus rules and Grafana dashboard: real promtool checks
//! and unit-tests the rules, and every metric name the rules, their tests
//! and the dashboard use is one a real agent and a real collector export.

use crate::ci_skip;
use crate::collector_support;
use crate::support::{Running, bin, free_addr};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use collector_support::{Collector, READ_TOKEN, TOKEN, ago, report};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    let p = repo(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const RULES: &str = "packaging/prometheus/tunekeeper-rules.yml";
const RULE_TESTS: &str = "packaging/prometheus/tunekeeper-rules.test.yml";
const DASHBOARD: &str = "packaging/grafana/tunekeeper-agent.json";

fn promtool() -> Option<&'static str> {
    Command::new("promtool")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "promtool")
}

#[test]
fn promtool_checks_and_unit_tests_the_rules() {
    let Some(promtool) = promtool() else {
        ci_skip::skip("promtool is not installed (Debian: apt-get install prometheus)");
        return;
    };
    for args in [["check", "rules", RULES], ["test", "rules", RULE_TESTS]] {
        // `test rules` finds rule_files relative to the test file.
        let out = Command::new(promtool)
            .args(&args[..2])
            .arg(repo(args[2]))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The dashboard's queries parse as PromQL: each becomes a recording rule
/// of a scratch rules file (Grafana's variables replaced by what they
/// stand for) that `promtool check rules` parses.
#[test]
fn promtool_parses_every_dashboard_query() {
    let Some(promtool) = promtool() else {
        ci_skip::skip("promtool is not installed (Debian: apt-get install prometheus)");
        return;
    };
    let dashboard: serde_json::Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let queries = dashboard_queries(&dashboard);
    for (i, q) in queries.iter().enumerate() {
        // label_values() is Grafana's, not PromQL: its metric is checked
        // by the name test below; here the selector alone.
        let q = match q.strip_prefix("label_values(") {
            Some(rest) => rest.split(',').next().unwrap().to_owned(),
            None => q.clone(),
        };
        let expr = q
            .replace("$__rate_interval", "5m")
            .replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::to_string(&expr).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{rules}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{} rules found", queries.len())),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Metric names in a text exposition: every sample's, and for each
/// `# TYPE` the names its samples take (counters `_total`, histograms
/// `_bucket`/`_sum`/`_count`, info `_info`), so a family with no sample
/// yet still counts.
fn exported(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                "info" => &["_info"],
                _ => &[""],
            };
            for s in suffixes {
                names.insert(format!("{name}{s}"));
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

/// Every `tunekeeper_...` token in `text`: metric names in PromQL
/// expressions and series selectors (prose says "tunekeeper " or
/// "tunekeeper-", never with an underscore).
fn used(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("tunekeeper_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

/// The PromQL of the dashboard: panel targets and variable queries.
fn dashboard_queries(dashboard: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            out.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]["query"].as_str() {
            out.push(q.to_owned());
        }
    }
    out
}

#[test]
fn rules_and_dashboard_name_only_metrics_the_code_exports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let read_tokens = d.join("read-tokens");
    // A collector with a webhook (so its webhook metrics exist), the read
    // token set, and a report stored.
    let c = Collector::start(
        d,
        &[
            "--read-token-file",
            read_tokens.to_str().unwrap(),
            "--webhook",
            "http://127.0.0.1:9/hook",
            // Skew evaluated every second, so its per-cluster gauge has a
            // series once the agent's report names a cluster.
            "--skew-interval-seconds",
            "1",
        ],
    );
    assert_eq!(c.post(&report("b1", "r1", &ago(Duration::ZERO), 60)).0, 202);
    // A real agent's textfile, after one interval delivered to it.
    std::fs::write(d.join("token"), format!("{TOKEN}\n")).unwrap();
    let prom = d.join("agent.prom");
    std::fs::write(
        d.join("agent.toml"),
        format!(
            "endpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\nspool_dir = \"{}\"\n\
             state_dir = \"{}\"\nmetrics_textfile = \"{}\"\ntimeout = \"5s\"\ncluster = \"orders\"\n",
            c.base,
            d.join("token").display(),
            d.join("spool").display(),
            d.join("state").display(),
            prom.display()
        ),
    )
    .unwrap();
    // No process in the agent's view: other tests' brokers stay out of it.
    let view = crate::proc_view::ProcView::new(&[]);
    let once = Command::new(bin())
        .args(["agent", "--once", "--config"])
        .arg(d.join("agent.toml"))
        .env("TUNEKEEPER_ROOT", view.root())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .unwrap();
    let agent_text = std::fs::read_to_string(&prom).unwrap_or_else(|e| {
        panic!(
            "agent wrote no textfile ({e}); exit {:?}:\n{}",
            once.status.code(),
            String::from_utf8_lossy(&once.stderr)
        )
    });
    assert!(
        collector_support::eventually(|| c
            .get("/metrics", Some(READ_TOKEN))
            .1
            .contains("tunekeeper_collector_cluster_skewed_hosts{")),
        "no skew gauge series"
    );
    let (status, collector_text) = c.get("/metrics", Some(READ_TOKEN));
    assert_eq!(status, 200, "{collector_text}");
    let mut exports = exported(&agent_text);
    exports.extend(exported(&collector_text));
    // The agent's delivery counted (so its textfile is from a full run).
    assert!(
        agent_text.contains("tunekeeper_reports_delivered_total 1"),
        "{agent_text}"
    );

    let dashboard: serde_json::Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 10, "{queries:?}");
    let mut missing = Vec::new();
    let mut seen = BTreeSet::new();
    for (file, text) in [
        (RULES, read(RULES)),
        (RULE_TESTS, read(RULE_TESTS)),
        (DASHBOARD, queries.join("\n")),
    ] {
        let names = used(&text);
        assert!(!names.is_empty(), "{file} names no tunekeeper metric");
        for n in names {
            if !exports.contains(&n) {
                missing.push(format!("{file}: {n}"));
            }
            seen.insert(n);
        }
    }
    assert!(
        missing.is_empty(),
        "names no code exports:\n{}\nexported:\n{exports:#?}",
        missing.join("\n")
    );
    // Both sides are covered: agent and collector metrics alike.
    assert!(seen.contains("tunekeeper_gc_seconds_per_second"));
    assert!(seen.contains("tunekeeper_collector_hosts"));
    // And the dashboard shows every metric the agent exports.
    let shown = used(&queries.join("\n"));
    for name in exported(&agent_text) {
        let family = name.trim_end_matches("_sum");
        let covered = shown.contains(&name)
            || shown.iter().any(|s| {
                s.strip_suffix("_bucket")
                    .or_else(|| s.strip_suffix("_count"))
                    .is_some_and(|base| family.starts_with(base))
            });
        assert!(covered, "the dashboard does not show {name}");
    }
}

/// A real Prometheus server this test started, killed on drop.
struct Prometheus {
    _server: Running,
    base: String,
}

impl Prometheus {
    /// Starts `prometheus` with `config`, its data in `dir/tsdb`, on a free loopback port.
    fn start(dir: &Path, config: &Path) -> Prometheus {
        let listen = free_addr();
        let server = Running::spawn(
            Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address={listen}"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
        );
        Prometheus {
            _server: server,
            base: format!("http://{listen}"),
        }
    }

    /// The last scrape error of each target of `job` (empty: healthy).
    fn target_errors(&self, job: &str) -> Vec<String> {
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let Ok(r) = client.get(format!("{}/api/v1/targets", self.base)).send() else {
            return vec!["no answer".into()];
        };
        let v: serde_json::Value =
            serde_json::from_str(&r.text().unwrap_or_default()).unwrap_or_default();
        v["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|t| t["labels"]["job"] == job)
            .map(|t| t["lastError"].as_str().unwrap_or("?").to_owned())
            .collect()
    }
}

/// A real Prometheus scrapes a real agent's metrics endpoint
/// (`metrics_listen`). Before the fix the agent served the OpenMetrics
/// encoding (`# TYPE tunekeeper_agent info`) as `text/plain; version=0.0.4`
/// and Prometheus refused every scrape: `invalid metric type "info"`.
#[test]
fn real_prometheus_scrapes_the_agent() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        ci_skip::skip("prometheus is not installed (Debian: apt-get install prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let metrics = free_addr();
    std::fs::write(
        d.join("agent.toml"),
        format!(
            "metrics_listen = \"{metrics}\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\ninterval = \"5s\"\n",
            d.join("spool").display(),
            d.join("state").display()
        ),
    )
    .unwrap();
    let view = crate::proc_view::ProcView::new(&[]);
    let _agent = Running::spawn(
        Command::new(bin())
            .args(["agent", "--config"])
            .arg(d.join("agent.toml"))
            .env("TUNEKEEPER_ROOT", view.root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    let config = d.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n\
             scrape_configs:\n  - job_name: tunekeeper-agent\n    \
             static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let p = Prometheus::start(d, &config);
    let scraped = collector_support::eventually(|| {
        query(&p.base, "up{job=\"tunekeeper-agent\"} == 1").len() == 1
    });
    assert!(
        scraped,
        "Prometheus could not scrape the agent: {:?}",
        p.target_errors("tunekeeper-agent")
    );
    for q in [
        "tunekeeper_agent_info",
        "tunekeeper_findings",
        "tunekeeper_spool_reports",
        "tunekeeper_gc_pause_seconds_count{kind=\"full\"}",
        "tunekeeper_reports_refused_total",
    ] {
        assert!(!query(&p.base, q).is_empty(), "{q}: no series");
    }
}

/// node_exporter's textfile collector reads the agent's `metrics_textfile`
/// without error and exposes its metrics (before the fix: `unknown metric
/// type "info"`, and nothing of the file was exposed).
#[test]
fn node_exporter_reads_the_agent_textfile() {
    let exporter = "prometheus-node-exporter";
    if Command::new(exporter).arg("--version").output().is_err() {
        ci_skip::skip(
            "node_exporter is not installed (Debian: apt-get install prometheus-node-exporter)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let textfiles = d.join("textfile");
    std::fs::create_dir(&textfiles).unwrap();
    std::fs::write(
        d.join("agent.toml"),
        format!(
            "metrics_textfile = \"{}\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n",
            textfiles.join("tunekeeper.prom").display(),
            d.join("spool").display(),
            d.join("state").display()
        ),
    )
    .unwrap();
    let view = crate::proc_view::ProcView::new(&[]);
    let once = Command::new(bin())
        .args(["agent", "--once", "--config"])
        .arg(d.join("agent.toml"))
        .env("TUNEKEEPER_ROOT", view.root())
        .output()
        .unwrap();
    assert!(
        textfiles.join("tunekeeper.prom").exists(),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    let listen = free_addr();
    let _exporter = Running::spawn(
        Command::new(exporter)
            .args(["--collector.disable-defaults", "--collector.textfile"])
            .arg(format!(
                "--collector.textfile.directory={}",
                textfiles.display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut text = String::new();
    let got = collector_support::eventually(|| {
        match client.get(format!("http://{listen}/metrics")).send() {
            Ok(r) => {
                text = r.text().unwrap_or_default();
                text.contains("node_textfile_scrape_error")
            }
            Err(_) => false,
        }
    });
    assert!(got, "node_exporter did not answer");
    assert!(text.contains("node_textfile_scrape_error 0"), "{text}");
    for name in [
        "tunekeeper_agent_info{",
        "tunekeeper_findings{",
        "tunekeeper_spool_reports ",
        "tunekeeper_reports_refused_total ",
        "tunekeeper_gc_pause_seconds_bucket{",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
}

/// `GET /api/v1/query?query=q` on `base`: the result vector.
fn query(base: &str, q: &str) -> Vec<serde_json::Value> {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let Ok(r) = client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", q)])
        .send()
    else {
        return Vec::new();
    };
    let v: serde_json::Value =
        serde_json::from_str(&r.text().unwrap_or_default()).unwrap_or_default();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// A real Prometheus scrapes a real collector's `/metrics` (OpenMetrics,
/// behind the read token) and evaluates the shipped rules on it: the fleet
/// alerts go pending for the cluster with a drifting host and the one with
/// a stale host, and for no other.
#[test]
fn real_prometheus_scrapes_the_collector_and_evaluates_the_rules() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        ci_skip::skip("prometheus is not installed (Debian: apt-get install prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let read_tokens = d.join("read-tokens");
    let c = Collector::start(d, &["--read-token-file", read_tokens.to_str().unwrap()]);
    let mut drifting = report("b1", "r1", &ago(Duration::ZERO), 60);
    drifting["cluster"] = serde_json::json!({ "name": "orders", "from": "config" });
    collector_support::drift(&mut drifting, "vm.swappiness", "60");
    let mut stale = report("b2", "r2", &ago(Duration::from_secs(900)), 60);
    stale["cluster"] = serde_json::json!({ "name": "payments", "from": "config" });
    let mut fine = report("b3", "r3", &ago(Duration::ZERO), 60);
    fine["cluster"] = serde_json::json!({ "name": "search", "from": "config" });
    // A hand-made report whose cluster name holds what the exposition
    // format must escape (and markup): one label value, decoded exactly.
    let mut hostile = report("b4", "r4", &ago(Duration::ZERO), 60);
    let odd = "o\"r\\d\ne, x=<b>";
    hostile["cluster"] = serde_json::json!({ "name": odd, "from": "config" });
    for r in [&drifting, &stale, &fine, &hostile] {
        assert_eq!(c.post(r).0, 202);
    }
    let target = c.base.trim_start_matches("http://").to_owned();
    let config = d.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: tunekeeper-collector\n    \
             authorization:\n      credentials: {READ_TOKEN}\n    \
             static_configs:\n      - targets: ['{target}']\n",
            rules = repo(RULES).display()
        ),
    )
    .unwrap();
    let p = Prometheus::start(d, &config);
    let up = collector_support::eventually(|| {
        query(&p.base, "up{job=\"tunekeeper-collector\"} == 1").len() == 1
    });
    assert!(up, "Prometheus never scraped the collector");
    assert_eq!(
        query(
            &p.base,
            "tunekeeper_collector_hosts{cluster=\"orders\",state=\"drifting\"} == 1"
        )
        .len(),
        1
    );
    let odd_hosts = query(&p.base, "tunekeeper_collector_cluster_hosts == 1");
    let names: Vec<&str> = odd_hosts
        .iter()
        .filter_map(|s| s["metric"]["cluster"].as_str())
        .collect();
    assert!(names.contains(&odd), "{names:?}");
    let pending = |name: &str| -> Vec<String> {
        let mut clusters: Vec<String> = query(&p.base, &format!("ALERTS{{alertname=\"{name}\"}}"))
            .iter()
            .map(|s| s["metric"]["cluster"].as_str().unwrap_or("").to_owned())
            .collect();
        clusters.sort();
        clusters
    };
    assert!(
        collector_support::eventually(|| {
            pending("TunekeeperClusterHostsDrifting") == ["orders"]
                && pending("TunekeeperClusterHostsStale") == ["payments"]
        }),
        "drifting: {:?}, stale: {:?}",
        pending("TunekeeperClusterHostsDrifting"),
        pending("TunekeeperClusterHostsStale")
    );
    assert!(pending("TunekeeperClusterGcUnhealthy").is_empty());
}
