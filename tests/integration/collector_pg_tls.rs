//! TLS from the collector to PostgreSQL (issue 12): a real server started
//! with `ssl=on` and a certificate rcgen makes here; libpq's `sslmode`
//! meanings; every refusal exits 2 at start naming what failed, the
//! password never shown.

use crate::collector_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use collector_support::pg::{PASSWORD, PgServer, USER};
use collector_support::{Collector, ago, report};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// A CA (PEM certificate, and the issuer for signing).
fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    (p.self_signed(&key).unwrap(), key)
}

/// The test PKI: the server's certificate names `localhost` only (so
/// `127.0.0.1` is a wrong host name for it), signed by `ca`; `other_ca`
/// signed nothing here.
struct Pki {
    ca: PathBuf,
    other_ca: PathBuf,
    cert_pem: String,
    key_pem: String,
}

fn pki(dir: &Path) -> Pki {
    let (ca_cert, ca_key) = ca("tunekeeper test database CA");
    let (other, _) = ca("some other CA");
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let out = Pki {
        ca: dir.join("ca.pem"),
        other_ca: dir.join("other-ca.pem"),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    };
    std::fs::write(&out.ca, ca_cert.pem()).unwrap();
    std::fs::write(&out.other_ca, other.pem()).unwrap();
    out
}

/// `tunekeeper collector --db DB` that must fail at start: (exit code, stderr).
fn start_failing(dir: &Path, db: &str) -> (i32, String) {
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("{}\n", collector_support::TOKEN)).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(&tokens, mode).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(["collector", "--listen", "127.0.0.1:0", "--db", db])
        .arg("--token-file")
        .arg(&tokens)
        .env("TUNEKEEPER_DB_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            assert!(!err.contains(PASSWORD), "password shown: {err}");
            eprintln!("--db {db}: exit {:?}: {err}", status.code());
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("collector with --db {db} did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the collector's connections to `server` are encrypted (the
/// server's own view, `pg_stat_ssl`).
fn collector_uses_tls(server: &PgServer, database: &str) -> String {
    server.psql(
        database,
        "SELECT string_agg(DISTINCT s.ssl::text, ',') FROM pg_stat_ssl s
         JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'tunekeeper-collector'",
    )
}

/// Starts a collector on `url`, stores a report, and says whether its
/// connections were encrypted.
fn works(server: &PgServer, dir: &Path, database: &str, url: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let id = format!("t-{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let c = Collector::start_pg(dir, url);
    let (status, body) = c.post(&report("tls-host", &id, &ago(Duration::ZERO), 60));
    assert!(status == 202, "{url}: {status} {body}");
    let tls = collector_uses_tls(server, database);
    assert_eq!(c.terminate().code(), Some(0));
    tls
}

#[test]
fn sslmodes_connect_verify_and_refuse_as_libpq_does() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let server = PgServer::start_tls(&pki.cert_pem, &pki.key_pem);
    server.database("tk_tls");
    let port = server.port;
    let url = |host: &str, query: &str| format!("postgres://{USER}@{host}:{port}/tk_tls?{query}");
    let ca = pki.ca.display();
    let other = pki.other_ca.display();

    // require: encrypted, certificate not checked.
    let d = tempfile::tempdir().unwrap();
    assert_eq!(
        works(
            &server,
            d.path(),
            "tk_tls",
            &url("127.0.0.1", "sslmode=require")
        ),
        "true"
    );
    // verify-full with the right CA and the name on the certificate.
    assert_eq!(
        works(
            &server,
            d.path(),
            "tk_tls",
            &url(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={ca}")
            )
        ),
        "true"
    );
    // verify-ca: the chain is checked, the name is not.
    assert_eq!(
        works(
            &server,
            d.path(),
            "tk_tls",
            &url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"))
        ),
        "true"
    );
    // A Unix socket (no TLS there): prefer, the default, goes on in plain text.
    let socket = collector_support::segment(&server.socket_dir().display().to_string());
    assert_eq!(
        works(
            &server,
            d.path(),
            "tk_tls",
            &format!("postgres://{USER}@{socket}:{port}/tk_tls")
        ),
        "false"
    );
    // disable: plain, even though the server offers TLS.
    assert_eq!(
        works(
            &server,
            d.path(),
            "tk_tls",
            &url("127.0.0.1", "sslmode=disable")
        ),
        "false"
    );

    // verify-full with a CA that signed nothing here.
    let (code, err) = start_failing(
        d.path(),
        &url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={other}"),
        ),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("TLS"), "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert!(
        err.contains(&format!("localhost:{port}")),
        "names the server: {err}"
    );
    // ... and with the right CA but a name the certificate does not carry.
    let (code, err) = start_failing(
        d.path(),
        &url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not valid for name"), "{err}");
    // A checking mode without a CA, and an unreadable CA file.
    let (code, err) = start_failing(d.path(), &url("localhost", "sslmode=verify-full"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sslrootcert"), "{err}");
    let (code, err) = start_failing(
        d.path(),
        &url(
            "localhost",
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        ),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    // A mode libpq does not have.
    let (code, err) = start_failing(d.path(), &url("localhost", "sslmode=sometimes"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sslmode=sometimes"), "{err}");
}

#[test]
fn sslmode_require_against_a_server_without_tls_exits_2_saying_so() {
    let server = PgServer::start();
    let url = server
        .database("tk_plain")
        .replace("sslmode=disable", "sslmode=require");
    let d = tempfile::tempdir().unwrap();
    let (code, err) = start_failing(d.path(), &url);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("server does not support TLS"), "{err}");
    // prefer (libpq's default) falls back to plain on such a server.
    let plain = url.replace("sslmode=require", "sslmode=prefer");
    assert_eq!(works(&server, d.path(), "tk_plain", &plain), "false");
}
