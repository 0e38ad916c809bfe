//! Shared by the collector tests: start the real binary on a free loopback
//! port with a real SQLite file (or a real PostgreSQL server, see
//! [`on_postgres`]), and build realistic reports from the fixture.
#![allow(dead_code)]

pub mod pg;

use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    /// The PostgreSQL server collectors started on this thread store in.
    static PG: RefCell<Option<Rc<pg::PgServer>>> = const { RefCell::new(None) };
}

/// Runs `test` with every collector it starts (on this thread) storing in
/// a real PostgreSQL server started for it, one database per directory.
pub fn on_postgres(test: fn()) {
    let server = Rc::new(pg::PgServer::start());
    PG.with(|p| *p.borrow_mut() = Some(Rc::clone(&server)));
    test();
    PG.with(|p| *p.borrow_mut() = None);
}

/// The PostgreSQL server of [`on_postgres`], if the test runs on one.
pub fn postgres() -> Option<Rc<pg::PgServer>> {
    PG.with(|p| p.borrow().clone())
}

/// Declares each named test function (not itself `#[test]`) as two tests:
/// `NAME::sqlite` and `NAME::postgres`, the same body on each backend.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name()
                }
                #[test]
                fn postgres() {
                    $crate::collector_support::on_postgres(super::$name)
                }
            }
        )*
    };
}

/// Runs one SQL statement on the database of the collector in `dir`
/// (stopped), on whichever backend the test runs; returns the rows changed.
pub fn exec_sql(dir: &Path, sql: &str) -> usize {
    match postgres() {
        Some(server) => {
            let out = server.psql(&database_name(dir), sql);
            // psql prints the command tag: "UPDATE 2".
            out.rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        }
        None => rusqlite::Connection::open(dir.join("collector.db"))
            .unwrap()
            .execute(sql, [])
            .unwrap(),
    }
}

/// A database name for a test directory: the same directory (a restarted
/// collector) gets the same database.
pub fn database_name(dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    format!("tk_{:016x}", h.finish())
}

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::support::Running;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The binary under test: this build's, or the one `TUNEKEEPER_TEST_BIN`
/// names (see [`crate::under_test`]).
pub fn binary() -> PathBuf {
    PathBuf::from(crate::under_test::bin())
}

/// The agents' token written to every test token file.
pub const TOKEN: &str = "agent-token-0123456789abcdef";
/// The readers' token, for `--read-token-file`.
pub const READ_TOKEN: &str = "reader-token-fedcba9876543210";

/// A running `tunekeeper collector`.
pub struct Collector {
    child: Running,
    /// `http://127.0.0.1:PORT` (`https://` with `--tls-cert`).
    pub base: String,
    /// The database file.
    pub db: PathBuf,
}

impl Collector {
    /// Starts the binary with a token file in `dir` and the database `dir/collector.db`.
    pub fn start(dir: &Path, extra: &[&str]) -> Collector {
        Collector::start_full(dir, "127.0.0.1:0", extra, &[])
    }

    /// As [`Collector::start`], listening on `listen` (a fixed port, so a
    /// restarted collector is where the agent's config says).
    pub fn start_on(dir: &Path, listen: &str, extra: &[&str]) -> Collector {
        Collector::start_full(dir, listen, extra, &[])
    }

    /// Like [`Collector::start`], run through `wrapper` (a command and its
    /// arguments that runs the rest, such as `prlimit --nofile=256:256`).
    pub fn start_with(dir: &Path, extra: &[&str], wrapper: &[&str]) -> Collector {
        Collector::start_full(dir, "127.0.0.1:0", extra, wrapper)
    }

    /// Starts it storing in the PostgreSQL database at `url` (the test
    /// server's password in the environment).
    pub fn start_pg(dir: &Path, url: &str) -> Collector {
        Collector::start_db(dir, "127.0.0.1:0", &[], &[], Some(url))
    }

    /// Starts it on `listen`, run through `wrapper` (may be empty).
    pub fn start_full(dir: &Path, listen: &str, extra: &[&str], wrapper: &[&str]) -> Collector {
        Collector::start_db(dir, listen, extra, wrapper, None)
    }

    /// Starts it with `--db db` (default: the test's backend).
    pub fn start_db(
        dir: &Path,
        listen: &str,
        extra: &[&str],
        wrapper: &[&str],
        db: Option<&str>,
    ) -> Collector {
        let tokens = dir.join("tokens");
        std::fs::write(
            &tokens,
            format!("# agents\n\n{TOKEN}\n  # old one, retired\n"),
        )
        .unwrap();
        std::fs::write(dir.join("read-tokens"), format!("{READ_TOKEN}\n")).unwrap();
        for f in ["tokens", "read-tokens"] {
            let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
            std::fs::set_permissions(dir.join(f), private).unwrap();
        }
        let db_arg = match (db, postgres()) {
            (Some(url), _) => url.to_owned(),
            (None, Some(server)) => server.database(&database_name(dir)),
            (None, None) => dir.join("collector.db").display().to_string(),
        };
        let db = dir.join("collector.db");
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(binary());
                c
            }
            None => Command::new(binary()),
        };
        let mut child = Running::spawn(
            cmd.arg("collector")
                .args(["--listen", listen])
                .arg("--db")
                .arg(&db_arg)
                .env("TUNEKEEPER_DB_PASSWORD", pg::PASSWORD)
                .arg("--token-file")
                .arg(&tokens)
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(crate::wait::PATIENCE)
            .expect("collector printed its address");
        let base = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Collector { child, base, db }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.child.alive()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.child.terminate()
    }

    /// `GET path` with an optional bearer token: (status, body).
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut req = client().get(format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().expect("GET");
        (r.status().as_u16(), r.text().unwrap())
    }

    /// `GET path` as JSON, expecting 200.
    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.get(path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Posts raw bytes to `/api/v1/reports`.
    pub fn post_raw(
        &self,
        body: Vec<u8>,
        token: Option<&str>,
        encoding: Option<&str>,
    ) -> (u16, String) {
        let mut req = client()
            .post(format!("{}/api/v1/reports", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        let r = req.send().expect("POST");
        (r.status().as_u16(), r.text().unwrap())
    }

    /// Posts a report with the agents' token, gzipped like the agent does.
    pub fn post(&self, report: &Value) -> (u16, String) {
        self.post_raw(
            gzip(report.to_string().as_bytes()),
            Some(TOKEN),
            Some("gzip"),
        )
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .unwrap()
}

/// Gzip-compresses `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The fixture report (about 16 KB: 47 kernel findings, one broker JVM with GC statistics).
pub fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/collector/report.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// RFC 3339 text of now minus `ago`.
pub fn ago(ago: Duration) -> String {
    (OffsetDateTime::now_utc() - ago).format(&Rfc3339).unwrap()
}

/// The fixture with another host, id, time and interval.
pub fn report(hostname: &str, id: &str, time: &str, interval: u64) -> Value {
    let mut r = fixture();
    r["host"]["hostname"] = hostname.into();
    r["id"] = id.into();
    r["time"] = time.into();
    r["interval_seconds"] = interval.into();
    r
}

/// Marks the first kernel finding with `key` drifted with `actual`.
pub fn drift(r: &mut Value, key: &str, actual: &str) {
    let f = r["findings"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no finding {key}"));
    f["status"] = "drift".into();
    f["actual"] = actual.into();
    let s = &mut r["summary"];
    s["ok"] = (s["ok"].as_u64().unwrap() - 1).into();
    s["drift"] = (s["drift"].as_u64().unwrap() + 1).into();
}

/// Sets the first JVM's interval GC figures, marking the `gc` findings that miss the profile's levels.
pub fn gc(r: &mut Value, ms_per_second: f64, p99: f64, full_gcs: u64) {
    let jvm = &mut r["jvms"][0];
    let w = &mut jvm["gc"]["interval"];
    w["gc_ms_per_second"] = ms_per_second.into();
    w["overall"]["p99_ms"] = p99.into();
    w["full_gcs"] = full_gcs.into();
    for f in jvm["findings"].as_array_mut().unwrap() {
        let (actual, bad) = match f["key"].as_str().unwrap() {
            "gc_ms_per_second" => (format!("{ms_per_second}"), ms_per_second > 15.0),
            "pause_p99_ms" => (format!("{p99}"), p99 > 50.0),
            "full_gcs" => (format!("{full_gcs}"), full_gcs > 0),
            _ => continue,
        };
        f["actual"] = actual.into();
        f["status"] = if bad { "drift" } else { "ok" }.into();
    }
}

/// Percent-encodes one URL path segment (everything but unreserved characters).
pub fn segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Polls a condition until it holds (see [`crate::wait`]).
pub use crate::wait::eventually;

/// Posts a report to the collector at `base` (from any thread); errors are
/// returned, not panicked on, for tests that stop the collector mid-flight.
pub fn try_post(base: &str, report: &Value) -> Result<u16, reqwest::Error> {
    client()
        .post(format!("{base}/api/v1/reports"))
        .bearer_auth(TOKEN)
        .header("content-encoding", "gzip")
        .body(gzip(report.to_string().as_bytes()))
        .send()
        .map(|r| r.status().as_u16())
}
