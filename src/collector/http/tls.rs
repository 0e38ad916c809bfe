//! HTTPS for the collector: the certificate chain and key from PEM files, and
//! a listener that runs each TLS handshake in its own task.
//!
//! The handshakes run beside the accept loop, not in it: a client that opens
//! a connection and then stalls (or speaks plain HTTP to the TLS port) must
//! not hold up anyone else. Each handshake has [`HANDSHAKE_TIMEOUT`]; at most
//! [`MAX_PENDING_HANDSHAKES`] run at once, so a flood of half-open
//! connections is bounded in memory (the kernel's backlog queues the rest).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::collector::error::Error;

/// How long a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; past this, accepting waits.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// The PEM files the collector serves HTTPS with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, server certificate first (intermediates after it).
    pub cert: PathBuf,
    /// The private key: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`)
    /// or SEC1 (`EC PRIVATE KEY`).
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads and checks both files: certificates present, a key present, and
    /// the key belonging to the first certificate. Done at start, so a bad
    /// file stops the collector before it listens rather than failing every
    /// handshake.
    pub fn load(&self) -> Result<Arc<ServerConfig>, Error> {
        let certs = read_certs(&self.cert)?;
        let key = read_key(&self.key)?;
        // Explicitly ring: the process-wide default provider is ambiguous
        // when more than one is compiled in, and aws-lc-rs is not wanted.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| self.invalid(source))?
            .with_no_client_auth();
        let mut config = builder.with_single_cert(certs, key).map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                Error::TlsKeyMismatch {
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                }
            }
            source => self.invalid(source),
        })?;
        // The router speaks HTTP/1.1 only (axum's http1 feature).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn invalid(&self, source: rustls::Error) -> Error {
        Error::Tls {
            cert: self.cert.clone(),
            key: self.key.clone(),
            source,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::TlsFile {
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::TlsPem {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(Error::TlsNoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        pem::Error::NoItemsFound => Error::TlsNoKey {
            path: path.to_path_buf(),
        },
        source => Error::TlsPem {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// A TCP listener that yields connections once their TLS handshake is done.
///
/// Dropping it (as the graceful shutdown does when it stops accepting)
/// aborts the handshakes still in progress: those clients had not sent a
/// request yet.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
    max_pending: usize,
}

impl TlsListener {
    /// Serves TLS with `config` on connections accepted from `tcp`, with
    /// at most `max_pending` handshakes in progress (and never more than
    /// [`MAX_PENDING_HANDSHAKES`]).
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>, max_pending: usize) -> TlsListener {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
            max_pending: max_pending.clamp(1, MAX_PENDING_HANDSHAKES),
        }
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some((tls, peer)),
        // A client's mistake (plain HTTP, an untrusted certificate, a port
        // scanner), not the collector's: debug, so it cannot flood the log.
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // Both branches are cancel-safe (TcpListener::accept and
        // JoinSet::join_next), as axum requires: it drops this future when
        // the shutdown signal arrives.
        loop {
            let room = self.handshakes.len() < self.max_pending;
            tokio::select! {
                accepted = self.tcp.accept(), if room => match accepted {
                    Ok((stream, peer)) => {
                        self.handshakes
                            .spawn(handshake(self.acceptor.clone(), stream, peer));
                    }
                    Err(e) => accept_error(e).await,
                },
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(conn)) = done {
                        return conn;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Like axum's own listener: a reset before accept is the client's business;
/// anything else (out of file descriptors, say) is logged and retried after
/// a pause rather than spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        std::fs::write(dir.join("cert.pem"), cert).unwrap();
        std::fs::write(dir.join("key.pem"), key).unwrap();
        TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_matching_pair_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        let config = files(dir.path(), &cert, &key).load().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn each_problem_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        let (_, other_key) = self_signed();

        let missing = TlsFiles {
            cert: dir.path().join("nope.pem"),
            key: dir.path().join("key.pem"),
        };
        let e = missing.load().unwrap_err();
        assert!(matches!(e, Error::TlsFile { .. }), "{e}");
        assert!(e.to_string().contains("nope.pem"), "{e}");

        let e = files(dir.path(), &key, &key).load().unwrap_err();
        assert!(matches!(e, Error::TlsNoCertificate { .. }), "{e}");
        assert!(e.to_string().contains("cert.pem"), "{e}");

        let e = files(dir.path(), &cert, &cert).load().unwrap_err();
        assert!(matches!(e, Error::TlsNoKey { .. }), "{e}");
        assert!(e.to_string().contains("key.pem"), "{e}");

        let e = files(dir.path(), &cert, &other_key).load().unwrap_err();
        assert!(matches!(e, Error::TlsKeyMismatch { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("key.pem") && text.contains("cert.pem"),
            "{text}"
        );

        let broken = cert.replace("-----END CERTIFICATE-----", "");
        let e = files(dir.path(), &broken, &key).load().unwrap_err();
        assert!(matches!(e, Error::TlsPem { .. }), "{e}");
        assert!(e.to_string().contains("cert.pem"), "{e}");
    }
}
