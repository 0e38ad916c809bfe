//! Audit reports as JUnit XML, the format Jenkins, GitLab and most CI
//! servers show test by test: one test case per check, drift as a failure,
//! unreadable as an error, not-applicable and waived as skipped. Built with an XML
//! writer that escapes every attribute and text, so no finding can break
//! the document.

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::audit::AuditReport;
use crate::finding::{Finding, Status};

/// One `<testsuites>` document with a `<testsuite>` per report (a host with
/// several roles has one report per profile).
pub fn render(reports: &[AuditReport]) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let count = |st: Status| -> usize {
        reports
            .iter()
            .flat_map(|r| &r.findings)
            .filter(|f| f.status == st)
            .count()
    };
    let total: usize = reports.iter().map(|r| r.findings.len()).sum();
    // Writing into a Vec cannot fail.
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .expect("write to memory");
    w.create_element("testsuites")
        .with_attribute(("name", "tunekeeper audit"))
        .with_attribute(("tests", total.to_string().as_str()))
        .with_attribute(("failures", count(Status::Drift).to_string().as_str()))
        .with_attribute(("errors", count(Status::Unreadable).to_string().as_str()))
        .with_attribute((
            "skipped",
            (count(Status::NotApplicable) + count(Status::Waived))
                .to_string()
                .as_str(),
        ))
        .write_inner_content(|w| {
            for r in reports {
                suite(w, r)?;
            }
            Ok::<(), std::io::Error>(())
        })
        .expect("write to memory");
    let mut out = String::from_utf8(w.into_inner()).expect("the writer writes UTF-8");
    out.push('\n');
    out
}

fn suite(w: &mut Writer<Vec<u8>>, r: &AuditReport) -> std::io::Result<()> {
    let host = if r.host.hostname.is_empty() {
        "this host"
    } else {
        &r.host.hostname
    };
    let s = &r.summary;
    w.create_element("testsuite")
        .with_attribute((
            "name",
            xml_safe(&format!("{} on {host}", r.profile)).as_ref(),
        ))
        .with_attribute(("tests", s.total.to_string().as_str()))
        .with_attribute(("failures", s.drift.to_string().as_str()))
        .with_attribute(("errors", s.unreadable.to_string().as_str()))
        .with_attribute((
            "skipped",
            (s.not_applicable + s.waived).to_string().as_str(),
        ))
        .write_inner_content(|w| {
            for f in &r.findings {
                case(w, f)?;
            }
            Ok::<(), std::io::Error>(())
        })?;
    Ok(())
}

fn case(w: &mut Writer<Vec<u8>>, f: &Finding) -> std::io::Result<()> {
    let el = w
        .create_element("testcase")
        .with_attribute(("classname", format!("tunekeeper.{}", f.check).as_str()))
        .with_attribute(("name", xml_safe(&f.key).as_ref()));
    let actual = f.actual.as_deref().unwrap_or("nothing read");
    let message = xml_safe(&format!("{actual}, expected {}", f.expected)).into_owned();
    // An expired waiver's note already carries the finding's own detail.
    let note = f
        .waiver
        .as_ref()
        .and_then(|_| crate::present::text::finding_note(f))
        .or_else(|| f.detail.clone());
    let body = [note.as_deref(), f.source.as_deref().map(|s| s.trim())]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\nwhy: ");
    let body = xml_safe(&body).into_owned();
    let (tag, kind) = match f.status {
        Status::Ok => {
            el.write_empty()?;
            return Ok(());
        }
        Status::Drift => ("failure", "drift"),
        Status::Unreadable => ("error", "unreadable"),
        Status::NotApplicable => ("skipped", "not-applicable"),
        Status::Waived => ("skipped", "waived"),
    };
    el.write_inner_content(|w| {
        if f.status == Status::Waived {
            let why = f.waiver.as_ref().map_or("", |w| w.justification.as_str());
            w.create_element(tag)
                .with_attribute(("message", xml_safe(&format!("waived: {why}")).as_ref()))
                .write_empty()?;
            return Ok::<(), std::io::Error>(());
        }
        if f.status == Status::NotApplicable {
            let why = xml_safe(f.detail.as_deref().unwrap_or("not applicable on this host"));
            w.create_element(tag)
                .with_attribute(("message", why.as_ref()))
                .write_empty()?;
            return Ok::<(), std::io::Error>(());
        }
        let inner = w
            .create_element(tag)
            .with_attribute(("message", message.as_str()))
            .with_attribute(("type", kind));
        if body.is_empty() {
            inner.write_empty()?;
        } else {
            inner.write_text_content(BytesText::new(&body))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// XML 1.0 cannot carry most control characters even escaped: a key or a
/// detail holding one (a path from a broker's configuration, say) would
/// make the whole document unreadable, so they become U+FFFD.
fn xml_safe(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    if s.chars().any(bad) {
        Cow::Owned(
            s.chars()
                .map(|c| if bad(c) { '\u{fffd}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Summary;

    #[test]
    fn every_status_maps_and_nothing_breaks_the_document() {
        let f = |key: &str, status: Status, detail: Option<&str>| Finding {
            check: "sysctl".into(),
            key: key.into(),
            expected: ">=1 <\"&'".into(),
            actual: Some("0".into()),
            status,
            source: Some("p: why".into()),
            detail: detail.map(str::to_string),
            waiver: None,
        };
        let findings = vec![
            f("ok.key", Status::Ok, None),
            f("<b>drift</b>&\u{1}", Status::Drift, Some("a ]]> b")),
            f("unreadable", Status::Unreadable, Some("permission denied")),
            f("na", Status::NotApplicable, Some("no such key")),
        ];
        let report = AuditReport {
            profile: "p".into(),
            profile_chain: vec![],
            chosen_because: None,
            host: Default::default(),
            summary: Summary::of(&findings),
            findings,
        };
        let xml = render(&[report]);
        // Well-formed: a reader walks it to the end without an error.
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut names = Vec::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => {
                    names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap())
                }
                _ => {}
            }
        }
        assert_eq!(
            names,
            [
                "testsuites",
                "testsuite",
                "testcase",
                "testcase",
                "failure",
                "testcase",
                "error",
                "testcase",
                "skipped"
            ]
        );
        assert!(
            xml.contains("&lt;b&gt;drift&lt;/b&gt;&amp;\u{fffd}"),
            "{xml}"
        );
        assert!(
            xml.contains(r#"tests="4" failures="1" errors="1" skipped="1""#),
            "{xml}"
        );
    }
}
