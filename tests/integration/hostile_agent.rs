//! The agent under hostile conditions (issue 10, items 9 to 15): the real
//! binary against real loopback servers that redirect, fail, hang, a spool
//! on a tiny full tmpfs, a spool written under another clock, token files in
//! the collector's format, absurd config values and spool entries that cannot
//! be read. Each test failed before its fix.

use crate::ci_skip;
use crate::collector_support;
use crate::proc_view::ProcView;
use crate::support::{Running, bin, hostname};
use crate::wait;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use collector_support::{Collector, TOKEN};

/// The agent as a service, with the host view it was given (kept while it
/// runs); killed on drop, before its view goes.
struct Agent {
    run: Running,
    _view: ProcView,
}

impl Agent {
    /// Whether the agent still runs.
    fn alive(&mut self) -> bool {
        self.run.alive()
    }

    /// SIGTERM, then the exit code.
    fn terminate(mut self) -> Option<i32> {
        self.run.terminate().code()
    }
}

/// Writes `dir/agent.toml`: spool in `spool`, the given extra lines.
fn agent_config(dir: &Path, spool: &Path, extra: &str) -> PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "interval = \"1s\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n{extra}",
            spool.display(),
            spool.with_file_name("state").display()
        ),
    )
    .unwrap();
    path
}

/// `tunekeeper agent --once`, logging at info. Its host view holds no
/// process: these cases start no JVM, and a broker running beside them (a
/// developer's, another test's) must not change what the agent reports.
fn agent_once(config: &Path) -> Output {
    let view = ProcView::new(&[]);
    Command::new(bin())
        .args(["agent", "--once", "--config"])
        .arg(config)
        .env("TUNEKEEPER_ROOT", view.root())
        .env("TUNEKEEPER_LOG", "info")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The agent as a service, its log in `log`: info, and the agent's debug
/// lines (each failed attempt with its `retry_in`; the journal at info shows
/// one line per failure streak). Its host view holds no process, as
/// [`agent_once`]'s.
fn start_agent(config: &Path, log: &Path) -> Agent {
    let view = ProcView::new(&[]);
    Agent {
        run: Running::spawn(
            Command::new(bin())
                .args(["agent", "--config"])
                .arg(config)
                .env("TUNEKEEPER_ROOT", view.root())
                .env("TUNEKEEPER_LOG", "info,tunekeeper::agent=debug")
                .env("NO_COLOR", "1")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log).unwrap()),
        ),
        _view: view,
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The pending reports' file names, in the spool's order (by name).
fn spooled(spool: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(spool)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json.gz") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The report id in a spool file name (its last 36 characters before the suffix).
fn id_of(name: &str) -> String {
    let stem = name.strip_suffix(".json.gz").unwrap();
    stem[stem.len() - 36..].to_string()
}

/// Keeps every document: the listing then holds every report delivered (by
/// default only each host's latest and each change of findings).
const KEEP_RAW: &[&str] = &["--keep-raw-days", "1"];

/// Ids of the reports the collector stored for this host.
fn stored_ids(c: &Collector) -> Vec<String> {
    let (status, body) = c.get(
        &format!(
            "/api/v1/hosts/{}/reports?limit=1000",
            collector_support::segment(&hostname())
        ),
        None,
    );
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// How the tiny loopback server answers.
#[derive(Clone, Copy)]
enum Mode {
    /// `301 Location: /` to a POST, 200 to anything else.
    Redirect,
    /// This status to everything.
    Status(u16),
    /// Reads the request and never answers (the connection stays open).
    Hang,
}

/// One request the server saw: when it arrived, method and path.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    method: String,
    path: String,
}

/// A minimal HTTP/1.1 server on loopback that records every request.
struct TinyServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl TinyServer {
    fn start(mode: Mode) -> TinyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            // Hung connections are held here until the server stops.
            let mut held: Vec<TcpStream> = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let seen = seen2.clone();
                        if matches!(mode, Mode::Hang) {
                            let keep = stream.try_clone().unwrap();
                            std::thread::spawn(move || {
                                let _ = read_request(&stream).map(|s| seen.lock().unwrap().push(s));
                            });
                            held.push(keep);
                        } else {
                            std::thread::spawn(move || serve(stream, mode, &seen));
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TinyServer { port, seen, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/reports", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TinyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request (head and a Content-Length body).
fn read_request(stream: &TcpStream) -> Option<Seen> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let at = Instant::now();
    let mut words = line.split_whitespace();
    let method = words.next()?.to_string();
    let path = words.next()?.to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    Some(Seen { at, method, path })
}

fn serve(mut stream: TcpStream, mode: Mode, seen: &Mutex<Vec<Seen>>) {
    let Some(req) = read_request(&stream) else {
        return;
    };
    let post = req.method == "POST";
    seen.lock().unwrap().push(req);
    let head = match mode {
        Mode::Redirect if post => "301 Moved Permanently\r\nLocation: /".to_string(),
        Mode::Redirect => "200 OK".to_string(),
        Mode::Status(s) => format!("{s} Status"),
        Mode::Hang => unreachable!(),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {head}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
}

/// Item 9: a 301 to a POST is not a delivery. Before the fix the agent
/// followed it with `GET /`, took the 200 as delivered and deleted the report.
#[test]
fn a_redirect_is_a_failure_that_keeps_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let server = TinyServer::start(Mode::Redirect);
    let spool = dir.path().join("spool");
    let config = agent_config(
        dir.path(),
        &spool,
        &format!("endpoint = \"{}\"\ntimeout = \"10s\"\n", server.url()),
    );
    let out = agent_once(&config);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let seen = server.seen();
    assert!(!seen.is_empty(), "the agent never posted");
    assert!(
        seen.iter()
            .all(|s| s.method == "POST" && s.path == "/api/v1/reports"),
        "the agent followed the redirect: {seen:?}"
    );
    assert_eq!(
        spooled(&spool).len(),
        1,
        "the report must stay in the spool"
    );
    assert!(err.contains("301"), "the log should say why: {err}");
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Item 10: a spool file system that fills up. Before the fix the agent
/// exited 2 at the first ENOSPC, and `--once` exited the same way before
/// delivering anything, collector or not.
#[test]
fn a_full_spool_file_system_drops_the_oldest_keeps_running_and_once_delivers_everything() {
    if !nix::unistd::geteuid().is_root() {
        ci_skip::skip("skipping: mounting a tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some(fs) = Tmpfs::mount(&d.join("fs"), "48k") else {
        ci_skip::skip("skipping: cannot mount a tmpfs here");
        return;
    };
    // Something else fills most of the file system: room for about three
    // reports (about 2 KB gzipped, one 4 KiB page each) remains.
    std::fs::write(fs.0.join("filler"), vec![b'x'; 36 << 10]).unwrap();
    let spool = fs.0.join("spool");
    let nobody = TcpListener::bind("127.0.0.1:0").unwrap();
    let down = nobody.local_addr().unwrap().port();
    drop(nobody);
    let config = agent_config(
        d,
        &spool,
        &format!("endpoint = \"http://127.0.0.1:{down}/api/v1/reports\"\ntimeout = \"2s\"\n"),
    );
    let log = d.join("agent.log");
    let mut agent = start_agent(&config, &log);
    let drops = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("dropped the oldest report")
            .count()
    };
    wait::until("two reports dropped for space", || {
        assert!(
            agent.alive(),
            "the agent died on a full spool: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        drops() >= 2
    });
    // It keeps running (through two more drops, not for a fixed time that a
    // slow machine may spend before the next report), and the newest
    // reports are the ones kept.
    wait::until("two more reports dropped for space", || {
        assert!(agent.alive(), "the agent died on a full spool");
        drops() >= 4
    });
    assert!(agent.alive());
    assert_eq!(agent.terminate(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("No space left on device"), "{text}");
    let kept = spooled(&spool);
    assert!(!kept.is_empty(), "the newest reports stay: {text}");

    // The collector comes back: `--once` delivers first, so the full file
    // system costs nothing more.
    let cdir = tempfile::tempdir().unwrap();
    let collector = Collector::start(cdir.path(), KEEP_RAW);
    let config = agent_config(
        d,
        &spool,
        &format!(
            "endpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\ntimeout = \"10s\"\n",
            collector.base,
            cdir.path().join("tokens").display()
        ),
    );
    let out = agent_once(&config);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(spooled(&spool).is_empty(), "{err}");
    assert!(
        !err.contains("dropped"),
        "nothing is dropped when the collector is up: {err}"
    );
    let stored = stored_ids(&collector);
    for name in &kept {
        assert!(stored.contains(&id_of(name)), "{name} was not delivered");
    }
    assert_eq!(
        stored.len(),
        kept.len() + 1,
        "the spooled reports and the new one"
    );
    drop(fs);
}

/// Item 10, the service: a full spool file system with the collector up.
/// Delivery goes first, so nothing is dropped: the report that found no room
/// waits for the backlog to go, then takes its place.
#[test]
fn a_full_spool_file_system_with_the_collector_up_loses_nothing() {
    if !nix::unistd::geteuid().is_root() {
        ci_skip::skip("skipping: mounting a tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some(fs) = Tmpfs::mount(&d.join("fs"), "48k") else {
        ci_skip::skip("skipping: cannot mount a tmpfs here");
        return;
    };
    let spool = fs.0.join("spool");
    // A backlog of three reports spooled with no endpoint, then something
    // else takes every byte left.
    let config = agent_config(d, &spool, "");
    for _ in 0..3 {
        let out = agent_once(&config);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    let backlog = spooled(&spool);
    assert_eq!(backlog.len(), 3);
    let mut filler = std::fs::File::create(fs.0.join("filler")).unwrap();
    let mut written = 0;
    while filler.write_all(&[b'x'; 1024]).is_ok() && written < 1 << 20 {
        written += 1024;
    }
    drop(filler);
    let probe = std::fs::write(fs.0.join("probe"), [b'x'; 1024]);
    assert!(probe.is_err(), "the file system should be full");

    let cdir = tempfile::tempdir().unwrap();
    let collector = Collector::start(cdir.path(), KEEP_RAW);
    let config = agent_config(
        d,
        &spool,
        &format!(
            "endpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\ntimeout = \"10s\"\n",
            collector.base,
            cdir.path().join("tokens").display()
        ),
    );
    let log = d.join("agent.log");
    let mut agent = start_agent(&config, &log);
    wait::until("the backlog and two new reports", || {
        assert!(
            agent.alive(),
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        stored_ids(&collector).len() >= 5
    });
    assert_eq!(agent.terminate(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("dropped"), "{text}");
    let stored = stored_ids(&collector);
    for name in &backlog {
        assert!(
            stored.contains(&id_of(name)),
            "{name} was not delivered: {text}"
        );
    }
    drop(fs);
}

/// Item 11: a spool written while the clock was a day ahead (as the agent
/// before the fix named its files: time in ns, a per-run counter, the id).
/// Before the fix each new report sorted oldest and was the one dropped.
#[test]
fn the_spool_orders_by_sequence_not_by_the_wall_clock() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spool = d.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    // Three real reports, renamed as if written a day in the future.
    let scratch = d.join("scratch");
    let config = agent_config(d, &scratch, "spool_max_reports = 3\n");
    for _ in 0..3 {
        let out = agent_once(&config);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    let ahead = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        + 86_400 * 1_000_000_000;
    let mut old = Vec::new();
    for (i, name) in spooled(&scratch).iter().enumerate() {
        let renamed = format!(
            "{:020}-{:06}-{}.json.gz",
            ahead + i as u128 * 1_000_000_000,
            i + 1,
            id_of(name)
        );
        std::fs::rename(scratch.join(name), spool.join(&renamed)).unwrap();
        old.push(renamed);
    }
    assert_eq!(old.len(), 3);

    let config = agent_config(d, &spool, "spool_max_reports = 3\n");
    let mut expected = old.clone();
    for round in 0..2 {
        let out = agent_once(&config);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        let now = spooled(&spool);
        assert_eq!(now.len(), 3, "{now:?}");
        // The oldest of the earlier reports was dropped, and the log names it.
        let dropped = expected.remove(0);
        assert!(!now.contains(&dropped), "round {round}: {now:?}");
        assert!(
            err.lines()
                .any(|l| l.contains("dropped the oldest report") && l.contains(&dropped)),
            "round {round}: the log names {dropped}: {err}"
        );
        // The new report is kept and sorts newest.
        let new = now.last().unwrap().clone();
        assert!(!expected.contains(&new), "round {round}: {now:?}");
        assert_eq!(&now[..2], &expected[..], "round {round}");
        expected.push(new);
    }
}

/// The `retry_in` values the agent logged, in order.
fn logged_retries(log: &str) -> Vec<Duration> {
    log.lines()
        .filter_map(|l| {
            let v = l.split("retry_in=").nth(1)?.split_whitespace().next()?;
            let (num, scale) = if let Some(n) = v.strip_suffix("ns") {
                (n, 1e-9)
            } else if let Some(n) = v.strip_suffix("µs") {
                (n, 1e-6)
            } else if let Some(n) = v.strip_suffix("ms") {
                (n, 1e-3)
            } else {
                (v.strip_suffix('s')?, 1.0)
            };
            Some(Duration::from_secs_f64(num.parse::<f64>().ok()? * scale))
        })
        .collect()
}

/// Item 12: against a collector answering 500, no post comes before the
/// `retry_in` the agent logged for the previous failure, while reports are
/// still spooled every interval. Before the fix every new report cut the
/// backoff short: a post every interval, whatever retry_in said.
#[test]
fn delivery_keeps_its_backoff_while_reporting_keeps_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let server = TinyServer::start(Mode::Status(500));
    let spool = dir.path().join("spool");
    let config = agent_config(
        dir.path(),
        &spool,
        &format!("endpoint = \"{}\"\ntimeout = \"10s\"\n", server.url()),
    );
    let log = dir.path().join("agent.log");
    let agent = start_agent(&config, &log);
    wait::until("a first post", || !server.seen().is_empty());
    let first_report = spooled(&spool).len();
    // Eight more reports (eight intervals at least, whatever the machine's
    // load) while the collector keeps failing, and at least two posts.
    wait::until("eight reports spooled and two posts", || {
        spooled(&spool).len() - first_report >= 8 && server.seen().len() >= 2
    });
    let reports = spooled(&spool).len() - first_report;
    assert_eq!(agent.terminate(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let retries = logged_retries(&text);
    let posts: Vec<Instant> = server.seen().iter().map(|s| s.at).collect();
    eprintln!(
        "{} posts, {} retries logged ({:?}), {reports} reports meanwhile",
        posts.len(),
        retries.len(),
        retries
    );
    assert!(posts.len() >= 2, "the agent retried: {text}");
    assert!(
        posts.len() <= retries.len() + 1,
        "every post but the last follows a logged failure: {} posts, {} failures",
        posts.len(),
        retries.len()
    );
    for (i, pair) in posts.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(
            gap + Duration::from_millis(5) >= retries[i],
            "post {} came {gap:?} after post {i}, but retry_in was {:?}",
            i + 1,
            retries[i]
        );
    }
    assert!(reports >= 8, "{reports} reports spooled");
}

/// Item 12: a collector that accepts and never answers. Before the fix the
/// report loop waited for the send, so no report was spooled for the whole
/// request timeout.
#[test]
fn a_hung_collector_does_not_slip_the_report_interval() {
    let dir = tempfile::tempdir().unwrap();
    let server = TinyServer::start(Mode::Hang);
    let spool = dir.path().join("spool");
    let config = agent_config(
        dir.path(),
        &spool,
        &format!("endpoint = \"{}\"\ntimeout = \"300s\"\n", server.url()),
    );
    let agent = start_agent(&config, &dir.path().join("agent.log"));
    wait::until("a first post", || !server.seen().is_empty());
    // Five reports spooled (the wait's bound is shorter than the send's
    // 300 s timeout) while the one post hangs: no second post was made.
    let before = spooled(&spool).len();
    wait::until("five reports spooled while a send hangs", || {
        spooled(&spool).len() - before >= 5
    });
    assert_eq!(
        server.seen().len(),
        1,
        "the first send still hangs: no other post"
    );
    drop(agent);
}

/// Item 13: the collector's own token file (a `# comment`, a blank line, an
/// indented comment) works for the agent. Before the fix the comment went
/// into the header: "builder error", retried forever, the file never named.
#[test]
fn a_token_file_in_the_collectors_format_works_for_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path(), KEEP_RAW);
    let spool = dir.path().join("spool");
    let config = agent_config(
        dir.path(),
        &spool,
        &format!(
            "endpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\n",
            collector.base,
            dir.path().join("tokens").display()
        ),
    );
    let out = agent_once(&config);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stored_ids(&collector).len(), 1);
}

/// Item 13: token files the agent cannot use are a config error at start
/// (exit 2) naming the file and line, and never quoting the secret.
#[test]
fn a_bad_token_file_is_a_config_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = TinyServer::start(Mode::Status(202));
    let spool = dir.path().join("spool");
    let token = dir.path().join("agent-token");
    let config = agent_config(
        dir.path(),
        &spool,
        &format!(
            "endpoint = \"{}\"\ntoken_file = \"{}\"\n",
            server.url(),
            token.display()
        ),
    );
    for (text, says) in [
        ("# agents\n\n", "no token"),
        ("first-s3cr3t\nsecond-s3cr3t\n", "2 tokens"),
        ("# ok\ns3c r3t-x\n", "line 2"),
        ("s3cr3t\u{7}x\n", "line 1"),
        ("s\u{e9}cr3t\n", "line 1"),
    ] {
        std::fs::write(&token, text).unwrap();
        let out = agent_once(&config);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(
            err.contains(&token.display().to_string()),
            "{text:?}: {err}"
        );
        assert!(err.contains(says), "{text:?} should say {says:?}: {err}");
        assert!(!err.contains("r3t"), "the secret is never quoted: {err}");
    }
    assert!(server.seen().is_empty(), "nothing is sent with a bad token");
    assert!(spooled(&spool).is_empty(), "nothing is spooled either");

    // The same rules on the collector's side: one format for both.
    let cdir = tempfile::tempdir().unwrap();
    let tokens = cdir.path().join("tokens");
    std::fs::write(&tokens, format!("# agents\n{TOKEN}\nsec ret\n")).unwrap();
    let mut collector = Running::spawn(
        Command::new(bin())
            // Every document kept: the listing holds every report delivered.
            .args([
                "collector",
                "--listen",
                "127.0.0.1:0",
                "--keep-raw-days",
                "1",
                "--db",
            ])
            .arg(cdir.path().join("c.db"))
            .arg("--token-file")
            .arg(&tokens)
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let Some(status) = wait::exit_within(&mut collector.0, wait::PATIENCE) else {
        panic!("the collector started with an unusable token file");
    };
    let mut err = String::new();
    let mut pipe = collector.0.stderr.take().unwrap();
    pipe.read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&tokens.display().to_string()) && err.contains("line 3"),
        "{err}"
    );
}

/// Item 14: durations and sizes out of any sane range. Before the fix the
/// huge intervals panicked (exit 101) and 0.0000001ms was accepted.
#[test]
fn out_of_range_durations_and_sizes_are_config_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let path = dir.path().join("agent.toml");
    for (line, key) in [
        ("interval = \"4000000000000000h\"", "interval"),
        ("interval = \"5124095576030431h\"", "interval"),
        ("interval = \"0.0000001ms\"", "interval"),
        ("interval = \"25h\"", "interval"),
        ("interval = \"999ms\"", "interval"),
        ("timeout = \"5124095576030431h\"", "timeout"),
        ("timeout = \"1ms\"", "timeout"),
        (
            "spool_max_bytes = \"170141183460469231731687303715884105727TiB\"",
            "spool_max_bytes",
        ),
        ("spool_max_bytes = \"2KiB\"", "spool_max_bytes"),
        ("spool_max_bytes = \"2048TiB\"", "spool_max_bytes"),
        ("spool_max_reports = 0", "spool_max_reports"),
        ("spool_max_reports = 4000000000", "spool_max_reports"),
    ] {
        std::fs::write(
            &path,
            format!(
                "spool_dir = \"{}\"\nstate_dir = \"{}\"\n{line}\n",
                spool.display(),
                spool.with_file_name("state").display()
            ),
        )
        .unwrap();
        let out = agent_once(&path);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{line}: {err}");
        assert!(!err.contains("panicked"), "{line}: {err}");
        assert!(
            err.contains(&format!("`{key}`")) && err.contains(&path.display().to_string()),
            "{line}: the error names the key and the file: {err}"
        );
    }
    assert!(spooled(&spool).is_empty(), "nothing half-started");
    // The bounds themselves are fine.
    for line in [
        "interval = \"1s\"\ntimeout = \"1s\"\nspool_max_bytes = \"64KiB\"\nspool_max_reports = 1",
        "interval = \"24h\"\ntimeout = \"10m\"\nspool_max_bytes = \"1TiB\"\nspool_max_reports = 1000000",
    ] {
        std::fs::write(
            &path,
            format!(
                "spool_dir = \"{}\"\nstate_dir = \"{}\"\n{line}\n",
                spool.display(),
                spool.with_file_name("state").display()
            ),
        )
        .unwrap();
        let out = agent_once(&path);
        assert_eq!(out.status.code(), Some(1), "{line}: {}", stderr(&out));
    }
}

/// Item 15: a spool entry that cannot be read (a directory with a report's
/// name). Before the fix it was skipped silently and `--once` exited 1 with
/// no reason, forever.
#[test]
fn an_unreadable_spool_entry_is_named_set_aside_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path(), KEEP_RAW);
    let spool = dir.path().join("spool");
    let bogus = "00000000000000000001-0badc0de-0000-4000-8000-000000000000.json.gz";
    std::fs::create_dir_all(spool.join(bogus)).unwrap();
    let config = agent_config(
        dir.path(),
        &spool,
        &format!(
            "endpoint = \"{}/api/v1/reports\"\ntoken_file = \"{}\"\n",
            collector.base,
            dir.path().join("tokens").display()
        ),
    );
    let out = agent_once(&config);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&spool.join(bogus).display().to_string()),
        "the entry is named: {err}"
    );
    assert!(err.contains("set aside"), "{err}");
    assert!(spool.join("rejected").join(bogus).exists(), "{err}");
    assert_eq!(stored_ids(&collector).len(), 1, "the good report went");
    // The next run has nothing to complain about.
    let out = agent_once(&config);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stored_ids(&collector).len(), 2);
}
