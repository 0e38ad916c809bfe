//! The cluster pages in a real browser: clusters whose names and values
//! carry markup, rendered by headless Chromium. Checks the DOM (no element
//! made from a name, the skew table, the host page's section) and saves
//! screenshots under `target/screenshots/`. Skips, saying why, when
//! Chromium is not installed (fails under CI=true).

use crate::browser_support;
use crate::ci_skip;
use crate::collector_support;

use std::path::Path;
use std::time::Duration;

use browser_support::{browse, chromium};
use collector_support::{Collector, ago, report, segment};
use serde_json::{Value, json};

const EVIL: &str = "<img src=x onerror=alert(1)>";
const SCRIPTED: &str = "<script>document.title='pwned'</script>";

fn post(c: &Collector, host: &str, cluster: &str, read_ahead: &str) {
    let mut r = report(
        host,
        &format!("{host}-1"),
        &ago(Duration::from_secs(20)),
        60,
    );
    r["cluster"] = json!({ "name": cluster, "from": "config" });
    let f = r["findings"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["key"] == "nvme0n1/queue/read_ahead_kb")
        .unwrap();
    f["actual"] = Value::from(read_ahead);
    assert_eq!(c.post(&r).0, 202);
}

#[test]
fn cluster_pages_render_in_chromium_with_names_escaped() {
    let Some(browser) = chromium() else {
        ci_skip::skip(
            "cluster_pages_render_in_chromium_with_names_escaped: chromium is not installed (apt-get install chromium)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    post(&c, "evil-1.kafka.prod", EVIL, "4096");
    post(&c, "evil-2.kafka.prod", EVIL, "4096");
    post(
        &c,
        "evil-3.kafka.prod",
        EVIL,
        "<img src=y onerror=alert(3)>",
    );
    post(&c, "scripted-1.kafka.prod", SCRIPTED, "4096");
    post(&c, "orders-1.kafka.prod", "orders", "8192");
    post(&c, "orders-2.kafka.prod", "orders", "8192");
    let profile = dir.path().join("chromium-profile");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let dump = |path: &str| {
        browse(
            &browser,
            &profile,
            &["--dump-dom".into(), format!("{}{path}", c.base)],
        )
    };
    let shot = |path: &str, file: &str| {
        browse(
            &browser,
            &profile,
            &[
                format!("--screenshot={}", shots.join(file).display()),
                "--window-size=1400,1000".into(),
                format!("{}{path}", c.base),
            ],
        );
    };

    let page = format!("/clusters/{}", segment(EVIL));
    let dom = dump(&page);
    assert!(!dom.contains("<img"), "markup became an element:\n{dom}");
    assert!(
        dom.contains("Cluster &lt;img src=x onerror=alert(1)&gt;"),
        "the name as text:\n{dom}"
    );
    assert!(dom.contains("id=\"skew\""), "the skew table:\n{dom}");
    assert!(
        dom.contains("&lt;img src=y onerror=alert(3)&gt;"),
        "a hostile value as text"
    );
    assert!(
        dom.contains(&format!("href=\"/hosts/{}\"", segment("evil-3.kafka.prod"))),
        "the minority host is linked"
    );
    assert_eq!(
        dom.matches("class=\"host\"").count(),
        3,
        "one row per host of the cluster"
    );
    shot(&page, "cluster.png");

    let dom = dump(&format!("/clusters/{}", segment(SCRIPTED)));
    assert!(
        !dom.contains("pwned</title>") && dom.contains("cluster · tunekeeper</title>"),
        "a script in a name ran:\n{dom}"
    );

    let dom = dump(&format!("/hosts/{}", segment("evil-3.kafka.prod")));
    assert!(
        dom.contains("Against its cluster") && !dom.contains("<img"),
        "{dom}"
    );
    assert!(dom.contains("id=\"cluster-skew\""));
    assert!(
        dom.contains(&format!("href=\"/clusters/{}\"", segment(EVIL))),
        "the host page links its cluster"
    );
    shot(
        &format!("/hosts/{}#cluster-skew", segment("evil-3.kafka.prod")),
        "host-cluster-skew.png",
    );

    let page = format!("/clusters/compare?a={}&b=orders", segment(EVIL));
    let dom = dump(&page);
    assert!(!dom.contains("<img"), "{dom}");
    assert!(
        dom.contains("id=\"compare\"") && dom.contains("8192"),
        "{dom}"
    );
    shot(&page, "cluster-compare.png");
}
