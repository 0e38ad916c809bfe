//! `--webhook URL`: state changes posted as JSON in the shape Alertmanager
//! sends to its webhook receivers (`version` "4", `groupKey`, `status`,
//! `alerts[]` with `labels`, `annotations`, `startsAt`, `endsAt`,
//! `fingerprint`), so receivers written for Alertmanager work unchanged.
//!
//! Messages wait in a bounded queue in memory; one sender posts them in
//! order, each with a timeout, retrying with capped exponential backoff
//! and full jitter. A full queue drops its oldest message (the one being
//! retried, if that is the oldest) and counts it; a receiver's 4xx (other
//! than 408 and 429) is final and counted as failed. Redirects are not
//! followed: a 3xx is a failed attempt, retried (following one would turn
//! the POST into a GET without the alert, and count it delivered).
//!
//! The URL is a [`WebhookUrl`]: it shows only its scheme, host, port and
//! path, and the errors of an attempt are reported without it, so a
//! `?token=` in it reaches no log line, metric, page or API.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::metrics::Counters;
use super::rules::Condition;
use crate::collector::storage::host::HostView;

/// A webhook receiver's URL (`http` or `https`, with a host). Shown
/// ([`std::fmt::Display`], [`std::fmt::Debug`]) as scheme, host, port and
/// path only: its user, password, query and fragment may hold secrets
/// (`?token=...`), and only the request itself carries them.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: reqwest::Url,
    shown: String,
}

impl WebhookUrl {
    /// Parses `--webhook`'s value; the error names the option and shows
    /// the URL without its secrets.
    pub fn parse(text: &str) -> Result<WebhookUrl, crate::collector::Error> {
        let bad = |reason: &str| crate::collector::Error::BadOption {
            option: "--webhook",
            value: shown_url(text),
            reason: reason.to_owned(),
        };
        let url = reqwest::Url::parse(text).map_err(|_| bad("not an http:// or https:// URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(bad("not an http:// or https:// URL"));
        }
        Ok(WebhookUrl {
            shown: shown_url(text),
            url,
        })
    }

    /// Removes every secret part of this URL from `text` (an error's
    /// message, should one ever carry the URL), replacing the whole URL
    /// with its shown form.
    fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(self.url.as_str(), &self.shown);
        for secret in [self.url.query(), self.url.password(), self.url.fragment()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
        {
            out = out.replace(secret, "***");
        }
        if !self.url.username().is_empty() {
            out = out.replace(self.url.username(), "***");
        }
        out
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUrl({})", self.shown)
    }
}

/// `--webhook` and its bounds.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The receiver's URL.
    pub url: WebhookUrl,
    /// Messages held before the oldest is dropped.
    pub queue: usize,
    /// Time for one delivery attempt.
    pub timeout: Duration,
    /// Time between two evaluations (staleness needs no report to change).
    pub interval: Duration,
    /// The collector's URL as people reach it: alerts link to host pages.
    pub external_url: Option<String>,
}

/// Default messages queued before the oldest is dropped.
pub const DEFAULT_QUEUE: usize = 1000;
/// Default time for one delivery attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub use crate::collector::limits::MAX_ALERTS;
use crate::collector::limits::MAX_ANNOTATION_BYTES;
/// First retry delay bound; doubles per attempt up to [`BACKOFF_CAP`].
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest wait between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Alertmanager's zero time, its `endsAt` of an alert still firing.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// The `receiver` field of every message.
const RECEIVER: &str = "tunekeeper-collector";

/// One alert, firing or resolved.
#[derive(Debug, Clone)]
pub struct Alert {
    /// `alertname`, `host`, `cluster` (when the host has one), `severity`.
    pub labels: BTreeMap<String, String>,
    /// `summary` and `description`.
    pub annotations: BTreeMap<String, String>,
    /// When the collector first saw the state.
    pub starts_at: OffsetDateTime,
    /// When it saw the state end; `None` while firing.
    pub ends_at: Option<OffsetDateTime>,
    /// Not yet sent as firing (the evaluator's bookkeeping).
    pub fresh: bool,
    /// The host's page on the collector (`--external-url`), or empty.
    pub generator_url: String,
}

impl Alert {
    /// Sets an annotation, cut to [`MAX_ANNOTATION_BYTES`]: what hosts
    /// report reaches the receiver bounded.
    pub fn annotate(&mut self, key: &str, value: String) {
        self.annotations
            .insert(key.to_owned(), cut(value, MAX_ANNOTATION_BYTES));
    }

    /// The same alert, resolved at `at`.
    pub fn resolved(mut self, at: OffsetDateTime) -> Alert {
        self.ends_at = Some(at);
        self
    }

    /// Alertmanager's fingerprint: a hash of the label set, as 16 hex
    /// digits. FNV-1a, stable across builds and instances, so two
    /// collectors give one alert the same fingerprint.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (k, v) in &self.labels {
            for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xff]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }

    fn status(&self) -> &'static str {
        if self.ends_at.is_some() {
            "resolved"
        } else {
            "firing"
        }
    }
}

/// The alert for `cond` on host `h` (in `cluster`), starting at `now`;
/// `external` is the collector's URL as people reach it (or empty).
pub fn alert(
    cond: Condition,
    h: &HostView,
    cluster: Option<&str>,
    now: OffsetDateTime,
    external: &str,
) -> Alert {
    let mut labels = BTreeMap::new();
    labels.insert("alertname".to_owned(), cond.alertname().to_owned());
    labels.insert("host".to_owned(), h.hostname.clone());
    if let Some(c) = cluster {
        labels.insert("cluster".to_owned(), c.to_owned());
    }
    labels.insert("severity".to_owned(), "warning".to_owned());
    let (summary, description) = match cond {
        Condition::Drifting => {
            let keys: Vec<String> = h
                .drifting
                .iter()
                .filter(|k| k.check != "gc")
                .take(10)
                .map(|k| {
                    format!(
                        "{} {}: expected {}, found {}",
                        k.check,
                        k.key,
                        k.expected,
                        k.actual.as_deref().unwrap_or("(none)")
                    )
                })
                .collect();
            let n = h.drift.saturating_sub(h.gc.gc_drift);
            (
                format!(
                    "{}: {n} setting(s) drift from profile {}",
                    h.hostname, h.profile
                ),
                keys.join("; "),
            )
        }
        Condition::GcUnhealthy => (
            format!(
                "{}: GC misses a service level of profile {}",
                h.hostname, h.profile
            ),
            format!(
                "GC ms per second {}, pause p99 ms {}, full GCs in 24 h {}",
                shown(h.gc.gc_ms_per_second),
                shown(h.gc.pause_p99_ms),
                h.gc.full_gcs_24h
            ),
        ),
        Condition::Stale => (
            format!("{}: no report for {} s", h.hostname, h.age_seconds),
            format!(
                "the agent reports every {} s; its last report is from {}",
                h.interval_seconds, h.last_time
            ),
        ),
        // The evaluator puts the differing keys in the description.
        Condition::Skewed => (
            format!(
                "{}: differs from the majority of cluster {}",
                h.hostname,
                cluster.unwrap_or("")
            ),
            String::new(),
        ),
    };
    let mut alert = Alert {
        labels,
        annotations: BTreeMap::new(),
        starts_at: now,
        ends_at: None,
        fresh: true,
        generator_url: if external.is_empty() {
            String::new()
        } else {
            format!(
                "{external}/hosts/{}",
                crate::present::html::segment(&h.hostname)
            )
        },
    };
    alert.annotate("summary", summary);
    alert.annotate("description", description);
    alert
}

/// `text` cut to at most `max` bytes (on a character boundary), ending
/// `…` when cut.
pub fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut at = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text.push('…');
    text
}

fn shown(v: Option<f64>) -> String {
    v.map_or_else(|| "unknown".to_owned(), |v| format!("{v:.1}"))
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| ZERO_TIME.to_owned())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertJson<'a> {
    status: &'static str,
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    fingerprint: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageJson<'a> {
    version: &'static str,
    group_key: String,
    truncated_alerts: u32,
    status: &'static str,
    receiver: &'static str,
    group_labels: BTreeMap<&'a str, &'a str>,
    common_labels: BTreeMap<&'a str, &'a str>,
    common_annotations: BTreeMap<&'a str, &'a str>,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    alerts: Vec<AlertJson<'a>>,
}

/// The messages for `changes`: grouped by `alertname` and `cluster`
/// (Alertmanager's `group_by`), at most [`MAX_ALERTS`] alerts each. A
/// message is `firing` when any of its alerts fires. `external` is the
/// collector's URL (`externalURL`), or empty.
pub fn messages(changes: Vec<Alert>, external: &str) -> Vec<Vec<u8>> {
    let mut groups: BTreeMap<(String, String), Vec<Alert>> = BTreeMap::new();
    for a in changes {
        let name = a.labels.get("alertname").cloned().unwrap_or_default();
        let cluster = a.labels.get("cluster").cloned().unwrap_or_default();
        groups.entry((name, cluster)).or_default().push(a);
    }
    let mut out = Vec::new();
    for ((name, cluster), alerts) in groups {
        for chunk in alerts.chunks(MAX_ALERTS) {
            let mut group_labels = BTreeMap::new();
            group_labels.insert("alertname", name.as_str());
            if !cluster.is_empty() {
                group_labels.insert("cluster", cluster.as_str());
            }
            let group_key = format!(
                "{{}}:{{{}}}",
                group_labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            // Labels every alert of the message shares.
            let mut common: BTreeMap<&str, &str> = chunk[0]
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            common.retain(|k, v| {
                chunk
                    .iter()
                    .all(|a| a.labels.get(*k).map(String::as_str) == Some(*v))
            });
            let mut common_ann: BTreeMap<&str, &str> = chunk[0]
                .annotations
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            common_ann.retain(|k, v| {
                chunk
                    .iter()
                    .all(|a| a.annotations.get(*k).map(String::as_str) == Some(*v))
            });
            let firing = chunk.iter().any(|a| a.ends_at.is_none());
            let msg = MessageJson {
                version: "4",
                group_key,
                truncated_alerts: 0,
                status: if firing { "firing" } else { "resolved" },
                receiver: RECEIVER,
                group_labels,
                common_labels: common,
                common_annotations: common_ann,
                external_url: external,
                alerts: chunk
                    .iter()
                    .map(|a| AlertJson {
                        status: a.status(),
                        labels: &a.labels,
                        annotations: &a.annotations,
                        starts_at: rfc3339(a.starts_at),
                        ends_at: a.ends_at.map_or_else(|| ZERO_TIME.to_owned(), rfc3339),
                        generator_url: &a.generator_url,
                        fingerprint: a.fingerprint(),
                    })
                    .collect(),
            };
            match serde_json::to_vec(&msg) {
                Ok(body) => out.push(body),
                Err(e) => tracing::error!(error = %e, "webhook message not encodable"),
            }
        }
    }
    out
}

struct Queue {
    items: VecDeque<(u64, Arc<Vec<u8>>)>,
    next: u64,
}

/// The webhook's queue and sender.
pub struct Webhook {
    url: WebhookUrl,
    client: reqwest::Client,
    cap: usize,
    queue: Mutex<Queue>,
    ready: tokio::sync::Notify,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({}, queue {})", self.url, self.cap)
    }
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    /// Refused for good (a 4xx other than 408/429).
    Refused(u16),
    /// Failed, to be retried: which kind (the metric's label) and why.
    Retry(&'static str, String),
}

impl Webhook {
    /// A webhook posting to `url`, holding at most `cap` messages, each
    /// attempt bounded by `timeout`.
    pub fn new(
        url: &WebhookUrl,
        cap: usize,
        timeout: Duration,
        counters: Arc<Counters>,
    ) -> Result<Webhook, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect is the receiver's misconfiguration, and following
            // one (301, 302, 303) turns the POST into a GET without a body.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| url.scrub(&error_text(e)))?;
        Ok(Webhook {
            url: url.clone(),
            client,
            cap: cap.max(1),
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                next: 0,
            }),
            ready: tokio::sync::Notify::new(),
            counters,
        })
    }

    /// Queues one message; a full queue drops its oldest first.
    pub fn enqueue(&self, body: Vec<u8>) {
        let depth = match self.queue.lock() {
            Ok(mut q) => {
                if q.items.len() >= self.cap {
                    q.items.pop_front();
                    self.counters.webhook("dropped");
                    tracing::warn!(
                        queue = self.cap,
                        "webhook queue full: oldest message dropped"
                    );
                }
                let seq = q.next;
                q.next += 1;
                q.items.push_back((seq, Arc::new(body)));
                q.items.len()
            }
            Err(_) => return,
        };
        self.counters.webhook_queue(depth);
        self.ready.notify_one();
    }

    fn front(&self) -> Option<(u64, Arc<Vec<u8>>)> {
        self.queue.lock().ok()?.items.front().cloned()
    }

    /// Removes message `seq` if it is still the oldest.
    fn done(&self, seq: u64) {
        if let Ok(mut q) = self.queue.lock() {
            if q.items.front().is_some_and(|(s, _)| *s == seq) {
                q.items.pop_front();
            }
            self.counters.webhook_queue(q.items.len());
        }
    }

    fn still_front(&self, seq: u64) -> bool {
        self.front().is_some_and(|(s, _)| s == seq)
    }

    async fn attempt(&self, body: &[u8]) -> Attempt {
        let sent = self
            .client
            .post(self.url.url.clone())
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(r) => classify(r.status().as_u16()),
            // Never the error's own text: reqwest's names the whole URL.
            Err(e) => Attempt::Retry("error", self.url.scrub(&error_text(e))),
        }
    }

    /// Sends queued messages in order, for ever.
    pub async fn run(self: Arc<Self>) {
        loop {
            let Some((seq, body)) = self.front() else {
                self.ready.notified().await;
                continue;
            };
            let mut attempt: u32 = 0;
            loop {
                match self.attempt(&body).await {
                    Attempt::Delivered => {
                        self.counters.webhook("delivered");
                        self.done(seq);
                        break;
                    }
                    Attempt::Refused(code) => {
                        tracing::warn!(url = %self.url, code, "webhook refused a message; not retried");
                        self.counters.webhook("failed");
                        self.done(seq);
                        break;
                    }
                    Attempt::Retry(kind, why) => {
                        self.counters.webhook_attempt_failed(kind);
                        tracing::warn!(url = %self.url, attempt, reason = %why, "webhook delivery failed; retrying");
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt = attempt.saturating_add(1);
                        // Dropped meanwhile (the queue overflowed): move on.
                        if !self.still_front(seq) {
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// How an answer with `code` ends an attempt: 2xx delivered; a 4xx other
/// than 408 and 429 refused for good; a 3xx (never followed), a 5xx, 408
/// and 429 failed, to be retried.
fn classify(code: u16) -> Attempt {
    match code {
        200..=299 => Attempt::Delivered,
        300..=399 => Attempt::Retry(
            "redirect",
            format!(
                "status {code}: a redirect, which the collector does not follow; give --webhook the receiver's own URL"
            ),
        ),
        408 | 429 => Attempt::Retry("status", format!("status {code}")),
        400..=499 => Attempt::Refused(code),
        _ => Attempt::Retry("status", format!("status {code}")),
    }
}

/// An error of the HTTP client in words, with its causes, without the URL
/// reqwest puts in its own text.
fn error_text(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = e.to_string();
    let mut next = std::error::Error::source(&e);
    while let Some(c) = next {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        next = c.source();
    }
    s
}

/// `url` without what may be secret: user, password, query, fragment.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// The wait before retry `attempt + 1`: full jitter over a capped
/// exponential bound, at least 100 ms.
fn backoff(attempt: u32) -> Duration {
    let bound = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    let ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(100..=ms.max(100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(host: &str, cluster: Option<&str>, resolved: bool) -> Alert {
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_owned(), "TunekeeperHostDrifting".to_owned());
        labels.insert("host".to_owned(), host.to_owned());
        if let Some(c) = cluster {
            labels.insert("cluster".to_owned(), c.to_owned());
        }
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        Alert {
            labels,
            annotations: BTreeMap::new(),
            starts_at: t,
            ends_at: resolved.then_some(t + Duration::from_secs(60)),
            fresh: false,
            generator_url: format!("http://c.example/hosts/{host}"),
        }
    }

    #[test]
    fn messages_group_by_alertname_and_cluster_in_alertmanager_shape() {
        let msgs = messages(
            vec![
                sample("b1", Some("orders"), false),
                sample("b2", Some("orders"), true),
                sample("b3", None, true),
            ],
            "http://c.example",
        );
        assert_eq!(msgs.len(), 2);
        let v: Vec<serde_json::Value> = msgs
            .iter()
            .map(|m| serde_json::from_slice(m).unwrap())
            .collect();
        let none = &v[0];
        assert_eq!(none["status"], "resolved");
        assert_eq!(
            none["groupKey"],
            "{}:{alertname=\"TunekeeperHostDrifting\"}"
        );
        assert_eq!(none["alerts"][0]["endsAt"], "2023-11-14T22:14:20Z");
        let orders = &v[1];
        assert_eq!(orders["version"], "4");
        assert_eq!(orders["externalURL"], "http://c.example");
        assert_eq!(
            orders["alerts"][0]["generatorURL"],
            "http://c.example/hosts/b1"
        );
        assert_eq!(orders["status"], "firing");
        assert_eq!(orders["commonLabels"]["cluster"], "orders");
        assert!(orders["commonLabels"].get("host").is_none());
        assert_eq!(orders["alerts"][0]["endsAt"], ZERO_TIME);
        assert_eq!(orders["alerts"][1]["status"], "resolved");
        assert_ne!(
            orders["alerts"][0]["fingerprint"],
            orders["alerts"][1]["fingerprint"]
        );
    }

    #[test]
    fn logs_never_show_the_urls_secrets() {
        assert_eq!(
            shown_url("https://ops:s3cret@hooks.example.org:8443/alert?token=abc#x"),
            "https://hooks.example.org:8443/alert"
        );
    }

    #[test]
    fn a_webhook_url_shows_no_secret_and_scrubs_them_from_errors() {
        let text = "https://ops:pw-123@hooks.example.org:8443/alert?token=abc-999#frag-77";
        let url = WebhookUrl::parse(text).unwrap();
        let shown = "https://hooks.example.org:8443/alert";
        assert_eq!(url.to_string(), shown);
        assert_eq!(format!("{url:?}"), format!("WebhookUrl({shown})"));
        let config = WebhookConfig {
            url: url.clone(),
            queue: 1,
            timeout: DEFAULT_TIMEOUT,
            interval: DEFAULT_TIMEOUT,
            external_url: None,
        };
        assert!(!format!("{config:?}").contains("abc-999"));
        let said = url.scrub(&format!("error sending request for url ({})", url.url));
        for secret in ["pw-123", "abc-999", "frag-77", "ops"] {
            assert!(!said.contains(secret), "{said}");
        }
        let e = WebhookUrl::parse("ftp://ops:pw-123@example.org/x?token=abc-999").unwrap_err();
        assert!(!e.to_string().contains("abc-999") && !e.to_string().contains("pw-123"));
    }

    #[test]
    fn a_redirect_is_a_failure_to_retry_and_a_4xx_is_final() {
        for code in [301, 302, 303, 307, 308] {
            assert!(
                matches!(classify(code), Attempt::Retry("redirect", _)),
                "{code}"
            );
        }
        assert!(matches!(classify(204), Attempt::Delivered));
        assert!(matches!(classify(429), Attempt::Retry("status", _)));
        assert!(matches!(classify(503), Attempt::Retry("status", _)));
        assert!(matches!(classify(404), Attempt::Refused(404)));
        let long = "é".repeat(MAX_ANNOTATION_BYTES);
        let cut_text = cut(long, MAX_ANNOTATION_BYTES);
        assert!(cut_text.len() <= MAX_ANNOTATION_BYTES && cut_text.ends_with('…'));
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        for attempt in [0, 1, 5, 40] {
            let d = backoff(attempt);
            assert!(d >= Duration::from_millis(100) && d <= BACKOFF_CAP, "{d:?}");
        }
    }
}
