//! The collector on PostgreSQL, beyond the shared tests: a real server the
//! test starts itself, several collectors on one database, the server going
//! away during ingest, and what stops the collector at start (exit 2, the
//! password never shown).

use crate::collector_support;
use crate::wait;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use collector_support::pg::{PASSWORD, PgServer};
use collector_support::{Collector, ago, on_postgres, postgres, report, try_post};
use tunekeeper::collector::storage::health::{Derived, DriftKey};
use tunekeeper::collector::storage::postgres::Pg;
use tunekeeper::collector::storage::report::{Outcome, Submission};

/// Runs `tunekeeper collector --db DB` (bounded to 60 s) and returns its
/// exit code and stderr; for starts that must fail.
fn start_failing(dir: &std::path::Path, db: &str, password: Option<&str>) -> (i32, String) {
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("{}\n", collector_support::TOKEN)).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(&tokens, mode).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tunekeeper"));
    cmd.args(["collector", "--listen", "127.0.0.1:0", "--db", db])
        .arg("--token-file")
        .arg(&tokens)
        .env_remove("TUNEKEEPER_DB_PASSWORD")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = password {
        cmd.env("TUNEKEEPER_DB_PASSWORD", p);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("collector with --db {db} did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_urls_passwords_and_newer_schemas_stop_the_collector_with_exit_2_password_masked() {
    let server = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = server.database("tk_start");

    // A password on the command line is refused, and not repeated.
    let with_pw = url.replace("tk@", "tk:cmdline-secret@");
    let (code, err) = start_failing(dir.path(), &with_pw, None);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("cmdline-secret"), "password shown: {err}");
    assert!(err.contains("TUNEKEEPER_DB_PASSWORD"), "{err}");

    // A wrong password: the server's refusal, the password not shown.
    let (code, err) = start_failing(dir.path(), &url, Some("wrong-pw-9a8b"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(
        !err.contains("wrong-pw-9a8b") && !err.contains(PASSWORD),
        "{err}"
    );

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (code, err) = start_failing(
        dir.path(),
        &format!("postgres://tk@127.0.0.1:{port}/tk"),
        Some(PASSWORD),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("connecting"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")),
        "names the server: {err}"
    );

    // Malformed, and TLS the server does not offer.
    let (code, err) = start_failing(dir.path(), "postgres://tk@host:notaport/x", Some("p"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a PostgreSQL URL"), "{err}");
    let (code, err) = start_failing(
        dir.path(),
        &url.replace("sslmode=disable", "sslmode=require"),
        Some(PASSWORD),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("server does not support TLS"), "{err}");

    // A schema a newer collector made: refused, named.
    let c = Collector::start_pg(dir.path(), &url);
    assert_eq!(c.post(&report("h1", "r1", &ago(Duration::ZERO), 60)).0, 202);
    assert_eq!(c.terminate().code(), Some(0));
    server.psql(
        "tk_start",
        "INSERT INTO tunekeeper_schema (version) VALUES (99)",
    );
    let (code, err) = start_failing(dir.path(), &url, Some(PASSWORD));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("schema version 99 is newer"), "{err}");
}

#[test]
fn a_newer_sqlite_schema_stops_the_collector_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("collector.db");
    let c = Collector::start(dir.path(), &[]);
    assert_eq!(c.post(&report("h1", "r1", &ago(Duration::ZERO), 60)).0, 202);
    assert_eq!(c.terminate().code(), Some(0));
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 7)
        .unwrap();
    let (code, err) = start_failing(dir.path(), db.to_str().unwrap(), None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("schema version 7 is newer"), "{err}");
}

/// Numbered reports posted to `bases` in turn from several threads until
/// [`Ingest::finish`]: the ids acknowledged (202 or 200) and every status
/// seen, readable while it runs.
struct Ingest {
    acked: Arc<Mutex<HashSet<String>>>,
    statuses: Arc<Mutex<Vec<u16>>>,
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Ingest {
    fn start(bases: Vec<String>, threads: usize) -> Ingest {
        let acked = Arc::new(Mutex::new(HashSet::new()));
        let statuses = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..threads)
            .map(|t| {
                let (bases, stop) = (bases.clone(), Arc::clone(&stop));
                let (acked, statuses) = (Arc::clone(&acked), Arc::clone(&statuses));
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    // Bounded: at most 100,000 posts per thread.
                    while !stop.load(Ordering::Relaxed) && n < 100_000 {
                        let id = format!("t{t}-{n}");
                        let base = &bases[(n as usize) % bases.len()];
                        let r = report(&format!("host{t}"), &id, &ago(Duration::ZERO), 60);
                        if let Ok(status) = try_post(base, &r) {
                            statuses.lock().unwrap().push(status);
                            if status == 202 || status == 200 {
                                acked.lock().unwrap().insert(id);
                            }
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        Ingest {
            acked,
            statuses,
            stop,
            workers,
        }
    }

    /// How many reports were acknowledged so far.
    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Whether a post was answered with `status` so far.
    fn saw(&self, status: u16) -> bool {
        self.statuses.lock().unwrap().contains(&status)
    }

    /// Stops the posting; the ids acknowledged and every status seen.
    fn finish(self) -> (HashSet<String>, Vec<u16>) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.join().unwrap();
        }
        let a = self.acked.lock().unwrap().clone();
        let s = self.statuses.lock().unwrap().clone();
        (a, s)
    }
}

/// The ids of every report stored (as figures: every report has a row),
/// decoded from their keys (see `compact::id_key`).
fn stored_ids(server: &PgServer, database: &str) -> HashSet<String> {
    server
        .psql(
            database,
            "SELECT CASE WHEN octet_length(id) = 16 THEN encode(id, 'hex')::uuid::text
                    WHEN get_byte(id, octet_length(id) - 1) = 255
                        THEN convert_from(substring(id FROM 1 FOR octet_length(id) - 1), 'UTF8')
                    ELSE convert_from(id, 'UTF8') END
             FROM samples",
        )
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn two_collectors_share_one_database_and_a_killed_one_loses_nothing_acknowledged() {
    on_postgres(|| {
        let server = postgres().unwrap();
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let url = server.database("tk_shared");
        let a = Collector::start_pg(da.path(), &url);
        let b = Collector::start_pg(db.path(), &url);

        // Duplicates across instances: one stores, the other says duplicate;
        // another host's report with that id is a conflict on either.
        let r = report("same-host", "dup-1", &ago(Duration::ZERO), 60);
        assert_eq!(a.post(&r).0, 202);
        assert_eq!(b.post(&r).0, 200);
        let other = report("other-host", "dup-1", &ago(Duration::ZERO), 60);
        assert_eq!(b.post(&other).0, 409);
        assert_eq!(a.post(&other).0, 409);
        // The host's state is the same whichever instance answers.
        let ha = a.get_json("/api/v1/hosts");
        let hb = b.get_json("/api/v1/hosts");
        assert_eq!(ha[0]["last_report_id"], hb[0]["last_report_id"]);

        let load = Ingest::start(vec![a.base.clone(), b.base.clone()], 4);
        wait::until("60 reports acknowledged", || load.acked() >= 60);
        // SIGKILL mid-ingest: no chance to drain anything.
        let killed = Command::new("kill")
            .args(["-KILL", &a.pid().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        // The ingest goes on at the other instance.
        let at_kill = load.acked();
        wait::until("30 more acknowledged after the kill", || {
            load.acked() >= at_kill + 30
        });
        let (acked, statuses) = load.finish();
        assert!(acked.len() > 50, "too few acknowledged: {}", acked.len());
        assert!(
            statuses.iter().all(|s| [200, 202].contains(s)),
            "unexpected statuses: {:?}",
            statuses
                .iter()
                .filter(|s| ![200, 202].contains(*s))
                .collect::<Vec<_>>()
        );
        let stored = stored_ids(&server, "tk_shared");
        let lost: Vec<_> = acked.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "{} acknowledged reports lost: {lost:?}",
            lost.len()
        );
        drop(a);
        drop(b);
    });
}

#[test]
fn postgres_stopped_during_ingest_gives_503_loses_nothing_and_resumes() {
    on_postgres(|| {
        let server = postgres().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = server.database("tk_outage");
        let c = Collector::start_pg(dir.path(), &url);
        let load = Ingest::start(vec![c.base.clone()], 3);
        wait::until("20 reports acknowledged", || load.acked() >= 20);
        server.stop();
        // While the server is down, posts are refused with 503 (the agent
        // keeps its spool), and the collector stays up.
        let probe = report("probe", "probe-down", &ago(Duration::ZERO), 60);
        let (status, body) = c.post(&probe);
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("database unavailable"), "{body}");
        // The ingest's own posts meet the outage too.
        wait::until("a 503 during the outage", || load.saw(503));
        server.restart();
        // Service resumes by itself.
        let resumed = wait::eventually(|| {
            c.post(&report("probe", "probe-up", &ago(Duration::ZERO), 60))
                .0
                == 202
        });
        assert!(
            resumed,
            "the collector did not resume after PostgreSQL came back"
        );
        // And the ingest's too.
        let resumed_at = load.acked();
        wait::until("10 more acknowledged after the restart", || {
            load.acked() >= resumed_at + 10
        });
        let (acked, statuses) = load.finish();
        assert!(statuses.contains(&503), "no 503 seen during the outage");
        assert!(
            statuses.iter().all(|s| [200, 202, 503].contains(s)),
            "unexpected statuses: {:?}",
            statuses
                .iter()
                .filter(|s| ![200, 202, 503].contains(*s))
                .collect::<Vec<_>>()
        );
        let stored = stored_ids(&server, "tk_outage");
        let lost: Vec<_> = acked.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "{} acknowledged reports lost: {lost:?}",
            lost.len()
        );
        assert!(stored.contains("probe-up") && !stored.contains("probe-down"));
    });
}

fn sub(host: &str, id: &str, time_ms: i64, drifting: &[&str]) -> Submission {
    let derived = Derived {
        drift: drifting.len() as u32,
        drifting: drifting
            .iter()
            .map(|k| DriftKey {
                check: "sysctl".into(),
                key: (*k).into(),
                expected: "1".into(),
                actual: Some("60".into()),
            })
            .collect(),
        ..Derived::default()
    };
    let body = format!(r#"{{"id":"{id}"}}"#);
    Submission {
        id: id.into(),
        hostname: host.into(),
        time_ms,
        time_text: String::new(),
        received_ms: time_ms,
        interval_seconds: 60,
        profile: "p".into(),
        derived,
        packed: tunekeeper::collector::storage::compact::pack(&body),
        body,
    }
}

#[test]
fn one_batch_dedups_follows_the_latest_and_records_drift_transitions_as_sqlite_does() {
    // The same batch as the SQLite unit test (store.rs), in one PostgreSQL
    // transaction: the batch is applied in memory, so its rules are checked
    // here, not only one report at a time over HTTP.
    let server = PgServer::start();
    let url = server.database("tk_batch");
    let target = tunekeeper::collector::storage::postgres::target(&url, Some(PASSWORD)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (pg, writers) = Pg::open(&target).await.unwrap();
        let out: Vec<Outcome> = pg
            .insert_batch(&[
                sub("h", "a", 1_000, &[]),
                sub("h", "b", 2_000, &["vm.swappiness"]),
                sub("h", "b", 2_000, &["vm.swappiness"]),
                sub("other", "b", 2_000, &[]),
                sub("h", "c", 3_000, &["vm.max_map_count"]),
                // Late: older than c, must not move the host back nor add events.
                sub("h", "late", 1_500, &["x"]),
            ])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            out,
            [
                Outcome::Stored,
                Outcome::Stored,
                Outcome::Duplicate,
                Outcome::Conflict,
                Outcome::Stored,
                Outcome::Stored
            ]
        );
        let hosts = pg.hosts(4_000).await.unwrap();
        assert_eq!(hosts.len(), 1, "the conflicting report made no host");
        assert_eq!(hosts[0].last_report_id, "c");
        let data = pg.host_data("h", 4_000, 0).await.unwrap();
        let ev: Vec<(i64, &str, bool)> = data
            .events
            .iter()
            .map(|e| (e.time_ms, e.key.as_str(), e.drifted))
            .collect();
        assert_eq!(
            ev,
            [
                (2_000, "vm.swappiness", true),
                (3_000, "vm.max_map_count", true),
                (3_000, "vm.swappiness", false)
            ]
        );
        assert_eq!(data.series.len(), 4);
        // A second batch continues from the stored state.
        let out = pg.insert_batch(&[sub("h", "d", 5_000, &[])]).await;
        assert_eq!(out[0].as_ref().unwrap(), &Outcome::Stored);
        let data = pg.host_data("h", 6_000, 0).await.unwrap();
        assert_eq!(data.events.len(), 4, "max_map_count came back");
        assert!(!data.events[3].drifted);
        assert_eq!(pg.prune(2_500).await.unwrap(), 3);
        assert_eq!(pg.prune(10_000).await.unwrap(), 2);
        assert!(pg.hosts(10_000).await.unwrap().is_empty());
        drop(pg);
        writers.join().await;
    });
}
