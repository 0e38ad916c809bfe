//! The cluster page (`/clusters/{name}`: hosts, figures, skew), the
//! comparison of two clusters (`/clusters/compare?a=&b=`) and the host
//! page's section on where a host differs from its cluster.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::format::fmt_age;
use super::html::segment;
use super::style::STYLE;
use crate::collector::fleet::cluster::ClusterSummary;
use crate::collector::fleet::members::CompareAnswer;
use crate::collector::fleet::skew::{KeySkew, Side};
use crate::collector::storage::fleet::WeekFigures;
use crate::collector::storage::health::GcHealth;
use crate::collector::storage::host::HostView;

/// A page's head and frame around `body`.
fn frame(title: &str, header: Markup, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header { (header) }
                main { (body) }
            }
        }
    }
    .into_string()
}

fn cluster_href(name: &str) -> String {
    format!("/clusters/{}", segment(name))
}

fn host_href(name: &str) -> String {
    format!("/hosts/{}", segment(name))
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.decimals$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:+.0} %"))
}

fn health(h: &HostView) -> Markup {
    match h.gc.health {
        GcHealth::Healthy => html! { span.pill.ok { "healthy" } },
        GcHealth::Unhealthy => html! { span.pill.bad { "unhealthy" } },
        GcHealth::Unknown => html! {
            span.pill.warn title=[h.gc.unknown_because.as_deref()] { "unknown" }
        },
    }
}

/// A host's roles in a cell: each by name, a stopped one marked.
fn roles(h: &HostView) -> Markup {
    html! {
        @for (i, r) in h.roles.iter().enumerate() {
            @if i > 0 { ", " }
            @if r.running { (r.role) } @else { span.hot { (r.role) " (stopped)" } }
        }
        @if h.roles.is_empty() { span.mut { "–" } }
    }
}

/// This week's figures against last week's, one table: the cluster page's
/// and the host page's (the same aggregation, the same rows).
pub fn week_rows(this: &WeekFigures, last: &WeekFigures) -> Markup {
    let change = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b.abs() > f64::EPSILON => Some((a - b) / b * 100.0),
        _ => None,
    };
    let n = |v: u64| Some(v as f64);
    let rows: [(&str, String, String, Option<f64>); 6] = [
        (
            "Reports",
            this.reports.to_string(),
            last.reports.to_string(),
            change(n(this.reports), n(last.reports)),
        ),
        (
            "GC ms/s per interval, mean",
            opt(this.mean_gc_ms_per_second, 2),
            opt(last.mean_gc_ms_per_second, 2),
            change(this.mean_gc_ms_per_second, last.mean_gc_ms_per_second),
        ),
        (
            "GC ms/s per interval, worst",
            opt(this.worst_gc_ms_per_second, 1),
            opt(last.worst_gc_ms_per_second, 1),
            change(this.worst_gc_ms_per_second, last.worst_gc_ms_per_second),
        ),
        (
            "Pause p99 ms per interval, worst",
            opt(this.worst_pause_p99_ms, 1),
            opt(last.worst_pause_p99_ms, 1),
            change(this.worst_pause_p99_ms, last.worst_pause_p99_ms),
        ),
        (
            "Full GCs",
            this.full_gcs.to_string(),
            last.full_gcs.to_string(),
            change(n(this.full_gcs), n(last.full_gcs)),
        ),
        (
            "Reports with drift",
            this.drifting_reports.to_string(),
            last.drifting_reports.to_string(),
            change(n(this.drifting_reports), n(last.drifting_reports)),
        ),
    ];
    html! {
        table {
            thead { tr { th {} th.n { "This week" } th.n { "Last week" } th.n { "Change" } } }
            tbody {
                @for (label, a, b, c) in rows {
                    tr {
                        td { (label) }
                        td.n { (a) }
                        td.n { (b) }
                        td.n class=[c.filter(|c| *c > 10.0).map(|_| "hot")] { (pct(c)) }
                    }
                }
            }
        }
    }
}

/// The values of a key, most hosts first: `4096 ×5 · 128 ×2`.
fn values(k: &KeySkew) -> Markup {
    html! {
        @for (i, v) in k.values.iter().enumerate() {
            @if i > 0 { span.mut { " · " } }
            span.code title=(v.hosts.join(", ")) { (v.value) }
            span.mut { " ×" (v.count) }
        }
    }
}

fn host_links(hosts: &[String]) -> Markup {
    html! {
        @for (i, h) in hosts.iter().enumerate() {
            @if i > 0 { ", " }
            a href=(host_href(h)) { (h) }
        }
    }
}

/// The skew table: one row per skewed key.
fn skew_table(skew: &[KeySkew]) -> Markup {
    let skewed: Vec<&KeySkew> = skew.iter().filter(|k| k.skewed()).collect();
    html! {
        table #skew {
            thead { tr { th { "Check" } th { "Key" } th { "Majority" } th { "Values (hosts)" } th { "Hosts outside the majority" } th { "Not reported by" } } }
            tbody {
                @for k in &skewed {
                    tr {
                        td { (k.check) }
                        td.code { (k.key) }
                        td.code {
                            @match &k.majority {
                                Some(m) => (m),
                                None => span.pill.warn title="two or more values are held by the same number of hosts" { "no majority" },
                            }
                        }
                        td.wrap { (values(k)) }
                        td.wrap.hot { (host_links(&k.minority)) }
                        td.wrap.mut { (host_links(&k.missing)) }
                    }
                }
                @if skewed.is_empty() {
                    tr.empty-row { td colspan="6" { "No skew: on every key compared, the hosts hold one value." } }
                }
            }
        }
    }
}

/// How many keys each host holds outside its cluster's majority (ties
/// count: the host holds one side of a split). Counted once for all hosts:
/// asking per host would scan every key's hosts for each host.
fn differing(skew: &[KeySkew]) -> std::collections::HashMap<&str, usize> {
    let mut n: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for k in skew {
        let outside: Box<dyn Iterator<Item = &String>> = if k.tie {
            Box::new(k.values.iter().flat_map(|v| v.hosts.iter()))
        } else {
            Box::new(k.minority.iter())
        };
        for h in outside {
            *n.entry(h.as_str()).or_default() += 1;
        }
    }
    n
}

/// The cluster page's HTML.
pub fn render_cluster(
    name: &str,
    summary: Option<&ClusterSummary>,
    hosts: &[HostView],
    unreadable: &[String],
    skew: &[KeySkew],
    others: &[String],
) -> String {
    let skewed = skew.iter().filter(|k| k.skewed()).count();
    let hot = |n: usize| if n > 0 { "hot" } else { "" };
    let (drifting, unhealthy, stale, waived) = summary.map_or((0, 0, 0, 0), |s| {
        (s.drifting, s.gc_unhealthy, s.stale, s.waived)
    });
    let header = html! {
        a.home href="/" { "← tunekeeper fleet" }
        h1 { "Cluster " (name) }
        div.stats {
            span { b { (hosts.len()) } " hosts" }
            span class=(hot(drifting)) { b { (drifting) } " drifting" }
            span class=(hot(unhealthy)) { b { (unhealthy) } " GC unhealthy" }
            span class=(hot(stale)) { b { (stale) } " stale" }
            @if waived > 0 {
                span.waived { b { (waived) } " with waived findings" }
            }
            span class=(hot(skewed)) { b { (skewed) } " keys skewed" }
        }
    };
    let outside = differing(skew);
    let body = html! {
        @if let Some(s) = summary {
            h2 { "This week against last week " span.mut { "all reports of the cluster's hosts; the host page's figures, summed over hosts" } }
            @match (&s.trend, &s.trend_as_of) {
                (Some(t), as_of) => {
                    p.mut {
                        "computed "
                        (as_of.as_deref().and_then(super::format::rfc3339_ms).map_or_else(|| "?".to_owned(), super::format::fmt_time))
                        " (refreshed in the background)"
                    }
                    (week_rows(&t.this_week, &t.last_week))
                }
                (None, _) => p.mut { (s.trend_missing.as_deref().unwrap_or("no trend yet")) },
            }
        }
        h2 { "Hosts" }
        table #hosts {
            thead { tr { th { "Host" } th { "Roles" } th { "Profile" } th.n { "Last report" } th.n { "Drift" } th { "GC health" } th.n { "Keys outside the majority" } } }
            tbody {
                @for h in hosts {
                    @let d = outside.get(h.hostname.as_str()).copied().unwrap_or(0);
                    tr {
                        td.host { a href=(host_href(&h.hostname)) { (h.hostname) } }
                        td { (roles(h)) }
                        td { (h.profile) }
                        td.n {
                            @if h.stale { span.pill.warn { "stale" } " " }
                            (fmt_age(h.age_seconds))
                        }
                        td.n { span.pill class=(if h.drift > 0 { "bad" } else { "ok" }) { (h.drift) } }
                        td { (health(h)) }
                        td.n class=[(d > 0).then_some("hot")] { (d) }
                    }
                }
            }
        }
        @if !unreadable.is_empty() {
            p.msg { "Not compared (their latest document could not be read): " (host_links(unreadable)) }
        }
        h2 { "Skew " span.mut { "keys on which the cluster's hosts differ, even where every value meets the profile" } }
        (skew_table(skew))
        @if !others.is_empty() {
            h2 { "Compare with another cluster" }
            p {
                @for (i, o) in others.iter().enumerate() {
                    @if i > 0 { " · " }
                    a href=(format!("/clusters/compare?a={}&b={}", segment(name), segment(o))) { (o) }
                }
            }
        }
    };
    frame(&format!("{name} · cluster · tunekeeper"), header, body)
}

fn side(s: Option<&Side>) -> Markup {
    html! {
        @match s {
            None => span.mut { "not reported" },
            Some(s) => {
                @match &s.majority {
                    Some(m) => span.code { (m) },
                    None => span.pill.warn { "no majority" },
                }
                span.mut {
                    " ("
                    @for (i, (v, n)) in s.values.iter().enumerate() {
                        @if i > 0 { ", " }
                        (v) " ×" (n)
                    }
                    ")"
                }
            }
        }
    }
}

/// The comparison page's HTML.
pub fn render_compare(c: &CompareAnswer) -> String {
    let header = html! {
        a.home href="/" { "← tunekeeper fleet" }
        h1 {
            a href=(cluster_href(&c.a)) { (c.a) } " against " a href=(cluster_href(&c.b)) { (c.b) }
        }
        div.stats {
            span { b { (c.differences.len()) } " of " (c.keys_compared) " keys differ" }
            span { b { (c.hosts.0) } " and " b { (c.hosts.1) } " hosts" }
        }
    };
    let body = html! {
        h2 { "Where the clusters' majorities differ" }
        table #compare {
            thead { tr { th { "Check" } th { "Key" } th { (c.a) } th { (c.b) } } }
            tbody {
                @for d in &c.differences {
                    tr {
                        td { (d.check) }
                        td.code { (d.key) }
                        td.wrap { (side(d.a.as_ref())) }
                        td.wrap { (side(d.b.as_ref())) }
                    }
                }
                @if c.differences.is_empty() {
                    tr.empty-row { td colspan="4" { "The two clusters' majorities agree on every key." } }
                }
            }
        }
    };
    frame(
        &format!("{} against {} · tunekeeper", c.a, c.b),
        header,
        body,
    )
}

/// The host page's section: the keys on which `host` differs from the
/// majority of `cluster` (or holds one side of a split).
pub fn host_section(host: &str, cluster: &str, skew: &[KeySkew], hosts: usize) -> Markup {
    let mine: Vec<(&KeySkew, &str)> = skew
        .iter()
        .filter(|k| k.minority.iter().any(|h| h == host) || k.tie)
        .filter_map(|k| Some((k, k.value_of(host)?)))
        .collect();
    html! {
        h2 #cluster-skew {
            "Against its cluster " a href=(cluster_href(cluster)) { (cluster) }
            " " span.mut { (hosts) " hosts; keys where this host is outside the majority" }
        }
        table {
            thead { tr { th { "Check" } th { "Key" } th { "This host" } th { "Cluster majority" } th { "Values (hosts)" } } }
            tbody {
                @for (k, v) in &mine {
                    tr {
                        td { (k.check) }
                        td.code { (k.key) }
                        td.code.hot { (v) }
                        td.code {
                            @match &k.majority {
                                Some(m) => (m),
                                None => span.pill.warn { "no majority" },
                            }
                        }
                        td.wrap { (values(k)) }
                    }
                }
                @if mine.is_empty() {
                    tr.empty-row { td colspan="5" { "On every key compared this host holds its cluster's majority value." } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fleet::skew::{HostValues, KeyId, skew};

    #[test]
    fn hosts_outside_the_majority_and_on_either_side_of_a_split_are_counted() {
        let hv = |h: &str, a: &str, b: &str| HostValues {
            hostname: h.into(),
            values: [("a", a), ("b", b)]
                .into_iter()
                .map(|(k, v)| {
                    (
                        KeyId {
                            check: "x".into(),
                            key: k.into(),
                        },
                        v.into(),
                    )
                })
                .collect(),
        };
        // Key a: 1 1 2 (h3 outside); key b: p p q q (a split: everyone counts).
        let s = skew(&[
            hv("h1", "1", "p"),
            hv("h2", "1", "p"),
            hv("h3", "2", "q"),
            hv("h4", "1", "q"),
        ]);
        let n = differing(&s);
        assert_eq!(n.get("h3"), Some(&2));
        assert_eq!(n.get("h1"), Some(&1));
        assert_eq!(n.get("h4"), Some(&1));
    }

    #[test]
    fn names_with_markup_are_text() {
        let evil = "<img src=x onerror=alert(1)>";
        let hv = |h: &str, v: &str| HostValues {
            hostname: h.into(),
            values: [(
                KeyId {
                    check: "sysctl".into(),
                    key: evil.into(),
                },
                v.into(),
            )]
            .into(),
        };
        let s = skew(&[hv("a", "1"), hv("b", "1"), hv("c", "<b>2</b>")]);
        let html = render_cluster(evil, None, &[], &[], &s, &[evil.into()]);
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>2"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("href=\"/clusters/compare?a=%3Cimg"));
        let section = host_section("c", evil, &s, 3).into_string();
        assert!(section.contains("&lt;b&gt;2&lt;/b&gt;") && !section.contains("<img"));
    }
}
