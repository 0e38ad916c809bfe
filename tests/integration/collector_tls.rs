//! The collector over HTTPS, with real processes on loopback: a throwaway CA
//! (rcgen) issues the collector's certificate; the real agent delivers with
//! that CA as its `ca_file`, and fails to deliver without it. Plain HTTP and
//! stalled handshakes on the TLS port must not hurt the collector, and bad
//! certificate or key files must stop it at start, naming the file.

use crate::support::{Running, bin, hostname};
use crate::wait;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::collector_support;

use collector_support::{ago, gzip, report};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

const TOKEN: &str = "tls-agent-token-0123456789";

/// The PEM files of a test PKI, written into a directory.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// A valid key that belongs to no certificate here.
    other_key: PathBuf,
}

/// A CA, and a server certificate it signed for `localhost` and `127.0.0.1`.
fn make_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tunekeeper test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key).unwrap();

    let key = KeyPair::generate().unwrap();
    // rcgen turns "127.0.0.1" into an IP address SAN.
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "collector.test");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();

    let pki = Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("collector.pem"),
        key: dir.join("collector-key.pem"),
        other_key: dir.join("other-key.pem"),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, cert.pem()).unwrap();
    std::fs::write(&pki.key, key.serialize_pem()).unwrap();
    std::fs::write(&pki.other_key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    pki
}

/// A running `tunekeeper collector --tls-cert --tls-key`, killed when dropped.
struct Collector {
    child: Running,
    /// `https://127.0.0.1:PORT`, from the startup line.
    base: String,
    port: u16,
}

impl Collector {
    fn start(dir: &Path, pki: &Pki) -> Collector {
        std::fs::write(dir.join("tokens"), format!("{TOKEN}\n")).unwrap();
        let mut child = Running::spawn(
            Command::new(bin())
                .args(["collector", "--listen", "127.0.0.1:0"])
                // Every document kept: the listing holds every report delivered.
                .args(["--keep-raw-days", "1"])
                .arg("--db")
                .arg(dir.join("collector.db"))
                .arg("--token-file")
                .arg(dir.join("tokens"))
                .arg("--tls-cert")
                .arg(&pki.cert)
                .arg("--tls-key")
                .arg(&pki.key)
                .env("TUNEKEEPER_LOG", "debug")
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(dir.join("collector.log")).unwrap()),
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
            .expect("the collector printed its address");
        let base = line
            .trim()
            .strip_prefix("tunekeeper collector listening on ")
            .filter(|u| u.starts_with("https://"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let port = base.rsplit(':').next().unwrap().parse().unwrap();
        Collector { child, base, port }
    }

    fn alive(&mut self) -> bool {
        self.child.alive()
    }

    /// SIGTERM, then the exit status and how long the collector took to stop.
    fn terminate(mut self) -> (std::process::ExitStatus, Duration) {
        let asked = Instant::now();
        let status = self.child.terminate();
        (status, asked.elapsed())
    }
}

/// A client trusting only the test CA (not the system's roots: the
/// collector's certificate must verify through the CA alone).
fn tls_client(pki: &Pki) -> reqwest::blocking::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap()
}

/// The reports the collector holds about this machine, fetched over TLS.
fn stored_ids(client: &reqwest::blocking::Client, c: &Collector) -> Vec<String> {
    let url = format!("{}/api/v1/hosts/{}/reports?limit=100", c.base, hostname());
    let resp = client.get(&url).send().expect("GET over TLS");
    assert_eq!(resp.status().as_u16(), 200);
    let reports: Vec<serde_json::Value> = serde_json::from_str(&resp.text().unwrap()).unwrap();
    reports
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn spooled(spool: &Path) -> usize {
    std::fs::read_dir(spool)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    !n.starts_with('.') && n.ends_with(".json.gz")
                })
                .count()
        })
        .unwrap_or(0)
}

/// `tunekeeper agent --once` against `endpoint`, with or without a CA file.
fn agent_once(dir: &Path, name: &str, endpoint: &str, ca_file: Option<&Path>) -> Output {
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    let mut toml = format!(
        "endpoint = \"{endpoint}\"\ntoken_file = \"{}\"\nspool_dir = \"{}\"\n\
         state_dir = \"{}\"\nmetrics_textfile = \"{}\"\ntimeout = \"5s\"\n",
        dir.join("token").display(),
        dir.join(format!("spool-{name}")).display(),
        dir.join(format!("state-{name}")).display(),
        dir.join(format!("{name}.prom")).display(),
    );
    if let Some(ca) = ca_file {
        toml.push_str(&format!("ca_file = \"{}\"\n", ca.display()));
    }
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, toml).unwrap();
    // No process in the agent's view: other tests' brokers stay out of it.
    let view = crate::proc_view::ProcView::new(&[]);
    Command::new(bin())
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .env("TUNEKEEPER_ROOT", view.root())
        // The delivery is to loopback; a proxy in the environment must not
        // get in the way.
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .unwrap()
}

#[test]
fn the_agent_delivers_over_tls_with_its_ca_file_and_not_without() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = make_pki(d);
    let mut c = Collector::start(d, &pki);
    let client = tls_client(&pki);
    let endpoint = format!("https://localhost:{}/api/v1/reports", c.port);

    // With the CA: delivered, and stored.
    let ok = agent_once(d, "trusting", &endpoint, Some(&pki.ca));
    assert_eq!(
        ok.status.code(),
        Some(0),
        "agent with ca_file: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(spooled(&d.join("spool-trusting")), 0);
    assert_eq!(stored_ids(&client, &c).len(), 1, "the report is stored");

    // Without it: the public roots do not know the test CA.
    let refused = agent_once(d, "untrusting", &endpoint, None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    eprintln!("agent without ca_file said: {stderr}");
    assert_eq!(
        refused.status.code(),
        Some(1),
        "agent without ca_file: {stderr}"
    );
    assert_eq!(
        spooled(&d.join("spool-untrusting")),
        1,
        "the report waits in the spool"
    );
    assert!(
        stderr.to_lowercase().contains("certificate"),
        "stderr names the certificate problem: {stderr}"
    );
    assert_eq!(stored_ids(&client, &c).len(), 1, "nothing more stored");

    // Plain HTTP to the TLS port: refused at the handshake, no crash.
    let mut plain = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET /api/v1/hosts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "no HTTP answer on the TLS port: {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(c.alive(), "the collector survives plain HTTP");

    // A client that connects and never starts its handshake holds up no one.
    let stalled = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
    let started = Instant::now();
    let resp = client
        .get(format!("{}/api/v1/hosts", c.base))
        .send()
        .expect("GET beside a stalled handshake");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served in {:?} beside a stalled handshake",
        started.elapsed()
    );
    assert_eq!(stored_ids(&client, &c).len(), 1);

    // SIGTERM with the stalled connection and the client's idle keep-alive
    // connection still open: a clean exit, without waiting for either.
    let (status, took) = c.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    assert!(
        took < Duration::from_secs(5),
        "stopped in {took:?} despite the open connections"
    );
    drop(stalled);
    let log = std::fs::read_to_string(d.join("collector.log")).unwrap();
    assert!(
        log.contains("TLS handshake failed"),
        "failed handshakes are logged at debug: {log}"
    );
}

#[test]
fn sigterm_during_tls_ingest_keeps_every_acknowledged_report() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = Arc::new(make_pki(d));
    let c = Collector::start(d, &pki);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let senders: Vec<_> = (0..2)
        .map(|t| {
            let (base, acked, pki) = (c.base.clone(), acked.clone(), pki.clone());
            std::thread::spawn(move || {
                // One client per thread: keep-alive TLS connections, as the
                // agent has, open when the signal arrives.
                let client = tls_client(&pki);
                for i in 0..2000 {
                    let id = format!("tls{t}-{i}");
                    let body = report(&format!("tls{t}"), &id, &ago(Duration::ZERO), 60);
                    let sent = client
                        .post(format!("{base}/api/v1/reports"))
                        .bearer_auth(TOKEN)
                        .header("content-encoding", "gzip")
                        .body(gzip(body.to_string().as_bytes()))
                        .send();
                    match sent.map(|r| r.status().as_u16()) {
                        Ok(202) => acked.lock().unwrap().push(id),
                        Ok(s) => panic!("unexpected status {s}"),
                        // The collector stopped accepting: expected after SIGTERM.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    wait::until("100 reports acknowledged", || {
        acked.lock().unwrap().len() >= 100
    });
    let (status, _) = c.terminate();
    assert!(status.success(), "{status:?}");
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let c = Collector::start(d, &pki);
    let client = tls_client(&pki);
    let mut stored = Vec::new();
    for t in 0..2 {
        let url = format!("{}/api/v1/hosts/tls{t}/reports?limit=1000", c.base);
        let body = client.get(&url).send().unwrap().text().unwrap();
        let docs: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
        stored.extend(docs.iter().map(|r| r["id"].as_str().unwrap().to_string()));
    }
    for id in &acked {
        assert!(stored.contains(id), "acknowledged {id} lost in shutdown");
    }
    println!(
        "{} reports acknowledged over TLS all survived SIGTERM",
        acked.len()
    );
}

/// `tunekeeper collector` with these extra arguments, expected to fail at start.
fn collector_fails(dir: &Path, tls: &[&Path], flags: &[&str]) -> (Option<i32>, String) {
    std::fs::write(dir.join("tokens"), format!("{TOKEN}\n")).unwrap();
    let mut cmd = Command::new(bin());
    cmd.args(["collector", "--listen", "127.0.0.1:0"])
        .arg("--db")
        .arg(dir.join("never.db"))
        .arg("--token-file")
        .arg(dir.join("tokens"));
    for (flag, path) in flags.iter().zip(tls) {
        cmd.arg(flag).arg(path);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if wait::exit_within(&mut child, wait::PATIENCE).is_none() {
        let _ = child.kill();
        panic!("the collector started with {flags:?} {tls:?}");
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_certificate_or_key_files_stop_the_collector_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = make_pki(d);
    let both = ["--tls-cert", "--tls-key"];
    let missing = d.join("no-such-cert.pem");

    let cases: [(&str, [&Path; 2], &[&Path]); 4] = [
        ("unreadable", [&missing, &pki.key], &[&missing]),
        // A key file where the certificate should be: no certificate in it.
        ("no certificate", [&pki.key, &pki.key], &[&pki.key]),
        // The certificate where the key should be: no key in it.
        ("no key", [&pki.cert, &pki.cert], &[&pki.cert]),
        (
            "key mismatch",
            [&pki.cert, &pki.other_key],
            &[&pki.cert, &pki.other_key],
        ),
    ];
    for (what, files, named) in cases {
        let (code, stderr) = collector_fails(d, &files, &both);
        assert_eq!(code, Some(2), "{what}: {stderr}");
        for f in named {
            assert!(
                stderr.contains(&f.display().to_string()),
                "{what}: {} not named in {stderr}",
                f.display()
            );
        }
    }
    assert!(!d.join("never.db").exists(), "checked before the database");

    // One without the other is a usage error.
    let (code, stderr) = collector_fails(d, &[&pki.cert], &["--tls-cert"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
    let (code, stderr) = collector_fails(d, &[&pki.key], &["--tls-key"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");
}
