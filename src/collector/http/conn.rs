//! The collector's accept loop, the same for plain HTTP and TLS, with the
//! bounds `axum::serve` lacks: a connection must send its request head
//! within [`Limits::header_timeout`] (an idle keep-alive connection too: the
//! wait for the next head is the same timer); at most
//! [`Limits::max_connections`] are open at once, below the process's file
//! limit, so a flood of stalled clients cannot take the descriptors agents
//! need; and shutdown waits at most [`Limits::shutdown_timeout`] for open
//! connections before closing them. Body reads are bounded in the handler
//! ([`super::api`]), which knows when a body is expected.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

pub use crate::collector::limits::RESERVED_FDS;

/// Time and count bounds of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time from connection (or the end of the previous response) to a
    /// complete request head.
    pub header_timeout: Duration,
    /// Time to receive a whole request body.
    pub body_timeout: Duration,
    /// Time shutdown waits for open connections before closing them.
    pub shutdown_timeout: Duration,
    /// Connections open at once; past it, new ones wait in the kernel's backlog.
    pub max_connections: usize,
}

/// Raises the soft limit on open files to the hard limit (systemd's default
/// soft limit is 1,024; a collector for a large fleet needs more) and
/// returns the soft limit now in force.
pub fn raise_file_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                tracing::warn!(error = %e, soft, hard, "could not raise the open-file limit");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the open-file limit; assuming 1024");
            1024
        }
    }
}

/// How many connections fit under a soft file limit of `nofile`.
pub fn connections_for(nofile: u64) -> usize {
    usize::try_from(nofile.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX)
}

/// Accepts from `listener` and serves `app` on each connection until
/// `shutdown` completes; then stops accepting, asks every connection to
/// close after its current request, and closes what is still open after
/// [`Limits::shutdown_timeout`].
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    L: Listener,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // A slot first: at the cap, stop accepting (the kernel queues the
        // rest) until a connection ends; timeouts make sure one does.
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        while conns.try_join_next().is_some() {}
        let (io, _peer) = tokio::select! {
            c = listener.accept() => c,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        let header_timeout = limits.header_timeout;
        conns.spawn(async move {
            let _slot = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = async { let _ = stop.wait_for(|s| *s).await; } => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // Timeouts and resets are the client's business.
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = conns.len(),
            bound = ?limits.shutdown_timeout,
            "closing connections still open at the shutdown bound"
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}
