//! What can stop the collector from starting or running. Every variant names
//! the file, database or address involved, so the operator knows where to look.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A collector failure that is not a per-request problem (those become HTTP statuses).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite database could not be opened, migrated or written.
    #[error("database {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A token file could not be read or holds no usable token; the message
    /// names the file (and the line).
    #[error(transparent)]
    TokenFile(#[from] crate::token_file::TokenFileError),
    /// The database opened but cannot be written (file mode, read-only
    /// directory or mount, immutable file).
    #[error(
        "database {path} cannot be written: {source} (the collector's user needs write access to the file and its directory)"
    )]
    NotWritable {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// An option outside the range the collector can work with.
    #[error("{option} {value}: {reason}")]
    BadOption {
        /// The option, as spelled on the command line.
        option: &'static str,
        /// The value given.
        value: String,
        /// The range allowed and why.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A TLS certificate or key file could not be read.
    #[error("TLS file {path}: {source}")]
    TlsFile {
        /// The certificate or key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A TLS certificate or key file is not valid PEM.
    #[error("TLS file {path}: not valid PEM: {source}")]
    TlsPem {
        /// The certificate or key file.
        path: PathBuf,
        /// What the PEM parser said.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error(
        "TLS certificate file {path}: no certificate (a PEM `CERTIFICATE` block, server certificate first)"
    )]
    TlsNoCertificate {
        /// The certificate file.
        path: PathBuf,
    },
    /// The key file holds no private key.
    #[error(
        "TLS key file {path}: no private key (a PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block)"
    )]
    TlsNoKey {
        /// The key file.
        path: PathBuf,
    },
    /// The private key is not the one the server certificate was issued for.
    #[error("TLS key file {key} does not match the certificate in {cert}")]
    TlsKeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the certificate or key (an unsupported key type, a
    /// certificate that does not parse...).
    #[error("TLS certificate {cert} with key {key}: {source}")]
    Tls {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// The HTTP server failed while running.
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
    /// The database writer thread could not be started.
    #[error("starting the database writer thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The database writer thread ended unexpectedly.
    #[error("database {path}: the writer thread stopped")]
    WriterGone {
        /// The database file.
        path: PathBuf,
    },
}
