//! The fleet page's "Clusters" section and the `cluster=` filter, on both
//! backends, with the real collector and hand-made reports in three
//! clusters and none.

use crate::collector_support;

on_both!(fleet_page_groups_hosts_by_cluster_and_filters_to_one);

use std::time::Duration;

use collector_support::{Collector, ago, drift, gc, report};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn in_cluster(r: &mut Value, name: &str) {
    r["cluster"] = json!({ "name": name, "from": "config" });
}

/// The host names of a fleet page's rows (names here need no decoding).
fn row_hosts(html: &str) -> Vec<String> {
    html.split(r#"<td class="host"><a href="/hosts/"#)
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

/// The text of each cell of the clusters section's row of `value` (as
/// its `data-cluster` attribute is written, escaped), tags removed.
fn cluster_cells(html: &str, value: &str) -> Vec<String> {
    let start = html
        .find(&format!(r#"data-cluster="{value}">"#))
        .unwrap_or_else(|| panic!("no row {value}:\n{html}"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let inner = &cell[cell.find('>').unwrap() + 1..];
            let inner = &inner[..inner.find("</td>").unwrap()];
            let mut text = String::new();
            let mut tag = false;
            for ch in inner.chars() {
                match ch {
                    '<' => tag = true,
                    '>' => tag = false,
                    c if !tag => text.push(c),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

/// `GET /api/v1/clusters` once the background trend was computed after
/// `since` (refreshed every second here; 30 s at most).
fn clusters_after(c: &Collector, since: OffsetDateTime) -> Value {
    let mut list = Value::Null;
    let fresh = collector_support::eventually(|| {
        list = c.get_json("/api/v1/clusters");
        list.as_array().unwrap().iter().all(|x| {
            x["trend_as_of"]
                .as_str()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .is_some_and(|t| t > since)
        })
    });
    assert!(fresh, "the trend was not refreshed: {list:#}");
    list
}

fn fleet_page_groups_hosts_by_cluster_and_filters_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &["--trend-refresh-seconds", "1"]);
    let post = |r: &Value| assert_eq!(c.post(r).0, 202, "{r}");
    let s = Duration::from_secs;
    let evil = "<b>pay</b>&\"x\"";
    // orders: one drifting, one GC unhealthy (its GC findings drift too),
    // one stale; a report last week.
    let mut r = report("o1", "o1-now", &ago(s(20)), 60);
    in_cluster(&mut r, "orders");
    gc(&mut r, 4.0, 30.0, 0);
    drift(&mut r, "vm.swappiness", "60");
    post(&r);
    let mut r = report("o2", "o2-now", &ago(s(20)), 60);
    in_cluster(&mut r, "orders");
    gc(&mut r, 22.0, 120.0, 1);
    post(&r);
    let mut r = report("o3", "o3-old", &ago(s(900)), 60);
    in_cluster(&mut r, "orders");
    gc(&mut r, 6.0, 30.0, 0);
    post(&r);
    let mut r = report("o1", "o1-lastweek", &ago(s(8 * 86_400)), 60);
    in_cluster(&mut r, "orders");
    gc(&mut r, 4.0, 20.0, 0);
    drift(&mut r, "vm.swappiness", "60");
    post(&r);
    // A name with markup: two healthy hosts.
    for h in ["p1", "p2"] {
        let mut r = report(h, &format!("{h}-now"), &ago(s(20)), 60);
        in_cluster(&mut r, evil);
        gc(&mut r, 2.0, 20.0, 0);
        post(&r);
    }
    // logs: one drifting.
    let mut r = report("l1", "l1-now", &ago(s(20)), 60);
    in_cluster(&mut r, "logs");
    gc(&mut r, 3.0, 20.0, 0);
    drift(&mut r, "vm.dirty_ratio", "20");
    post(&r);
    // No cluster.
    post(&report("n1", "n1-now", &ago(s(20)), 60));
    let posted = OffsetDateTime::now_utc();

    let list = clusters_after(&c, posted);
    let labels: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, [evil, "logs", "orders", "(no cluster)"], "{list:#}");

    let (status, html) = c.get("/", None);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<h2>Clusters "), "{html}");
    assert!(
        html.find("id=\"clusters\"").unwrap() < html.find("id=\"fleet\"").unwrap(),
        "the clusters come above the host table"
    );
    // Cells: name, hosts, drifting, GC unhealthy, stale, GC ms/s this week,
    // last week, change, drifting reports this week, last week, filter.
    let o = cluster_cells(&html, "orders");
    assert_eq!(o[0], "orders");
    assert_eq!(o[1..5], ["3", "2", "1", "1"], "{o:?}");
    // Mean GC ms/s this week (4 + 22 + 6) / 3, last week 4: +167 %.
    assert_eq!(o[5..8], ["10.7", "4.0", "+167 %"], "{o:?}");
    assert_eq!(o[8..10], ["2 of 3", "1 of 1"], "{o:?}");
    assert!(html.contains(r#"<a href="/clusters/orders">orders</a>"#));
    let l = cluster_cells(&html, "logs");
    assert_eq!(l[1..5], ["1", "1", "0", "0"], "{l:?}");
    assert_eq!(l[5..10], ["3.0", "–", "–", "1 of 1", "0 of 0"], "{l:?}");
    let escaped = "&lt;b&gt;pay&lt;/b&gt;&amp;&quot;x&quot;";
    let p = cluster_cells(&html, escaped);
    assert_eq!(p[1..5], ["2", "0", "0", "0"], "{p:?}");
    assert!(
        !html.contains(evil) && !html.contains("<b>pay</b>"),
        "{html}"
    );
    let n = cluster_cells(&html, "(no cluster)");
    assert_eq!(n[0], "(no cluster)");
    assert_eq!(n[1..5], ["1", "0", "0", "0"], "{n:?}");
    assert!(html.contains("trend computed at"), "{html}");
    // The API says the same.
    let api = |label: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|x| x["label"] == label)
            .unwrap()
            .clone()
    };
    let oa = api("orders");
    assert_eq!(
        (
            &oa["hosts"],
            &oa["drifting"],
            &oa["gc_unhealthy"],
            &oa["stale"]
        ),
        (&json!(3), &json!(2), &json!(1), &json!(1))
    );
    assert_eq!(oa["trend"]["last_week"]["mean_gc_ms_per_second"], 4.0);

    // The filter: the page's table and the API, each cluster and none.
    let enc = collector_support::segment;
    for (value, want) in [
        ("orders", vec!["o1", "o2", "o3"]),
        (evil, vec!["p1", "p2"]),
        ("logs", vec!["l1"]),
        ("(no cluster)", vec!["n1"]),
    ] {
        let (status, html) = c.get(&format!("/?sort=host&cluster={}", enc(value)), None);
        assert_eq!(status, 200, "{value}: {html}");
        assert_eq!(row_hosts(&html), want, "{value}");
        assert!(
            html.contains(&format!(
                "{n} of {n} hosts matching (7 in the fleet)",
                n = want.len()
            )),
            "{value}: {html}"
        );
        // The row of the cluster shown offers the way back.
        assert!(html.contains(">all clusters</a>"), "{value}");
        let hosts = c.get_json(&format!("/api/v1/hosts?cluster={}", enc(value)));
        let names: Vec<&str> = hosts
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["hostname"].as_str().unwrap())
            .collect();
        assert_eq!(names, want, "{value}");
    }
    // Filters combine: stale hosts of orders; links keep the cluster.
    let (_, html) = c.get("/?state=stale&cluster=orders", None);
    assert_eq!(row_hosts(&html), ["o3"]);
    assert!(
        html.contains(r#"href="/?state=drifting&amp;cluster=orders""#),
        "{html}"
    );
    // The API's pages keep the cluster.
    let (status, body) = c.get("/api/v1/hosts?cluster=orders&limit=2", None);
    assert_eq!(status, 200, "{body}");
    let page: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(page.len(), 2);
    let r = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/api/v1/hosts?cluster=orders&limit=2", c.base))
        .send()
        .unwrap();
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("cluster=orders"), "{link}");
    let next = &link[1..link.find('>').unwrap()];
    let rest = c.get_json(next);
    assert_eq!(rest.as_array().unwrap().len(), 1, "{rest}");
    assert_eq!(rest[0]["hostname"], "o3");

    // A cluster no host names: 400 naming the parameter.
    let (status, body) = c.get("/?cluster=nowhere", None);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("“cluster”"), "{body}");
    let (status, body) = c.get("/api/v1/hosts?cluster=nowhere", None);
    assert_eq!(status, 400, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert!(e["error"].as_str().unwrap().starts_with("cluster:"), "{e}");
    // Empty: no filter.
    let (status, html) = c.get("/?cluster=", None);
    assert_eq!(status, 200);
    assert_eq!(row_hosts(&html).len(), 7);
}
