//! `tunekeeper gc --format html` in a real browser: the report of a JDK 21,
//! a JDK 8 (and one with 100 full GCs) and a time-less log (and one with
//! hostile text) rendered by headless Chromium. Checks that the charts drew
//! every series and point of the JSON output of the same log, that the
//! tables hold its counts, that no section is folded away, that the file
//! needs nothing from the network, and saves screenshots as
//! `target/screenshots/gc-*.png`. The browser part skips, saying why, when
//! Chromium is not installed. Also: the progress bar on a terminal.

use crate::ci_skip;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::browser_support;
use browser_support::{browse, chromium, on_path};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc")
        .join(rel)
}

fn tunekeeper(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(args)
        .output()
        .expect("run tunekeeper")
}

fn ok(out: &Output) {
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON and the HTML report of the same log.
fn reports(log: &Path, html: &Path) -> (Value, String) {
    let out = tunekeeper(&[
        Path::new("gc"),
        Path::new("--format"),
        Path::new("json"),
        log,
    ]);
    ok(&out);
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    let out = tunekeeper(&[
        Path::new("gc"),
        Path::new("--format"),
        Path::new("html"),
        Path::new("-o"),
        html,
        log,
    ]);
    ok(&out);
    (json, std::fs::read_to_string(html).expect("html written"))
}

/// Nothing in the file may load from anywhere: no scripts, stylesheets,
/// fonts or images by URL, no links out. The SVG namespace is a name, not
/// a fetch. (Escaped log text may say `src=`: only markup counts.)
fn assert_self_contained(html: &str) {
    let without_ns = html.replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
    for bad in ["http://", "https://", "<script", "<link", "@import", "url("] {
        assert!(!without_ns.contains(bad), "{bad} in the report");
    }
    let attr = regex::Regex::new(r"<[^>]*\s(src|href|xlink:href)\s*=").unwrap();
    assert!(
        attr.find(html).is_none(),
        "a URL attribute in the report: {:?}",
        attr.find(html).map(|m| m.as_str())
    );
}

/// The text of the first element after `marker` that starts with `open`.
fn cell_after<'a>(dom: &'a str, marker: &str, open: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} missing"));
    let rest = &dom[at..];
    let start = rest
        .find(open)
        .unwrap_or_else(|| panic!("{open} after {marker}"))
        + open.len();
    let end = rest[start..].find('<').unwrap() + start;
    &rest[start..end]
}

fn count(text: &str) -> u64 {
    text.replace(',', "").parse().expect("a count")
}

/// The rendered page shows what the JSON says.
fn assert_matches_json(dom: &str, json: &Value, timed: bool) {
    let kinds = [
        "young",
        "concurrent_start",
        "prepare_mixed",
        "mixed",
        "remark",
        "cleanup",
        "full",
    ];
    // The pause table: every kind, with the JSON's count.
    for kind in kinds {
        let want = json["pauses"][kind]["count"].as_u64().unwrap();
        let got = count(cell_after(
            dom,
            &format!(r#"data-kind="{kind}""#),
            r#"<td class="n count">"#,
        ));
        assert_eq!(got, want, "pause count of {kind}");
    }
    let overall = count(cell_after(
        dom,
        r#"data-kind="overall""#,
        r#"<td class="n count">"#,
    ));
    assert_eq!(overall, json["overall"]["count"].as_u64().unwrap());

    // The pause timeline: one dot series per kind that occurred, with the
    // JSON's points of that kind.
    let timeline = json["pause_timeline"].as_array().expect("pause_timeline");
    assert!(!timeline.is_empty());
    let chart_start = dom.find(r#"id="pause-chart""#).expect("pause chart");
    let chart = &dom[chart_start..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    let mut series = 0;
    for kind in kinds {
        let n = timeline.iter().filter(|p| p["kind"] == kind).count();
        let occurred = json["pauses"][kind]["count"].as_u64().unwrap() > 0;
        let tag = format!(r#"<g data-series="{kind}" data-points="{n}">"#);
        assert_eq!(chart.contains(&tag), occurred, "{tag}");
        series += usize::from(occurred);
    }
    assert_eq!(chart.matches("<g data-series=").count(), series);
    assert_eq!(
        chart.matches("<circle").count(),
        timeline.len() + series,
        "a dot per point plus one per legend entry"
    );

    // The heap chart, when the log has time.
    let heap = json["heap_after_gc"].as_array().unwrap().len();
    assert_eq!(dom.contains(r#"id="heap-chart""#), timed);
    if timed {
        assert!(dom.contains(&format!(
            r#"<g data-series="used after GC" data-points="{heap}">"#
        )));
        assert_eq!(dom.matches(r#"<svg class="chart""#).count(), 2);
    } else {
        assert_eq!(dom.matches(r#"<svg class="chart""#).count(), 1);
        assert!(dom.contains("Not computable from this log"));
        assert!(dom.contains("n/a (no time in the log)"));
        assert!(dom.contains("pause number"));
    }

    // Full GCs, one row each (some folded away), and the files read.
    let full = json["full_gcs"].as_array().unwrap();
    assert_eq!(dom.matches(r#"<tr class="fgc">"#).count(), full.len());
    for (i, f) in json["files"].as_array().unwrap().iter().enumerate() {
        let lines = f["lines"].as_u64().unwrap();
        assert!(
            dom.contains(&format!(r#"<td class="n">{}</td>"#, group(lines))),
            "files[{i}] lines"
        );
    }
    for f in json["findings"].as_array().unwrap() {
        assert!(dom.contains(f["key"].as_str().unwrap()), "finding {f}");
    }
    assert_sections_in_view(dom);
}

/// No section is folded away: every heading stands outside any
/// `<details>` (only the overflow of long lists goes there). A fold left
/// open in the markup takes everything after it in, as the browser builds it.
fn assert_sections_in_view(dom: &str) {
    for (at, _) in dom.match_indices("<h2") {
        let before = &dom[..at];
        let opened = before.matches("<details").count();
        let closed = before.matches("</details>").count();
        let heading = &dom[at..dom[at..].find("</h2>").map_or(dom.len(), |e| at + e)];
        assert_eq!(opened, closed, "folded away: {heading}");
    }
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A JDK 17 log (no decorators) whose full GC gives `cause` as its cause.
fn with_cause(cause: &str) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(fixture("truth/jdk17/deco-none.log.gz")).unwrap(),
        ),
        &mut text,
    )
    .unwrap();
    text.replace("System.gc()", cause)
}

#[test]
fn gc_reports_render_in_chromium() {
    let Some(browser) = chromium() else {
        ci_skip::skip(
            "gc_reports_render_in_chromium: chromium is not installed (apt-get install chromium)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("chromium-profile");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // A log whose full GC names markup as its cause, in a file named with markup.
    let hostile = dir.path().join("gc-<i>x<b>.log");
    std::fs::write(&hostile, with_cause("<img src=x onerror=alert(1)>")).unwrap();

    let cases = [
        ("jdk21", fixture("truth/jdk21/with-safepoints.log.gz"), true),
        ("jdk8", fixture("jdk8/real/g1.details.cause.log"), true),
        // 100 full GCs: the list folds after 20.
        (
            "many-full-gcs",
            fixture("jdk8/real/gc_with_overflow.log"),
            true,
        ),
        ("no-time", fixture("truth/jdk17/deco-none.log.gz"), false),
        ("hostile", hostile, false),
    ];
    for (name, log, timed) in cases {
        let html_path = dir.path().join(format!("gc-{name}.html"));
        let (json, html) = reports(&log, &html_path);
        assert_self_contained(&html);
        let url = format!("file://{}", html_path.display());
        let dom = browse(&browser, &profile, &["--dump-dom".into(), url.clone()]);
        assert!(dom.contains("<h1>GC report</h1>"), "{name}: rendered");
        assert_matches_json(&dom, &json, timed);
        if name == "hostile" {
            assert!(!dom.contains("<img") && !dom.contains("<i>x"), "{dom}");
            assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"));
            assert!(dom.contains("gc-&lt;i&gt;x&lt;b&gt;.log"));
            continue;
        }
        let shot = shots.join(format!("gc-{name}.png"));
        browse(
            &browser,
            &profile,
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1400,1800".into(),
                url,
            ],
        );
        let len = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(
            len > 10_000,
            "screenshot {} missing or empty",
            shot.display()
        );
    }
    println!("screenshots in {}", shots.display());
}

/// Markup in everything a log can bring (a GC cause, a line the parser
/// does not know, the file's name with quotes and `&`) reaches the file as
/// text, whatever the browser: checked on the bytes written, no Chromium.
#[test]
fn log_text_is_escaped_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gc-\"q'&<s>.log");
    let mut text = with_cause("\"><script>alert(1)</script>");
    text.push_str("<script>alert('line')</script> & \"x\"\n");
    std::fs::write(&log, text).unwrap();
    let html_path = dir.path().join("hostile.html");
    let out = tunekeeper(&[
        Path::new("gc"),
        Path::new("--format"),
        Path::new("html"),
        Path::new("-o"),
        &html_path,
        &log,
    ]);
    ok(&out);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_self_contained(&html);
    assert!(!html.contains("<script") && !html.contains("<s>"), "{html}");
    // The full GC's cause, in the full-GC table.
    assert!(
        html.contains("<td>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>"),
        "{html}"
    );
    // The line not understood, among the examples.
    assert!(html.contains("&lt;script&gt;alert('line')&lt;/script&gt; &amp; &quot;x&quot;"));
    // The file's name: in the title, the header and the files table.
    let name = "gc-&quot;q'&amp;&lt;s&gt;.log";
    assert!(html.contains(&format!("<title>GC report · {}", dir.path().display())));
    assert_eq!(html.matches(name).count(), 3, "{html}");
}

/// More than the 50 MB a bar waits for: one log repeated.
fn big_log(dir: &Path) -> PathBuf {
    let mut one = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(fixture("truth/jdk21/with-safepoints.log.gz")).unwrap(),
        ),
        &mut one,
    )
    .unwrap();
    let path = dir.join("big.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut written = 0;
    while written < 55 * 1024 * 1024 {
        std::io::Write::write_all(&mut f, &one).unwrap();
        written += one.len();
    }
    std::io::Write::flush(&mut f).unwrap();
    path
}

#[test]
fn progress_bar_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let log = big_log(dir.path());
    // Not a terminal: nothing on stderr.
    let out = tunekeeper(&[
        Path::new("gc"),
        Path::new("--format"),
        Path::new("json"),
        &log,
    ]);
    ok(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A terminal, through script(1): a bar that is erased at the end.
    let Some(script) = on_path("script") else {
        println!("skipping the terminal half: script(1) is not installed");
        return;
    };
    let html = dir.path().join("big.html");
    let typescript = dir.path().join("typescript");
    let cmd = format!(
        "{} gc --format html -o {} {}",
        env!("CARGO_BIN_EXE_tunekeeper"),
        html.display(),
        log.display()
    );
    let status = Command::new(script)
        .arg("-qfec")
        .arg(&cmd)
        .arg(&typescript)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run script");
    // 1 is a finished report with drift (the default profile's levels).
    assert!(matches!(status.code(), Some(0 | 1)), "{cmd}: {status:?}");
    let seen = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(seen.contains("reading GC logs ["), "{seen}");
    assert!(seen.contains(" MB"), "{seen}");
    // The last bar drawn is erased (`\r` and erase-line) before the end.
    let last = seen.rfind("reading GC logs [").unwrap();
    assert!(seen[last..].contains("\x1b[K\r\x1b[K"), "{seen:?}");
    assert!(html.metadata().unwrap().len() > 10_000);
}
