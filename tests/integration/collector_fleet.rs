//! The fleet page and `GET /api/v1/hosts` in pages, on both backends: the
//! states counted for the whole fleet, each state filter, the text filter,
//! sorting, pages forwards and back, bad parameters; then a fleet of
//! 10,000 hosts: every page answers with one page of rows and, in headless
//! Chromium, first paint, a sort and a filter work. Their speed is a
//! benchmark (`cargo bench --bench fleet_pages`), not a bound here.

use crate::browser_support;
use crate::ci_skip;
use crate::collector_support;

use std::path::Path;
use std::time::{Duration, Instant};

use collector_support::{Collector, ago, drift, gc, report};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tunekeeper::collector::storage::report::{Outcome, Submission};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .unwrap()
}

/// `GET path`: status, headers, body.
fn get(base: &str, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = client().get(format!("{base}{path}")).send().expect("GET");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().unwrap())
}

/// The host names of a fleet page's rows, in order (the test's names need
/// no percent-decoding).
fn row_hosts(html: &str) -> Vec<String> {
    html.split(r#"<td class="host"><a href="/hosts/"#)
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

/// The address of a fleet page's `rel` link, unescaped.
fn link(html: &str, rel: &str) -> Option<String> {
    let end = html.find(&format!(r#"" rel="{rel}""#))?;
    let start = html[..end].rfind(r#"href=""#)? + 6;
    Some(html[start..end].replace("&amp;", "&"))
}

fn name(h: &Value) -> String {
    h["hostname"].as_str().unwrap().to_owned()
}

fn unhealthy(h: &Value) -> bool {
    h["gc"]["health"] == "unhealthy"
}

/// The page's "problems first" rank, from the unpaged API's fields.
fn severity(h: &Value) -> u32 {
    u32::from(h["clock_skewed"] == true) * 8
        + u32::from(h["stale"] == true) * 4
        + u32::from(unhealthy(h)) * 2
        + u32::from(h["drift"].as_u64().unwrap() > 0)
}

fn in_future(d: Duration) -> String {
    (OffsetDateTime::now_utc() + d).format(&Rfc3339).unwrap()
}

/// 23 hosts in every state: stale (a report an hour old), clock ahead,
/// drifting (one or two keys), GC unhealthy, two profiles.
fn small_fleet(c: &Collector) {
    for i in 0..23u32 {
        let host = format!("b-{i:02}.kafka.prod");
        let time = if i % 7 == 3 {
            in_future(Duration::from_secs(1200))
        } else if i % 5 == 0 {
            ago(Duration::from_secs(3600))
        } else {
            ago(Duration::from_secs(20))
        };
        let mut r = report(&host, &format!("{host}-1"), &time, 60);
        if i % 3 == 0 {
            drift(&mut r, "vm.swappiness", "60");
        }
        if i % 6 == 1 {
            drift(&mut r, "vm.swappiness", "60");
            drift(&mut r, "vm.dirty_ratio", "20");
        }
        if i % 4 == 1 {
            gc(&mut r, 22.0, 120.0, 1);
        } else {
            gc(&mut r, 2.0 + f64::from(i) / 4.0, 20.0, 0);
        }
        if i % 6 == 2 {
            r["profile"] = "zookeeper".into();
        }
        assert_eq!(c.post(&r).0, 202);
    }
}

fn fleet_pages_filter_sort_and_page() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    small_fleet(&c);
    // The unpaged listing is the oracle: its states are decided in Rust,
    // the pages' in SQL.
    let all = c.get_json("/api/v1/hosts").as_array().unwrap().clone();
    assert_eq!(all.len(), 23, "without parameters, every host");
    let count = |f: &dyn Fn(&Value) -> bool| all.iter().filter(|h| f(h)).count();
    let stale = count(&|h| h["stale"] == true);
    let skewed = count(&|h| h["clock_skewed"] == true);
    let drifting = count(&|h| h["drift"].as_u64().unwrap() > 0);
    let sick = count(&unhealthy);
    let problems = count(&|h| severity(h) > 0);
    assert!(
        stale >= 2 && skewed >= 2 && drifting >= 2 && sick >= 2 && problems < all.len(),
        "every state is there: {stale} {skewed} {drifting} {sick} {problems}"
    );

    // The default page: the whole fleet's counts, problems first.
    let (status, headers, html) = get(&c.base, "/");
    assert_eq!(status, 200, "{html}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'none'"),
        "{csp}"
    );
    for (n, label) in [
        (all.len(), "hosts"),
        (problems, "with problems"),
        (drifting, "drifting"),
        (sick, "GC unhealthy"),
        (stale, "stale"),
        (skewed, "clock skewed"),
    ] {
        assert!(
            html.contains(&format!("<b>{n}</b> {label}")),
            "{n} {label}:\n{html}"
        );
    }
    let mut by_severity: Vec<&Value> = all.iter().collect();
    by_severity.sort_by(|a, b| severity(b).cmp(&severity(a)).then(name(a).cmp(&name(b))));
    let want: Vec<String> = by_severity.iter().map(|h| name(h)).collect();
    assert_eq!(row_hosts(&html), want, "problems first, then by name");
    assert!(html.contains("23 of 23 hosts"));
    assert!(link(&html, "next").is_none() && link(&html, "prev").is_none());

    // Each state holds exactly its hosts.
    type Pred = fn(&Value) -> bool;
    let states: [(&str, Pred); 6] = [
        ("stale", |h| h["stale"] == true),
        ("clock-skewed", |h| h["clock_skewed"] == true),
        ("drifting", |h| h["drift"].as_u64().unwrap() > 0),
        ("gc-unhealthy", unhealthy),
        ("problems", |h| severity(h) > 0),
        ("healthy", |h| severity(h) == 0),
    ];
    for (state, pred) in states {
        let (status, _, html) = get(&c.base, &format!("/?state={state}&sort=host"));
        assert_eq!(status, 200, "{html}");
        let mut want: Vec<String> = all.iter().filter(|h| pred(h)).map(name).collect();
        want.sort();
        assert_eq!(row_hosts(&html), want, "state {state}");
        assert!(
            html.contains(&format!(
                "{n} of {n} hosts matching (23 in the fleet)",
                n = want.len()
            )),
            "{state}"
        );
    }

    // The text filter, any case, on name and profile.
    let (_, _, html) = get(&c.base, "/?q=ZooKeeper&sort=host");
    let mut want: Vec<String> = all
        .iter()
        .filter(|h| h["profile"] == "zookeeper")
        .map(name)
        .collect();
    want.sort();
    assert_eq!(row_hosts(&html), want);
    assert!(
        html.contains(r#"value="ZooKeeper""#),
        "the filter is shown as typed"
    );
    let (_, _, html) = get(&c.base, "/?q=b-1&sort=host&dir=desc");
    let want: Vec<String> = (10..=19)
        .rev()
        .map(|i| format!("b-{i}.kafka.prod"))
        .collect();
    assert_eq!(row_hosts(&html), want);
    let (_, _, html) = get(&c.base, "/?q=%3Cnothing%3E");
    assert!(row_hosts(&html).is_empty() && html.contains("No host matches"));
    assert!(
        html.contains(r#"value="&lt;nothing&gt;""#) && !html.contains("<nothing>"),
        "the filter's text is escaped"
    );

    // Sorted by drift, five a page: Next walks the whole order, Previous walks back.
    let mut by_drift: Vec<&Value> = all.iter().collect();
    by_drift.sort_by(|a, b| {
        b["drift"]
            .as_u64()
            .cmp(&a["drift"].as_u64())
            .then(name(a).cmp(&name(b)))
    });
    let want: Vec<String> = by_drift.iter().map(|h| name(h)).collect();
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut path = "/?sort=drift&limit=5".to_owned();
    let mut last = String::new();
    for _ in 0..10 {
        let (status, _, html) = get(&c.base, &path);
        assert_eq!(status, 200, "{path}: {html}");
        pages.push(row_hosts(&html));
        last = html;
        match link(&last, "next") {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(pages.len(), 5, "23 hosts, 5 a page");
    assert_eq!(pages.concat(), want, "every host once, in order");
    let mut back: Vec<Vec<String>> = Vec::new();
    for _ in 0..10 {
        let Some(prev) = link(&last, "prev") else {
            break;
        };
        let (status, _, html) = get(&c.base, &prev);
        assert_eq!(status, 200);
        back.push(row_hosts(&html));
        last = html;
    }
    back.reverse();
    assert_eq!(back, pages[..4], "Previous gives the same pages back");

    // Ascending GC rate (no figure sorts lowest).
    let (_, _, html) = get(&c.base, "/?sort=gc-rate&dir=asc");
    let mut by_rate: Vec<&Value> = all.iter().collect();
    let rate = |h: &Value| h["gc"]["gc_ms_per_second"].as_f64().unwrap_or(-1.0);
    by_rate.sort_by(|a, b| rate(a).total_cmp(&rate(b)).then(name(a).cmp(&name(b))));
    let want: Vec<String> = by_rate.iter().map(|h| name(h)).collect();
    assert_eq!(row_hosts(&html), want);

    // The API in pages of 7, by host name: Link and X-Next-Cursor lead on.
    let mut names: Vec<String> = all.iter().map(name).collect();
    names.sort();
    let mut seen: Vec<String> = Vec::new();
    let mut path = "/api/v1/hosts?limit=7".to_owned();
    let mut pages = 0;
    loop {
        let (status, headers, body) = get(&c.base, &path);
        assert_eq!(status, 200, "{path}: {body}");
        let page: Vec<Value> = serde_json::from_str(&body).unwrap();
        assert!(page.len() <= 7);
        seen.extend(page.iter().map(name));
        pages += 1;
        let Some(cursor) = headers.get("x-next-cursor") else {
            assert!(headers.get("link").is_none());
            break;
        };
        let next = format!("/api/v1/hosts?limit=7&after={}", cursor.to_str().unwrap());
        assert_eq!(
            headers["link"].to_str().unwrap(),
            format!("<{next}>; rel=\"next\"")
        );
        path = next;
        assert!(pages < 10, "the listing ends");
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, names, "every host once, by name");
    // `after` alone: the default limit (100), so the rest at once.
    let (_, headers, body) = get(&c.base, "/api/v1/hosts?limit=20");
    let cursor = headers["x-next-cursor"].to_str().unwrap().to_owned();
    assert_eq!(serde_json::from_str::<Vec<Value>>(&body).unwrap().len(), 20);
    let rest: Vec<Value> =
        serde_json::from_str(&get(&c.base, &format!("/api/v1/hosts?after={cursor}")).2).unwrap();
    assert_eq!(rest.iter().map(name).collect::<Vec<_>>(), names[20..]);

    // Bad parameters: 400 naming the parameter.
    let drift_cursor = link(&get(&c.base, "/?sort=drift&limit=5").2, "next")
        .unwrap()
        .rsplit("after=")
        .next()
        .unwrap()
        .to_owned();
    for (path, param) in [
        ("/api/v1/hosts?limit=0".to_owned(), "limit"),
        ("/api/v1/hosts?limit=1001".to_owned(), "limit"),
        ("/api/v1/hosts?limit=ten".to_owned(), "limit"),
        ("/api/v1/hosts?after=zz".to_owned(), "after"),
        (format!("/api/v1/hosts?after={drift_cursor}"), "after"),
    ] {
        let (status, _, body) = get(&c.base, &path);
        assert_eq!(status, 400, "{path}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{param}:")),
            "{path}: {body}"
        );
    }
    for (path, param) in [
        ("/?sort=nope".to_owned(), "sort"),
        ("/?state=broken".to_owned(), "state"),
        ("/?dir=up".to_owned(), "dir"),
        ("/?limit=0".to_owned(), "limit"),
        ("/?after=zz".to_owned(), "after"),
        ("/?before=zz".to_owned(), "before"),
        (format!("/?sort=host&after={drift_cursor}"), "after"),
    ] {
        let (status, _, body) = get(&c.base, &path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(&format!("“{param}”")), "{path}: {body}");
    }
}

/// Hosts of the big fleet.
const FLEET: usize = 10_000;

/// 10,000 hosts' reports, validated as the collector validates a post:
/// in 99 clusters of about 100 (`kafka-00` to `kafka-98`; the host page
/// compares a host with its cluster) but every 100th in none; every 50th stale (nothing received for 2 h), every 97th with its clock ahead, every 20th with
/// unhealthy GC, every 10th drifting. The fixture with a dozen findings
/// (a few KB each), so filling the database takes seconds.
fn big_fleet(now_ms: i64) -> Vec<Submission> {
    let mut base = collector_support::fixture();
    base["findings"].as_array_mut().unwrap().truncate(12);
    (0..FLEET)
        .map(|i| {
            let host = format!("broker-{i:05}.dc{}.kafka.prod", i % 3);
            let time = if i % 97 == 5 {
                in_future(Duration::from_secs(1800))
            } else if i % 50 == 7 {
                ago(Duration::from_secs(7200))
            } else {
                ago(Duration::from_secs(30))
            };
            let mut r = base.clone();
            r["host"]["hostname"] = host.clone().into();
            r["id"] = format!("{host}-1").into();
            r["time"] = time.into();
            if i % 100 != 0 {
                r["cluster"] =
                    serde_json::json!({ "name": format!("kafka-{:02}", i % 99), "from": "config" });
            }
            if i % 10 == 2 {
                drift(&mut r, "vm.swappiness", "60");
            }
            if i % 20 == 1 {
                gc(&mut r, 25.0, 140.0, 1);
            } else {
                gc(&mut r, (i % 130) as f64 / 10.0, 20.0 + (i % 25) as f64, 0);
            }
            let mut s =
                tunekeeper::collector::http::ingest::validate(r.to_string().into_bytes(), now_ms)
                    .expect("a valid report");
            if i % 50 == 7 {
                // Stale: its last report arrived when it was made, 2 h ago
                // (received now, it would be a clock running behind).
                s.received_ms = s.time_ms;
            }
            s
        })
        .collect()
}

/// Stores `batch` in the database the collector of `dir` will use,
/// through the storage layer (posting 10,000 reports one by one would
/// measure ingest, not the page).
fn fill(dir: &Path, batch: &[Submission]) {
    use tunekeeper::collector::storage::{postgres as pg, sqlite::store};
    match collector_support::postgres() {
        None => {
            let mut w = store::open_writer(&dir.join("collector.db")).unwrap();
            for chunk in batch.chunks(1000) {
                for r in store::insert_batch(&mut w, chunk) {
                    assert_eq!(r.unwrap(), Outcome::Stored);
                }
            }
        }
        Some(server) => {
            let url = server.database(&collector_support::database_name(dir));
            let target = pg::target(&url, Some(collector_support::pg::PASSWORD)).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (db, writers) = pg::Pg::open(&target).await.unwrap();
                for chunk in batch.chunks(256) {
                    for r in db.insert_batch(chunk).await {
                        assert_eq!(r.unwrap(), Outcome::Stored);
                    }
                }
                drop(db);
                writers.join().await;
            });
        }
    }
}

/// What a page measured of its own load: first contentful paint, response
/// end and load event end (ms from the navigation's start), its rows and
/// the first host shown.
const METRICS: &str = r#"new Promise(done => {
  const painted = () => performance.getEntriesByName('first-contentful-paint').length > 0;
  const report = () => {
    const n = performance.getEntriesByType('navigation')[0];
    const p = performance.getEntriesByName('first-contentful-paint')[0];
    const first = document.querySelector('#fleet tbody td.host');
    done({visibility: document.visibilityState, fcp: p ? p.startTime : null,
          response: n.responseEnd, load: n.loadEventEnd,
          rows: document.querySelectorAll('#fleet tbody tr').length,
          first: first ? first.textContent : null});
  };
  // The paint entry can come after the load event: wait for it (5 s at most).
  if (painted()) { setTimeout(report, 50); return; }
  new PerformanceObserver((_, o) => { if (painted()) { o.disconnect(); setTimeout(report, 50); } })
    .observe({type: 'paint', buffered: true});
  setTimeout(report, 5000);
})"#;

fn ms(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("the page measured no {key}: {v}"))
}

/// The 10,000-host runs of the two backends take turns: side by side, two
/// fills and two browsers would crowd out the rest of the suite.
static ONE_BIG_FLEET_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn fleet_of_ten_thousand() {
    let _turn = ONE_BIG_FLEET_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    fill(
        dir.path(),
        &big_fleet(tunekeeper::collector::clock::now_ms()),
    );
    let backend = if collector_support::postgres().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "{backend}: {FLEET} hosts stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let c = Collector::start(dir.path(), &[]);
    let (_, _, html) = get(&c.base, "/");
    assert_eq!(row_hosts(&html).len(), 100, "one page of the default size");
    assert!(html.contains(&format!("<b>{FLEET}</b> hosts")));
    // The clusters section: 99 clusters and the hosts without one.
    assert_eq!(html.matches("data-cluster=").count(), 100, "{html}");
    let second = link(&html, "next").expect("a next page");
    let (_, _, one) = get(&c.base, "/?cluster=kafka-07&sort=host");
    let shown = row_hosts(&one);
    assert!(
        !shown.is_empty()
            && shown.iter().all(|h| {
                let i: usize = h["broker-".len()..h.find('.').unwrap()].parse().unwrap();
                i % 99 == 7 && i % 100 != 0
            }),
        "{shown:?}"
    );
    // Every page a fleet this big is browsed with answers, and a page is
    // a page: 100 hosts (or 100 rows of the API) at most, whatever the
    // fleet. How fast is a benchmark, not this test (a loaded machine's
    // figures are the machine's): `cargo bench --bench fleet_pages`.
    let paged = [
        ("/".to_owned(), 100),
        (second, 100),
        ("/?sort=host".to_owned(), 100),
        ("/?sort=gc-rate".to_owned(), 100),
        ("/?state=stale".to_owned(), 100),
        ("/?cluster=kafka-07".to_owned(), 100),
        ("/?cluster=(no%20cluster)".to_owned(), 100),
        // Every 100th host has no cluster, every 50th from the 7th is stale.
        ("/?cluster=(no%20cluster)&state=stale".to_owned(), 0),
    ];
    for (path, rows) in &paged {
        let (status, _, body) = get(&c.base, path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(row_hosts(&body).len(), *rows, "{path}");
    }
    let (status, _, body) = get(&c.base, "/?q=broker-0123");
    assert_eq!(
        (status, row_hosts(&body).len()),
        (200, 10),
        "broker-01230 to 01239"
    );
    for path in [
        "/api/v1/hosts?limit=100",
        "/api/v1/hosts?limit=100&cluster=kafka-42",
    ] {
        let (status, _, body) = get(&c.base, path);
        assert_eq!(status, 200, "{path}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v.as_array().map(Vec::len), Some(100), "{path}");
    }
    let (status, _, body) = get(&c.base, "/hosts/broker-04242.dc0.kafka.prod");
    assert_eq!(status, 200);
    assert!(
        body.contains("kafka-84"),
        "the host's cluster (4242 % 99 = 84)"
    );
    let (status, _, body) = get(&c.base, "/api/v1/clusters");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v.as_array().map(Vec::len),
        Some(100),
        "99 clusters and the hosts in none: {body:.400}"
    );

    // In the browser: first paint, a sort (a click on a column), a filter
    // (typing, then Enter).
    let Some(browser) = browser_support::chromium() else {
        ci_skip::skip(
            "fleet_of_ten_thousand (browser part): chromium is not installed (apt-get install chromium)",
        );
        return;
    };
    let mut b = browser_support::Cdp::start(&browser, dir.path());
    // The browser's first page (its renderer starting too), then the page
    // again as a running browser opens it.
    b.navigate(&format!("{}/", c.base));
    let cold = b.eval(METRICS);
    b.navigate(&format!("{}/?state=all", c.base));
    let first = b.eval(METRICS);
    assert_eq!(first["rows"], 100, "{first}");
    b.clear_events();
    b.eval(r#"document.querySelector('#fleet thead a[href="/?sort=host"]').click()"#);
    b.wait_event("Page.loadEventFired");
    let sorted = b.eval(METRICS);
    assert_eq!(sorted["first"], "broker-00000.dc0.kafka.prod", "{sorted}");
    b.clear_events();
    b.eval(
        r#"(() => { const f = document.getElementById('filter'); f.value = 'broker-0123';
           f.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); })()"#,
    );
    b.wait_event("Page.loadEventFired");
    let filtered = b.eval(METRICS);
    assert_eq!(filtered["rows"], 10, "broker-01230 to 01239: {filtered}");
    // What the browser measured, for people (not bounded: see above).
    for (what, m) in [
        ("a fresh browser's first page", &cold),
        ("first paint", &first),
        ("sort by host", &sorted),
        ("filter", &filtered),
    ] {
        println!(
            "{backend}: chromium {what}: first contentful paint {:.0} ms, response end {:.0} ms, load end {:.0} ms",
            ms(m, "fcp"),
            ms(m, "response"),
            ms(m, "load")
        );
    }
    drop(b);
    // A picture of the first page, for people.
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(format!("fleet-10k-{backend}.png"));
    browser_support::browse(
        &browser,
        &dir.path().join("shot-profile"),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000".into(),
            format!("{}/", c.base),
        ],
    );
    assert!(std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0) > 10_000);
}

on_both!(fleet_pages_filter_sort_and_page, fleet_of_ten_thousand);
