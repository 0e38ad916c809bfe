//! The agent's Prometheus endpoint, on a thread of its own so that it
//! answers while the agent is busy (the reporting loop audits the host and
//! reads GC logs synchronously; on a shared runtime a scrape waited for
//! that, and Prometheus timed out). Connections are a budget: at most
//! [`MAX_CONNECTIONS`] are open at once, each has [`REQUEST_DEADLINE`] to
//! send its request and take its answer, and when the cap is reached the
//! oldest is closed for the newcomer, so idle connections (a thousand of
//! them) cost at most that many descriptors and never lock a scraper out
//! for long.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::AbortHandle;

use super::metrics::Metrics;

/// Connections open at once.
pub const MAX_CONNECTIONS: usize = 32;
/// Time a connection has to send its request and read the answer.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// The largest request head read (a scrape's is a few hundred bytes).
pub const MAX_REQUEST_BYTES: usize = 8 << 10;

/// Serves `/metrics` on `listener` from a thread of its own, until the
/// process exits.
pub fn spawn(listener: std::net::TcpListener, metrics: Arc<Metrics>) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || rt.block_on(serve(listener, metrics)))?;
    Ok(())
}

async fn serve(listener: std::net::TcpListener, metrics: Arc<Metrics>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "metrics endpoint stopped");
            return;
        }
    };
    let mut open: VecDeque<AbortHandle> = VecDeque::new();
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors, most likely: give them time to come back.
                tracing::debug!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        open.retain(|h| !h.is_finished());
        while open.len() >= MAX_CONNECTIONS {
            if let Some(oldest) = open.pop_front() {
                oldest.abort();
            }
        }
        let m = metrics.clone();
        let task = tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_DEADLINE, answer(stream, &m)).await;
        });
        open.push_back(task.abort_handle());
    }
}

/// Reads one request head and answers it; the connection is closed after.
async fn answer(mut stream: tokio::net::TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
        if head.len() > MAX_REQUEST_BYTES {
            return respond(&mut stream, "431 Request Header Fields Too Large", "", b"").await;
        }
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|b| *b == b' ');
    let (method, target) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let path = target.split(|b| *b == b'?').next().unwrap_or_default();
    match (method, path) {
        (b"GET", b"/metrics") => {
            let body = metrics.encode();
            respond(
                &mut stream,
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                body.as_bytes(),
            )
            .await
        }
        (b"HEAD", b"/metrics") => {
            respond(
                &mut stream,
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                b"",
            )
            .await
        }
        (b"GET" | b"HEAD", _) => {
            respond(&mut stream, "404 Not Found", "text/plain", b"not found\n").await
        }
        _ => {
            respond(
                &mut stream,
                "405 Method Not Allowed",
                "text/plain",
                b"method not allowed\n",
            )
            .await
        }
    }
}

async fn respond(
    stream: &mut tokio::net::TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}
