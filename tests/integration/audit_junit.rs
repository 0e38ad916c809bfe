//! `audit --format junit`: one test case per check, validated by xmllint
//! against the JUnit schema CI servers read (tests/fixtures/junit/junit.xsd),
//! with counts equal to the JSON summary's.

use crate::ci_skip;

use std::process::Command;

use crate::kernel_support as support;

use support::{FakeRoot, tunekeeper_at};

#[test]
fn junit_output_validates_and_counts_like_the_json() {
    if Command::new("xmllint").arg("--version").output().is_err() {
        ci_skip::skip("xmllint is not installed (apt-get install libxml2-utils)");
        return;
    }
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "60");
    root.sysctl("vm.dirty_ratio", "80");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[sysctl]\n\"vm.swappiness\" = { expect = \"1\", why = \"<swapping> & \\\"death\\\"\" }\n\
         \"vm.dirty_ratio\" = \">=60\"\n\"vm.swapiness\" = \"1\"\n",
    )
    .unwrap();
    let p = profile.to_str().unwrap();
    let xml = tunekeeper_at(&root, &["audit", "--profile", p, "--format", "junit"]);
    assert_eq!(
        xml.status.code(),
        Some(1),
        "drift exits 1 as with the table"
    );
    let file = dir.path().join("audit.xml");
    std::fs::write(&file, &xml.stdout).unwrap();
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/junit/junit.xsd"
    );
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema", schema])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&lint.stderr),
        String::from_utf8_lossy(&xml.stdout)
    );

    let json = tunekeeper_at(&root, &["audit", "--profile", p, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let text = String::from_utf8(xml.stdout).unwrap();
    let s = &v["summary"];
    let head = format!(
        r#"tests="{}" failures="{}" errors="{}" skipped="{}""#,
        s["total"], s["drift"], s["unreadable"], s["not_applicable"]
    );
    assert!(text.contains(&head), "{head} in {text}");
    assert_eq!(
        text.matches("<testcase ").count() as u64,
        s["total"].as_u64().unwrap()
    );
    assert!(
        text.contains("&lt;swapping&gt; &amp; &quot;death&quot;"),
        "{text}"
    );
    assert!(text.contains("did you mean vm.swappiness?"), "{text}");
}

/// A waived drift is a skipped case whose message is the justification; an
/// expired waiver's drift stays a failure that says it expired. Both
/// validate against the schema, and the counts follow the JSON summary.
#[test]
fn waived_findings_are_skipped_with_their_justification() {
    if Command::new("xmllint").arg("--version").output().is_err() {
        ci_skip::skip("xmllint is not installed (apt-get install libxml2-utils)");
        return;
    }
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "60");
    root.sysctl("vm.dirty_ratio", "80");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[sysctl]\n\"vm.swappiness\" = \"1\"\n\"vm.dirty_ratio\" = \"<=20\"\n",
    )
    .unwrap();
    let waivers = dir.path().join("w.toml");
    std::fs::write(
        &waivers,
        "[[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.swappiness\"\njustification = \"test broker <swap> & \\\"on purpose\\\"\"\n\n\
         [[waiver]]\ncheck = \"sysctl\"\nkey = \"vm.dirty_ratio\"\njustification = \"old disks\"\nexpires = 2020-01-31\n",
    )
    .unwrap();
    let (p, w) = (profile.to_str().unwrap(), waivers.to_str().unwrap());
    let xml = tunekeeper_at(
        &root,
        &["audit", "--profile", p, "--waivers", w, "--format", "junit"],
    );
    assert_eq!(
        xml.status.code(),
        Some(1),
        "the expired waiver's drift fails"
    );
    let file = dir.path().join("audit.xml");
    std::fs::write(&file, &xml.stdout).unwrap();
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/junit/junit.xsd"
    );
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema", schema])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8(xml.stdout).unwrap();
    assert!(
        lint.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&lint.stderr)
    );
    assert!(
        text.contains(
            r#"<skipped message="waived: test broker &lt;swap&gt; &amp; &quot;on purpose&quot;"/>"#
        ),
        "{text}"
    );
    assert!(
        text.contains("its waiver (") && text.contains("expired: it held until 2020-01-31"),
        "{text}"
    );
    let json = tunekeeper_at(
        &root,
        &["audit", "--profile", p, "--waivers", w, "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let s = &v["summary"];
    assert_eq!(
        (s["waived"].as_u64(), s["drift"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        text.contains(r#"tests="2" failures="1" errors="0" skipped="1""#),
        "{text}"
    );
}
