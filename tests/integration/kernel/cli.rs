//! The binary's contract: exit codes, JSON, and a clear error for every bad input.

use crate::kernel_support::{
    FakeRoot, is_root, real_kernel_lock, stderr, stdout, tunekeeper, tunekeeper_at,
};

fn drifting_root() -> FakeRoot {
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "60");
    root
}

fn write_profile(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.toml");
    std::fs::write(&path, text).unwrap();
    let s = path.to_str().unwrap().to_string();
    (dir, s)
}

#[test]
fn audit_reports_swappiness_drift_and_exits_1() {
    let root = drifting_root();
    let out = tunekeeper_at(&root, &["audit"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains("vm.swappiness")).unwrap();
    assert!(
        line.contains(" 1 ") && line.contains("60") && line.ends_with("drift"),
        "{line}"
    );
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );

    let out = tunekeeper_at(&root, &["audit", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["profile"], "kafka-broker");
    assert_eq!(v["host"]["hostname"], "fake-broker-1");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "vm.swappiness" && f["check"] == "sysctl")
        .unwrap();
    assert_eq!(
        (
            f["expected"].as_str(),
            f["actual"].as_str(),
            f["status"].as_str()
        ),
        (Some("1"), Some("60"), Some("drift"))
    );
    assert!(f["source"].as_str().unwrap().contains("swapping is death"));
    assert!(v["summary"]["drift"].as_u64().unwrap() >= 1);
}

#[test]
fn audit_without_drift_exits_0() {
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "1");
    root.sysctl("vm.dirty_background_ratio", "5");
    let (_d, profile) = write_profile(
        "include = [\"base\"]\ndrop = [\"thp:enabled\", \"thp:defrag\", \"process:nofile\"]\n\
         [sysctl]\n\"vm.dirty_background_ratio\" = \"5\"\n",
    );
    let out = tunekeeper_at(&root, &["audit", "--profile", &profile]);
    // Keys missing from the tree are not-applicable, which is not drift.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("0 drift"));
}

#[test]
fn profiles_list_and_show_with_sources() {
    let out = tunekeeper(&["--profile-dir", "/nonexistent", "profiles", "list"]);
    assert!(out.status.success());
    for name in ["base", "kafka-broker", "kraft-controller", "zookeeper"] {
        assert!(stdout(&out).contains(name), "{name} missing from the list");
    }
    let out = tunekeeper(&[
        "--profile-dir",
        "/nonexistent",
        "profiles",
        "show",
        "kafka-broker",
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["chain"], serde_json::json!(["base", "kafka-broker"]));
    let settings = v["settings"].as_array().unwrap();
    let swap = settings
        .iter()
        .find(|s| s["key"] == "vm.swappiness")
        .unwrap();
    assert_eq!(
        swap["from"], "base",
        "inherited settings name the profile that set them"
    );
    let dirty = settings
        .iter()
        .find(|s| s["key"] == "vm.dirty_ratio")
        .unwrap();
    assert_eq!(dirty["from"], "kafka-broker");
    assert!(
        settings.iter().all(|s| s["why"].is_string()),
        "every shipped value has a source"
    );
}

#[test]
fn a_profile_directory_overrides_the_embedded_profile() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kafka-broker.toml"),
        "description = \"site override\"\ninclude = [\"base\"]\n[sysctl]\n\"vm.swappiness\" = \"10\"\n",
    )
    .unwrap();
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "10");
    let out = tunekeeper(&[
        "--root",
        root.root().to_str().unwrap(),
        "--profile-dir",
        dir.path().to_str().unwrap(),
        "audit",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "vm.swappiness")
        .unwrap();
    assert_eq!(
        (f["expected"].as_str(), f["status"].as_str()),
        (Some("10"), Some("ok"))
    );
}

/// Every bad input: exit 2, a message naming the file/key, nothing written.
#[test]
fn bad_input_exits_2_with_a_clear_message_and_writes_nothing() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[sysctl\n\"vm.swappiness\" = \"1\"\n",
            &["custom.toml", "line 1"],
        ),
        (
            "[sysctls]\n\"vm.swappiness\" = \"1\"\n",
            &["custom.toml", "unknown field `sysctls`"],
        ),
        (
            "[sysctl]\n\"vm.swappiness\" = \">=lots\"\n",
            &["custom.toml:2", "vm.swappiness", "needs an integer"],
        ),
        (
            "[sysctl]\n\"vm/../../etc/passwd\" = \"1\"\n",
            &["custom.toml:2", "leave /proc/sys"],
        ),
        (
            "[sysctl]\n\"/proc/sys/vm/swappiness\" = \"1\"\n",
            &["custom.toml:2", "absolute path"],
        ),
        (
            "[sysctl]\n\"vm..swappiness\" = \"1\"\n",
            &["custom.toml:2", "empty part"],
        ),
        ("[sysctl]\n\"swappiness\" = \"1\"\n", &["not a sysctl name"]),
        (
            "[thp]\nenable = \"never\"\n",
            &["custom.toml:2", "unknown THP setting"],
        ),
        ("[gc]\npause_p99 = \"<=50\"\n", &["unknown GC metric"]),
        (
            "[sysctl]\n\"vm.swappiness\" = { expect = \"1\", whyy = \"x\" }\n",
            &["custom.toml", "line 2", "unknown field `whyy`"],
        ),
        (
            "[sysctl]\n\"vm.swappiness\" = [1, 2]\n",
            &["custom.toml", "line 2", "an expectation"],
        ),
        (
            "include = [\"no-such-profile\"]\n",
            &["no profile named `no-such-profile`"],
        ),
        (
            "include = [\"base\"]\ndrop = [\"sysctl:vm.nothing\"]\n",
            &["custom.toml:2", "no included profile sets"],
        ),
    ];
    for (text, needles) in cases {
        let root = drifting_root();
        let (_d, profile) = write_profile(text);
        for cmd in [
            &["audit", "--profile", &profile][..],
            &["apply", "--profile", &profile][..],
        ] {
            let out = tunekeeper_at(&root, cmd);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd:?} on {text:?}: {err}");
            for n in *needles {
                assert!(err.contains(n), "message for {text:?} lacks {n:?}: {err}");
            }
            assert_eq!(
                root.read("/proc/sys/vm/swappiness").trim(),
                "60",
                "nothing written"
            );
            assert!(!root.path("/var/lib/tunekeeper/rollback.json").exists());
        }
    }
    let out = tunekeeper_at(&drifting_root(), &["audit", "--profile", "no-such-profile"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("kafka-broker"),
        "the message lists the known profiles"
    );
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let root = drifting_root();
    let out = tunekeeper_at(&root, &["apply", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("vm.swappiness"))
        .unwrap();
    assert!(
        line.contains("60") && line.contains("swapping is death"),
        "{line}"
    );
    assert!(text.contains("nothing was changed"));
    assert_eq!(root.read("/proc/sys/vm/swappiness").trim(), "60");
    assert!(!root.path("/var/lib/tunekeeper").exists());
}

#[test]
fn unprivileged_audit_reports_unreadable_and_apply_refuses() {
    if !is_root() {
        crate::ci_skip::skip("needs root to switch to an unprivileged user");
        return;
    }
    let _lock = real_kernel_lock();
    let (_d, profile) = write_profile(
        "[sysctl]\n\"vm.mmap_rnd_bits\" = \">=28\"\n\"vm.swappiness\" = \"0|1|2|3|4|5|6|7|8|9|10|30|60\"\n",
    );
    std::fs::set_permissions(
        std::path::Path::new(&profile).parent().unwrap(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // The audit sees the real kernel and no process: a broker running beside
    // (another test's, a developer's) would add findings, drift among them.
    let view = crate::proc_view::ProcView::new(&[]);
    let as_nobody = |root: Option<&std::path::Path>, args: &[&str]| {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_tunekeeper"),
        ]);
        if let Some(root) = root {
            cmd.env("TUNEKEEPER_ROOT", root);
        }
        cmd.args(args).env("NO_COLOR", "1").output().unwrap()
    };
    let out = as_nobody(
        Some(view.root()),
        &["audit", "--profile", &profile, "--format", "json"],
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "vm.mmap_rnd_bits")
        .unwrap();
    assert_eq!(
        f["status"], "unreadable",
        "a 0600 key is unreadable, not drift"
    );
    assert_eq!(out.status.code(), Some(0), "unreadable is not drift");

    let swappiness = std::fs::read_to_string("/proc/sys/vm/swappiness").unwrap();
    // apply on the live host itself: refused before it reads anything.
    let out = as_nobody(None, &["apply", "--profile", "kafka-broker"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("only root"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/vm/swappiness").unwrap(),
        swappiness
    );
}

#[test]
fn the_agent_with_enforce_reapplies_drifted_keys() {
    let root = drifting_root();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!(
            "enforce = true\nspool_dir = \"{}\"\nstate_dir = \"/var/lib/tunekeeper\"\n",
            dir.path().join("spool").display()
        ),
    )
    .unwrap();
    let out = tunekeeper_at(
        &root,
        &["agent", "--once", "--config", cfg.to_str().unwrap()],
    );
    // No endpoint: the report waits in the spool (exit 1).
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        root.read("/proc/sys/vm/swappiness").trim(),
        "1",
        "drift corrected"
    );
    assert!(
        root.path("/var/lib/tunekeeper/rollback.json").exists(),
        "and journaled for rollback"
    );
    let spooled = std::fs::read_dir(dir.path().join("spool"))
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    let mut json = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(spooled.path()).unwrap()),
        &mut json,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "vm.swappiness")
        .unwrap();
    assert_eq!(f["status"], "ok", "the report shows the corrected state");
}

/// `apply --profile A --profile B`: one plan, one journal naming both; the
/// key they agree on gets the value both accept, the key they conflict on
/// is left as it is, said on stderr at error and in the table, exit 1.
#[test]
fn apply_with_two_profiles_merges_them_and_leaves_a_conflict_alone() {
    let root = drifting_root();
    root.sysctl("vm.dirty_background_ratio", "20");
    root.sysctl("vm.dirty_writeback_centisecs", "500");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let broker = write(
        "broker.toml",
        "[sysctl]\n\"vm.swappiness\" = \"1\"\n\"vm.dirty_background_ratio\" = \"5\"\n\
         \"vm.dirty_writeback_centisecs\" = \"600\"\n",
    );
    let zk = write(
        "zk.toml",
        "[sysctl]\n\"vm.dirty_background_ratio\" = \"<=10\"\n\
         \"vm.dirty_writeback_centisecs\" = \"700\"\n",
    );
    let out = tunekeeper_at(&root, &["apply", "--profile", &broker, "--profile", &zk]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(root.read("/proc/sys/vm/swappiness").trim(), "1");
    assert_eq!(root.read("/proc/sys/vm/dirty_background_ratio").trim(), "5");
    assert_eq!(
        root.read("/proc/sys/vm/dirty_writeback_centisecs").trim(),
        "500",
        "the conflicting key is not written"
    );
    let err = stderr(&out);
    assert!(
        err.contains("ERROR")
            && err.contains("vm.dirty_writeback_centisecs")
            && err.contains("broker expects 600")
            && err.contains("zk expects 700"),
        "{err}"
    );
    assert!(
        stdout(&out).contains("not changed, conflict: vm.dirty_writeback_centisecs"),
        "{}",
        stdout(&out)
    );
    let journal = root.read("/var/lib/tunekeeper/rollback.json");
    assert!(journal.contains("\"profile\": \"broker+zk\""), "{journal}");
}
