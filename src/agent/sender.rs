//! Delivery to the collector: gzip JSON over HTTPS (rustls) with a bearer
//! token, and the retry policy — capped exponential backoff with full jitter;
//! refusals that no retry can fix are not retried. Redirects are never
//! followed: a client following a 301/302 turns the POST into a GET, and a
//! 200 for that GET would delete a report nobody stored.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// Why a sender could not be built.
#[derive(Debug, Error)]
pub enum SenderError {
    /// The token or CA file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The token file cannot be used (it names the file and line).
    #[error(transparent)]
    Token(#[from] crate::token_file::TokenFileError),
    /// The CA file is not a PEM certificate, or the client cannot be built.
    #[error("{0}")]
    Client(String),
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// 2xx: the collector has it (or had it: a duplicate id is a success).
    Delivered,
    /// A 4xx about this report (400, 409, 413, 415, 422, ...): retrying
    /// the same bytes cannot succeed (409: the collector holds this report
    /// id for another host). Set aside, so the reports behind it go on.
    Refused(u16),
    /// Network error, timeout, 5xx, 429, a redirect...: try again later.
    Retry(String),
}

/// Classifies an HTTP status. A 3xx is a failure like a 5xx: the report was
/// not stored, and the endpoint is probably misconfigured (a load balancer
/// redirecting to HTTPS or to a login page), which the operator can fix.
/// A 4xx is the report's own fault, and it is set aside, except those that
/// say nothing about the report: authentication (401, 403, 407, fixed by
/// the operator, after which every waiting report goes through), throttling
/// and timeouts (408, 425, 429), and a wrong URL (404, 405).
pub fn classify(status: u16) -> Delivery {
    match status {
        200..=299 => Delivery::Delivered,
        300..=399 => Delivery::Retry(format!(
            "HTTP {status}: a redirect, which the agent does not follow; set `endpoint` to the collector's own URL"
        )),
        401 | 403 | 407 => Delivery::Retry(format!(
            "HTTP {status}: configuration error: the collector does not accept the agent's token; fix `token_file` (reports wait in the spool)"
        )),
        408 | 425 | 429 => Delivery::Retry(format!("HTTP {status}")),
        // The URL answers, but is no collector API: a configuration error
        // (often the example endpoint without its path), not a blip.
        404 | 405 => Delivery::Retry(format!(
            "HTTP {status}: configuration error: this URL is not the collector's report API; set `endpoint` to https://COLLECTOR:PORT/api/v1/reports"
        )),
        400..=499 => Delivery::Refused(status),
        s => Delivery::Retry(format!("HTTP {s}")),
    }
}

/// Posts gzipped reports to one endpoint.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    endpoint: String,
    token: Option<String>,
}

impl Sender {
    /// The URL reports are posted to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Builds a client: rustls, optional extra CA, timeouts.
    pub fn new(
        endpoint: &str,
        token_file: Option<&std::path::Path>,
        ca_file: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<Sender, SenderError> {
        // The collector's token-file format, holding exactly one token.
        let token = token_file.map(crate::token_file::load_one).transpose()?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("tunekeeper-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(p) = ca_file {
            // A CA bundle is tens of KiB.
            let pem = crate::file_kind::read_bounded(p, 4 << 20)
                .map_err(crate::file_kind::SmallFileError::into_io)
                .map_err(|source| SenderError::Io {
                    path: p.to_path_buf(),
                    source,
                })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                SenderError::Client(format!("{}: not a PEM certificate: {e}", p.display()))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .build()
            .map_err(|e| SenderError::Client(e.to_string()))?;
        Ok(Sender {
            client,
            endpoint: endpoint.to_string(),
            token,
        })
    }

    /// Sends one gzipped JSON report.
    pub async fn send(&self, gz: Vec<u8>) -> Delivery {
        let mut req = self
            .client
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gz);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(resp) => match classify(resp.status().as_u16()) {
                Delivery::Retry(why) if resp.status().is_redirection() => {
                    let to = resp
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .unwrap_or("nowhere");
                    Delivery::Retry(format!("{why} (Location: {to})"))
                }
                other => other,
            },
            Err(e) => Delivery::Retry(with_causes(&e)),
        }
    }
}

/// An error and its causes on one line. reqwest's own text stops at "error
/// sending request for url (...)"; the reason (refused connection, an
/// untrusted certificate, a timeout) is in the source chain, and the
/// operator reading the agent's log needs it.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        // Some layers repeat their inner error's text verbatim.
        if !text.ends_with(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

/// Capped exponential backoff with full jitter: the n-th retry waits a
/// uniformly random time in [0, min(cap, base * 2^n)], so a fleet whose
/// collector comes back does not reconnect in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base`, never above `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The next delay; each call doubles the ceiling up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(30)).unwrap_or(u32::MAX))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(fastrand::f64())
    }

    /// The current ceiling (for logs and tests).
    pub fn ceiling(&self) -> Duration {
        self.base
            .saturating_mul(1u32.checked_shl(self.attempt.min(30)).unwrap_or(u32::MAX))
            .min(self.cap)
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(200), Delivery::Delivered);
        assert_eq!(classify(202), Delivery::Delivered);
        for s in [400, 409, 411, 413, 414, 415, 422, 431] {
            assert_eq!(classify(s), Delivery::Refused(s));
        }
        for s in [401, 403, 407] {
            assert!(
                matches!(classify(s), Delivery::Retry(why) if why.contains("configuration error")),
                "{s}: an auth failure is no fault of the report"
            );
        }
        for s in [408, 425, 429] {
            assert!(matches!(classify(s), Delivery::Retry(_)));
        }
        for s in [404, 405] {
            assert!(
                matches!(classify(s), Delivery::Retry(why) if why.contains("configuration error"))
            );
        }
        for s in [301, 302, 307, 308, 429, 500, 502, 503] {
            assert!(matches!(classify(s), Delivery::Retry(_)));
        }
    }

    #[test]
    fn causes_are_kept() {
        let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let outer = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, inner);
        // io::Error shows its inner error's text: not repeated.
        assert_eq!(
            with_causes(&outer),
            "invalid peer certificate: UnknownIssuer"
        );
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        assert_eq!(
            with_causes(&Wrapper(std::io::Error::other("connection refused"))),
            "error sending request: connection refused"
        );
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            let c = b.ceiling();
            let d = b.next_delay();
            assert!(d <= c);
            ceilings.push(c);
        }
        assert_eq!(ceilings[0], Duration::from_millis(100));
        assert_eq!(ceilings[3], Duration::from_millis(800));
        assert_eq!(*ceilings.last().unwrap(), Duration::from_secs(2));
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
    }
}
