//! A broker host is hostile (issue 19, the host side): an unprivileged
//! process whose main class is `kafka.Kafka` (a real JVM the test starts,
//! found by its pid) and what it puts in front of the agent and `audit`: a
//! log set of 1,100 files, a thousand idle connections to the metrics
//! port, megabytes of JVM options, a log file swapped for a FIFO between
//! listing and open, a GC log without a newline. The real binary, under
//! systemd's default descriptor limit (`prlimit --nofile=1024`), seeing the
//! host through a [`ProcView`] of the test's own processes, so another
//! test's JVM is never in its reports. Each test failed on main (86f16b6).

use crate::collector_support;
use crate::proc_view::ProcView;
use crate::support::java::{self, IDLE_BROKER};
use crate::support::{Running, agent_config, free_port, hostname};
use crate::under_test::bin;
use crate::{ci_skip, wait};

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A directory others may enter (the fake broker runs as `nobody`).
fn open_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// A directory the fake broker (running as `nobody`) writes its GC log in.
fn logs_dir(parent: &Path) -> PathBuf {
    let logs = parent.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    nix::unistd::chown(&logs, Some(nobody.uid), None).unwrap();
    logs
}

/// Compiles the idle stand-in broker (`kafka.Kafka`, sleeps) into
/// `dir/classes`; `None` (said through ci_skip) without a JDK.
fn classes(dir: &Path) -> Option<PathBuf> {
    java::classes_or_skip(dir, IDLE_BROKER)
}

/// Starts a fake broker (a real JVM running `kafka.Kafka`) as `nobody`,
/// with `opts` before the main class and `args` after it; returns once
/// its main runs.
fn fake_broker(classes: &Path, opts: &[String], args: &[&str]) -> Running {
    java::java(classes, "kafka.Kafka")
        .under(&[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--",
        ])
        .flags([
            "-Xmx24m",
            "-Xss512k",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",
        ])
        .flags(opts)
        .args(args)
        .quiet()
        .start_up()
}

/// The agent, as systemd runs it: at most 1,024 descriptors; it sees the
/// host through `view` (the test's own processes only).
fn agent_command(config: &Path, view: &ProcView, once: bool) -> Command {
    let mut c = Command::new("prlimit");
    c.args(["--nofile=1024:1024", "--"]).arg(bin()).arg("agent");
    if once {
        c.arg("--once");
    }
    c.arg("--config")
        .arg(config)
        .env("TUNEKEEPER_ROOT", view.root())
        .env("TUNEKEEPER_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

/// The spooled reports, oldest first, decoded.
fn spooled(dir: &Path) -> Vec<serde_json::Value> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("spool"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(".json.gz") && !n.starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|p| {
            let raw = std::fs::read(p).ok()?;
            let mut text = String::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut text)
                .ok()?;
            serde_json::from_str(&text).ok()
        })
        .collect()
}

fn jvm_of(report: &serde_json::Value, pid: u32) -> Option<&serde_json::Value> {
    report["jvms"]
        .as_array()?
        .iter()
        .find(|j| j["pid"] == i64::from(pid))
}

fn finding<'a>(
    report: &'a serde_json::Value,
    check: &str,
    key: &str,
) -> Option<&'a serde_json::Value> {
    report["findings"]
        .as_array()?
        .iter()
        .find(|f| f["check"] == check && f["key"] == key)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Principle 3 (descriptors). A broker whose GC log directory holds 1,100
/// rotated files: main held every file of the set open, ran out of
/// descriptors at 1,024, lost the report and said "no broker runs".
#[test]
fn a_log_set_of_1100_files_costs_no_report_under_1024_descriptors() {
    let dir = open_dir();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let logs = logs_dir(dir.path());
    for n in 0..1100 {
        std::fs::write(
            logs.join(format!("gc.log.{n}")),
            format!("[2026-11-24T10:00:00.000+0000][gc] GC({n}) Pause Young (Normal) (G1 Evacuation Pause) 24M->4M(256M) 1.000ms\n"),
        )
        .unwrap();
    }
    let broker = fake_broker(
        &classes,
        &[format!(
            "-Xlog:gc*:file={}:time:filecount=0",
            logs.join("gc.log").display()
        )],
        &[],
    );
    let pid = broker.pid();
    let view = ProcView::new(&[pid]);
    let config = agent_config(dir.path(), "");
    let out = agent_command(&config, &view, true).output().unwrap();
    let err = stderr(&out);
    let reports = spooled(dir.path());
    assert_eq!(reports.len(), 1, "one report spooled: {err}");
    let r = &reports[0];
    let jvm =
        jvm_of(r, pid).unwrap_or_else(|| panic!("the running broker is in the report: {err}"));
    assert!(
        jvm["gc"]["total"]["overall"]["count"].as_u64().unwrap() >= 1000,
        "the rotated files were read: {}",
        jvm["gc"]["total"]["overall"]
    );
    assert!(!err.contains("no broker runs"), "{err}");
    assert!(!err.contains("Too many open files"), "{err}");
    let running = finding(r, "process", "running");
    assert!(
        running.is_none_or(|f| f["status"] == "ok"),
        "the broker is seen running: {running:?}"
    );
}

/// Principle 3 (descriptors, the metrics port). 1,100 idle connections to
/// the metrics port: main accepted every one, ran out of descriptors and
/// lost reports; now at most 32 are held, the oldest make room, and a
/// scrape still answers.
#[test]
fn idle_connections_to_the_metrics_port_cost_no_report() {
    // This test holds 1,100 sockets itself.
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    if hard < 4096 {
        ci_skip::skip("the test's own descriptor limit is below 4,096");
        return;
    }
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = agent_config(
        dir.path(),
        &format!("metrics_listen = \"127.0.0.1:{port}\"\n"),
    );
    let log = dir.path().join("agent.log");
    // No process in its view: the reports are all this test counts.
    let view = ProcView::new(&[]);
    let _agent = Running::spawn(
        agent_command(&config, &view, false).stderr(std::fs::File::create(&log).unwrap()),
    );
    wait::until("the metrics endpoint", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let mut idle = Vec::new();
    for _ in 0..1100 {
        if let Ok(s) = TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(2),
        ) {
            idle.push(s);
        }
    }
    let before = spooled(dir.path()).len();
    if !wait::eventually(|| spooled(dir.path()).len() >= before + 3) {
        panic!(
            "no three more reports beside {} idle connections; the agent's log:\n{}",
            idle.len(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let scrape = get(port, "/metrics").expect("a scrape answers beside the idle connections");
    assert!(scrape.contains("tunekeeper_agent_info"), "{scrape}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("lost"), "{text}");
    drop(idle);
}

/// A plain HTTP/1.0 GET; the body.
fn get(port: u16, path: &str) -> Option<String> {
    use std::io::Write;
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    raw.starts_with("HTTP/1.1 200").then_some(raw)
}

/// Principle 3 (the report fits). A fake broker with 1.4 MB of JVM
/// options: main built a report over the collector's 1 MiB limit at every
/// interval, the collector answered 413, and the host went silent. Now the
/// flags are cut with a marker and the report is delivered.
#[test]
fn megabytes_of_jvm_options_still_deliver_a_report() {
    let dir = open_dir();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    // 1,400 options of about 1 KB: 1.4 MB of command line.
    let opts: Vec<String> = (0..1400)
        .map(|i| format!("-Dhostile.{i}={}", "x".repeat(1000)))
        .collect();
    let broker = fake_broker(&classes, &opts, &[]);
    let pid = broker.pid();
    let view = ProcView::new(&[pid]);
    let cdir = tempfile::tempdir().unwrap();
    let collector = collector_support::Collector::start(cdir.path(), &[]);
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{}\n", collector_support::TOKEN)).unwrap();
    let config = agent_config(
        dir.path(),
        &format!(
            "endpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\n",
            collector.base,
            token.display()
        ),
    );
    let out = agent_command(&config, &view, true).output().unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "delivered, nothing set aside: {err}"
    );
    assert!(spooled(dir.path()).is_empty(), "{err}");
    let latest = collector.get_json(&format!(
        "/api/v1/hosts/{}/reports?limit=1",
        collector_support::segment(&hostname())
    ))[0]
        .clone();
    let jvm = jvm_of(&latest, pid).unwrap_or_else(|| panic!("the broker is reported: {latest}"));
    let flags = jvm["flags"].as_array().unwrap();
    assert!(
        flags
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("more flags]"),
        "the flag list ends with its marker"
    );
}

/// Principle 3 (the report fits, another limit): a small
/// `max_report_bytes` (and the collector's `--max-body-bytes` to match)
/// with several fake brokers: JVM entries past the budget are left out and
/// counted in a finding, never a report the collector refuses.
#[test]
fn jvms_past_the_report_budget_are_counted_not_refused() {
    let dir = open_dir();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let brokers: Vec<Running> = (0..3)
        .map(|i| {
            let opts: Vec<String> = (0..20)
                .map(|k| format!("-Dbroker{i}.opt{k}={}", "y".repeat(1000)))
                .collect();
            fake_broker(&classes, &opts, &[])
        })
        .collect();
    let pids: Vec<u32> = brokers.iter().map(Running::pid).collect();
    let view = ProcView::new(&pids);
    let cdir = tempfile::tempdir().unwrap();
    let collector =
        collector_support::Collector::start(cdir.path(), &["--max-body-bytes", "65536"]);
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{}\n", collector_support::TOKEN)).unwrap();
    let config = agent_config(
        dir.path(),
        &format!(
            "endpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\nmax_report_bytes = \"64KiB\"\n",
            collector.base,
            token.display()
        ),
    );
    let out = agent_command(&config, &view, true).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "delivered: {err}");
    let latest = collector.get_json(&format!(
        "/api/v1/hosts/{}/reports?limit=1",
        collector_support::segment(&hostname())
    ))[0]
        .clone();
    let counted = finding(&latest, "agent", "jvms").expect("the left-out JVMs are counted");
    assert!(
        counted["detail"]
            .as_str()
            .unwrap()
            .contains("report budget"),
        "{counted}"
    );
    let reported = latest["jvms"].as_array().map_or(0, Vec::len);
    assert!(
        reported < brokers.len(),
        "{reported} of {} reported",
        brokers.len()
    );
    // The agent sees these three and no other: every one is either
    // reported or counted.
    assert_eq!(
        counted["actual"],
        format!("{} not reported", brokers.len() - reported),
        "{counted}"
    );
}

/// Swaps `path` between a regular file and a FIFO until `stop`: a listing
/// sees a file, the open that follows may meet the FIFO.
fn swapper(path: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let dir = path.parent().unwrap().to_path_buf();
        let file = dir.join(".swap-file");
        let fifo = dir.join(".swap-fifo");
        let content = std::fs::read(&path).unwrap_or_default();
        // Each state held for 2 ms, so a look at the path sees either about
        // half the time, and a look 20 ms later (see `widened`) again either.
        while !stop.load(Ordering::Relaxed) {
            let _ = std::fs::write(&file, &content);
            let _ = std::fs::rename(&file, &path);
            std::thread::sleep(Duration::from_millis(2));
            let _ = nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644));
            let _ = std::fs::rename(&fifo, &path);
            std::thread::sleep(Duration::from_millis(2));
        }
        // Never write through the name: it may be the FIFO, and a write
        // to a FIFO nobody reads blocks.
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::write(&path, &content);
    })
}

/// `cmd` run under strace with every `stat` of `paths` (each also as seen
/// through `view`, the way the product names it) held 20 ms after it
/// returns: the window between a check on the path and an open of the
/// path, a few microseconds wide, becomes wide enough for the swapper to
/// land in it at nearly every try. Without it main's race was met too
/// seldom for the test to fail there. An open followed by `fstat` on its
/// descriptor has no such window, whatever the delay. `None` without strace.
fn widened(cmd: &Command, view: &ProcView, paths: &[&Path]) -> Option<Command> {
    if !Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        ci_skip::skip("no strace on this machine; .ci/run installs it");
        return None;
    }
    let mut c = Command::new("strace");
    c.args([
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "--seccomp-bpf",
        "-e",
        "trace=%%stat",
        "-e",
        "inject=%%stat:delay_exit=20000",
    ]);
    for p in paths {
        c.arg("-P").arg(p);
        c.arg("-P")
            .arg(view.root().join(p.strip_prefix("/").unwrap_or(p)));
    }
    c.arg("--").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    Some(c)
}

/// A command under strace. Killing strace detaches its tracees and leaves
/// them running (strace 6.1 has no `--kill-on-exit`): an agent would go on
/// for good after the test. So the tracees are killed first.
struct Traced(Running);

impl Drop for Traced {
    fn drop(&mut self) {
        for pid in descendants(self.0.pid()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Every process below `pid`, from the kernel's children lists.
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
                out.push(k);
                todo.push(k);
            }
        }
    }
    out
}

/// Principle 2. `gc.log.1` swapped for a FIFO between the listing and the
/// open: main's open blocked for ever (no writer comes), so the agent
/// stopped reporting while systemd saw it running. Now the open cannot
/// block and the FIFO is refused with a finding.
#[test]
fn a_log_swapped_for_a_fifo_never_blocks_the_agent() {
    let dir = open_dir();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let logs = logs_dir(dir.path());
    std::fs::write(
        logs.join("gc.log.1"),
        "[2026-11-24T10:00:00.000+0000][gc] Using G1\n",
    )
    .unwrap();
    let broker = fake_broker(
        &classes,
        &[format!(
            "-Xlog:gc*:file={}:time:filecount=0",
            logs.join("gc.log").display()
        )],
        &[],
    );
    let view = ProcView::new(&[broker.pid()]);
    let config = agent_config(dir.path(), "gc_poll = \"10ms\"\n");
    let log = dir.path().join("agent.log");
    let Some(mut cmd) = widened(
        &agent_command(&config, &view, false),
        &view,
        &[&logs, &logs.join("gc.log.1")],
    ) else {
        return;
    };
    let _agent = Traced(Running::spawn(
        cmd.stdin(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap()),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let swap = swapper(logs.join("gc.log.1"), stop.clone());
    // Ten intervals while the log is swapped, then one more: an agent whose
    // open blocked on the FIFO once would report no more.
    let before = spooled(dir.path()).len();
    wait::until("ten reports while the log is swapped", || {
        spooled(dir.path()).len() >= before + 10
    });
    let last = spooled(dir.path()).len();
    wait::until("the agent to go on reporting", || {
        spooled(dir.path()).len() > last
    });
    stop.store(true, Ordering::Relaxed);
    swap.join().unwrap();
}

/// Principle 2, `audit`: the broker's properties file swapped for a FIFO
/// between the check and the read hung `audit` on main. Twenty audits while
/// it is swapped must all finish.
#[test]
fn a_properties_file_swapped_for_a_fifo_never_hangs_audit() {
    let dir = open_dir();
    let Some(classes) = classes(dir.path()) else {
        return;
    };
    let props = dir.path().join("server.properties");
    std::fs::write(&props, "log.dirs=/tmp/kafka-logs\n").unwrap();
    let broker = fake_broker(&classes, &[], &[props.to_str().unwrap()]);
    // The audit reads this broker's properties file, and no other broker's.
    let view = ProcView::new(&[broker.pid()]);
    let stop = Arc::new(AtomicBool::new(false));
    let swap = swapper(props.clone(), stop.clone());
    let mut audit = Command::new(bin());
    audit
        .args(["audit", "--profile", "kafka-broker"])
        .env("TUNEKEEPER_ROOT", view.root())
        .env("NO_COLOR", "1");
    let Some(mut audit) = widened(&audit, &view, &[&props]) else {
        stop.store(true, Ordering::Relaxed);
        swap.join().unwrap();
        return;
    };
    for i in 0..20 {
        let mut audit = Running::spawn(
            audit
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        if wait::exit_within(&mut audit.0, wait::PATIENCE).is_none() {
            stop.store(true, Ordering::Relaxed);
            panic!("audit {i} hung on the swapped properties file");
        }
    }
    stop.store(true, Ordering::Relaxed);
    swap.join().unwrap();
}

/// The agent's peak resident set, from /proc while it runs.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Principle 1 (lines). A GC log without a newline — a 512 MiB sparse
/// file — grew main's memory to the file's size; now a line is at most
/// 64 KiB, the rest is skipped and counted in a finding.
#[test]
fn a_gc_log_without_a_newline_does_not_grow_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gc.log");
    let f = std::fs::File::create(&log).unwrap();
    f.set_len(512 << 20).unwrap();
    let config = agent_config(dir.path(), &format!("gc_logs = [\"{}\"]\n", log.display()));
    let view = ProcView::new(&[]);
    let mut agent = Running::spawn(agent_command(&config, &view, false).stderr(Stdio::null()));
    let pid = agent.pid();
    let mut peak = 0;
    wait::until("three reports", || {
        // prlimit execs the agent: same pid.
        peak = peak.max(peak_rss_kib(pid).unwrap_or(0));
        spooled(dir.path()).len() >= 3
    });
    peak = peak.max(peak_rss_kib(pid).unwrap_or(0));
    assert!(agent.alive(), "the agent still runs");
    assert!(peak < 200 << 10, "peak resident set {peak} KiB");
    let reports = spooled(dir.path());
    let lines = reports
        .iter()
        .filter_map(|r| r["jvms"].as_array())
        .flatten()
        .flat_map(|j| j["findings"].as_array().cloned().unwrap_or_default())
        .find(|f| f["key"] == "log_lines");
    assert!(lines.is_some(), "the skipped line is a finding");
}

/// Principle 3 (a refused report blocks nothing). A collector that refuses
/// one report for good with a status main did not know as final (431):
/// main retried it for ever and delivered nothing behind it. Now every 4xx
/// about the report sets it aside and the next ones go through.
#[test]
fn a_report_refused_for_good_does_not_block_those_behind_it() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut poison: Option<String> = None;
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let mut json = String::new();
            let _ = flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut json);
            let id = serde_json::from_str::<serde_json::Value>(&json)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string))
                .unwrap_or_default();
            let refuse = poison.get_or_insert_with(|| id.clone()) == &id;
            let status = if refuse {
                "431 Request Header Fields Too Large"
            } else {
                counter.fetch_add(1, Ordering::SeqCst);
                "202 Accepted"
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(
        dir.path(),
        &format!("endpoint = \"http://127.0.0.1:{port}/api/v1/reports\"\n"),
    );
    let view = ProcView::new(&[]);
    let _agent = Running::spawn(agent_command(&config, &view, false).stderr(Stdio::null()));
    wait::until("three reports behind the refused one", || {
        accepted.load(Ordering::SeqCst) >= 3
    });
    let aside: Vec<_> = std::fs::read_dir(dir.path().join("spool/rejected"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(aside.len(), 1, "the refused report is set aside");
}
