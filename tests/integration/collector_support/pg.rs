//! A real PostgreSQL server for a test: `initdb` and `pg_ctl` from Debian's
//! postgresql package, in a temporary directory, run as `nobody` (PostgreSQL
//! refuses to run as root), listening on a free loopback port with
//! password authentication. Stopped and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// The superuser and its password in every test server.
pub const USER: &str = "tk";
/// The superuser's password (given to collectors through the environment).
pub const PASSWORD: &str = "pg-test-pw-5f1e";

/// A running test server.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The loopback port it listens on.
    pub port: u16,
    /// Extra server options (`ssl=on` and its files for [`PgServer::start_tls`]).
    extra: String,
}

/// How long `pg_ctl start` may wait for the server: as generous as the
/// tests' own waits (`wait::PATIENCE`; this file is also the benchmarks').
const START_WAIT_SECONDS: &str = "180";

/// Where Debian puts `initdb` and `pg_ctl` (the newest version installed).
pub fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = glob::glob("/usr/lib/postgresql/*/bin")
        .ok()?
        .filter_map(Result::ok)
        .filter(|d| d.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn chown_nobody(path: &Path) {
    let uid = nix::unistd::Uid::from_raw(65534);
    let gid = nix::unistd::Gid::from_raw(65534);
    nix::unistd::chown(path, Some(uid), Some(gid)).unwrap();
}

impl PgServer {
    /// Initialises and starts a server; panics (naming the step) if it cannot.
    pub fn start() -> PgServer {
        PgServer::start_with(None)
    }

    /// As [`PgServer::start`], with `ssl=on` serving the PEM certificate
    /// chain and key given.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> PgServer {
        PgServer::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> PgServer {
        let bin = bin_dir().expect("PostgreSQL is not installed (apt-get install postgresql)");
        let dir = tempfile::Builder::new().prefix("tk-pg").tempdir().unwrap();
        let dir_mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(dir.path(), dir_mode).unwrap();
        chown_nobody(dir.path());
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, format!("{PASSWORD}\n")).unwrap();
        chown_nobody(&pwfile);
        let mut extra = String::new();
        if let Some((cert, key)) = tls {
            // The server refuses a key others can read: 0600, its own user.
            let (c, k) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            std::fs::write(&c, cert).unwrap();
            std::fs::write(&k, key).unwrap();
            let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
            std::fs::set_permissions(&k, private).unwrap();
            chown_nobody(&c);
            chown_nobody(&k);
            extra = format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                c.display(),
                k.display()
            );
        }
        let server = PgServer {
            port: free_port(),
            bin,
            dir,
            extra,
        };
        let data = server.data();
        let out = server.as_nobody(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                USER,
                "--pwfile",
                pwfile.to_str().unwrap(),
                "--auth=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        assert!(out.status.success(), "initdb: {}", text(&out));
        server.pg_ctl_start();
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_nobody(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut cmd = if nix::unistd::Uid::effective().is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("PGPASSWORD", PASSWORD)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"))
    }

    fn pg_ctl_start(&self) {
        let data = self.data();
        let log = self.dir.path().join("log");
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=100{}",
            self.port,
            self.dir.path().display(),
            self.extra
        );
        let out = self.as_nobody(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                START_WAIT_SECONDS,
                "start",
            ],
        );
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{logged}",
            text(&out)
        );
    }

    /// The server's main process (the postmaster: every session is a
    /// process it forks).
    pub fn postmaster_pid(&self) -> i32 {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse().ok())
            .expect("the postmaster's pid")
    }

    /// Stops the server (fast shutdown: sessions are cut off).
    pub fn stop(&self) {
        let data = self.data();
        let out = self.as_nobody(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        );
        assert!(out.status.success(), "pg_ctl stop: {}", text(&out));
    }

    /// Starts it again after [`PgServer::stop`].
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    /// Runs SQL with psql in `database`; returns the unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let port = self.port.to_string();
        let out = self.as_nobody(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                USER,
                "-d",
                database,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        );
        assert!(out.status.success(), "psql {sql}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Creates `database` unless it exists; returns its URL (no password).
    pub fn database(&self, database: &str) -> String {
        let exists = self.psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{database}'"),
        );
        if exists == "0" {
            self.psql("postgres", &format!("CREATE DATABASE {database}"));
        }
        self.url(database)
    }

    /// The directory of the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL of `database` on this server (no password).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.as_nobody(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
