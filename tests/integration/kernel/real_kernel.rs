//! Apply and rollback against the real /proc/sys (these machines are
//! throwaway VMs where tests run as root). Every test restores what it changed.

use std::collections::BTreeMap;

use tunekeeper::apply::{self, Outcome};
use tunekeeper::audit::audit;
use tunekeeper::finding::Status;
use tunekeeper::host::Host;
use tunekeeper::profile::{Profile, ProfileStore};
use tunekeeper::sysctl_key::SysctlKey;

use crate::kernel_support::{
    apply_lock, is_root, kernel_guard, real_kernel_lock, stderr, stdout, tunekeeper,
};

fn read(key: &str) -> String {
    Host::default()
        .sysctl(&SysctlKey::parse(key).unwrap())
        .unwrap()
}

fn snapshot(p: &Profile) -> BTreeMap<String, String> {
    let host = Host::default();
    p.sysctl
        .keys()
        .filter_map(|k| host.sysctl(k).ok().map(|v| (k.to_string(), v)))
        .collect()
}

fn skip_unless_root(test: &str) -> bool {
    if !is_root() {
        crate::ci_skip::skip(&format!("{test}: needs root to write /proc/sys"));
        return true;
    }
    false
}

#[test]
fn apply_audit_rollback_restores_every_value_exactly() {
    if skip_unless_root("apply_audit_rollback_restores_every_value_exactly") {
        return;
    }
    let _lock = real_kernel_lock();
    let state = tempfile::tempdir().unwrap();
    let profile = ProfileStore::with_dirs(vec![])
        .load("kafka-broker")
        .unwrap();
    let before = snapshot(&profile);
    let persisted_before = std::fs::read_to_string(apply::PERSIST_FILE).ok();
    let keys: Vec<String> = before.keys().cloned().collect();
    let _restore = kernel_guard(&keys, &[std::path::Path::new(apply::PERSIST_FILE)]);

    // Start from a known drifted state, as on a fresh VM.
    Host::default()
        .set_sysctl(&SysctlKey::parse("vm.swappiness").unwrap(), "60")
        .unwrap();
    let drifted = snapshot(&profile);

    let state_arg = state.path().to_str().unwrap();
    let out = tunekeeper(&[
        "--profile-dir",
        "/nonexistent",
        "apply",
        "--state-dir",
        state_arg,
        "--persist",
    ]);
    assert!(
        out.status.success(),
        "apply failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(read("vm.swappiness"), "1");

    let report = audit(&profile, &Host::default());
    let sysctl_drift: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.check == "sysctl" && f.status == Status::Drift)
        .collect();
    assert!(
        sysctl_drift.is_empty(),
        "sysctl drift after apply: {sysctl_drift:#?}"
    );
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.check == "boot" && f.key == "vm.swappiness"),
        "the persisted file must win at boot: {:#?}",
        report.findings
    );

    let out = tunekeeper(&["rollback", "--state-dir", state_arg]);
    assert!(
        out.status.success(),
        "rollback failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        snapshot(&profile),
        drifted,
        "rollback restores every value exactly"
    );
    assert_eq!(
        std::fs::read_to_string(apply::PERSIST_FILE).ok(),
        persisted_before
    );

    // Leave the machine as we found it.
    let host = Host::default();
    for (k, v) in &before {
        host.set_sysctl(&SysctlKey::parse(k).unwrap(), v).unwrap();
    }
}

#[test]
fn a_value_the_kernel_rejects_rolls_back_earlier_writes() {
    if skip_unless_root("a_value_the_kernel_rejects_rolls_back_earlier_writes") {
        return;
    }
    let _lock = real_kernel_lock();
    let dir = tempfile::tempdir().unwrap();
    let profile_path = dir.path().join("bad.toml");
    // vm.dirty_ratio sorts before vm.swappiness, so it is written first;
    // swappiness accepts 0..=200, so 500 gets EINVAL.
    let dirty = read("vm.dirty_ratio");
    let _restore = kernel_guard(&["vm.dirty_ratio".into(), "vm.swappiness".into()], &[]);
    let target = if dirty == "61" { "62" } else { "61" };
    std::fs::write(
        &profile_path,
        format!("[sysctl]\n\"vm.dirty_ratio\" = \"{target}\"\n\"vm.swappiness\" = \"500\"\n"),
    )
    .unwrap();
    let swappiness = read("vm.swappiness");
    let state = dir.path().join("state");
    let out = tunekeeper(&[
        "apply",
        "--state-dir",
        state.to_str().unwrap(),
        "--profile",
        profile_path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["key"], "vm.dirty_ratio");
    assert_eq!(results[0]["outcome"], "rolled-back");
    assert_eq!(results[1]["outcome"], "failed");
    assert!(
        results[1]["error"]
            .as_str()
            .unwrap()
            .contains("rejected `500`"),
        "{v:#}"
    );
    assert_eq!(
        read("vm.dirty_ratio"),
        dirty,
        "the earlier write was undone"
    );
    assert_eq!(read("vm.swappiness"), swappiness);
    assert!(
        !state.join("rollback.json").exists(),
        "nothing left to roll back"
    );
}

#[test]
fn a_value_the_kernel_adjusts_is_reported_refused() {
    if skip_unless_root("a_value_the_kernel_adjusts_is_reported_refused") {
        return;
    }
    let _lock = real_kernel_lock();
    // fs.pipe-max-size rounds up to a power-of-two number of pages.
    let original = read("fs.pipe-max-size");
    let _restore = kernel_guard(&["fs.pipe-max-size".into()], &[]);
    let dir = tempfile::tempdir().unwrap();
    let profile_path = dir.path().join("pipe.toml");
    std::fs::write(
        &profile_path,
        "[sysctl]\n\"fs.pipe-max-size\" = \"1048577\"\n",
    )
    .unwrap();
    let p = ProfileStore::with_dirs(vec![])
        .load(profile_path.to_str().unwrap())
        .unwrap();
    let host = Host::default();
    let plan = apply::plan(&p, &host).unwrap();
    let report = apply::apply(
        &plan,
        &host,
        dir.path(),
        false,
        &apply_lock(&host, dir.path()),
    )
    .unwrap();
    assert_eq!(
        report.results[0].outcome,
        Outcome::Refused,
        "{:#?}",
        report.results
    );
    assert_eq!(report.results[0].after.as_deref(), Some("2097152"));
    assert_eq!(report.exit_code(), 1);
    apply::rollback(&host, dir.path(), &apply_lock(&host, dir.path())).unwrap();
    assert_eq!(read("fs.pipe-max-size"), original);
}

/// A real JVM whose main class is `kafka.Kafka`, started with a chosen
/// open-file limit; killed on drop.
struct FakeBroker {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl FakeBroker {
    fn start(nofile: u64) -> Option<FakeBroker> {
        let javac_ok = std::process::Command::new("javac")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !javac_ok {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("kafka")).unwrap();
        let src = dir.path().join("kafka/Kafka.java");
        std::fs::write(
            &src,
            "package kafka; public class Kafka { public static void main(String[] a) throws Exception { \
             System.out.println(\"up\"); Thread.sleep(120000); } }",
        )
        .unwrap();
        let st = std::process::Command::new("javac")
            .arg("-d")
            .arg(dir.path())
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success());
        let mut child = std::process::Command::new("prlimit")
            .arg(format!("--nofile={nofile}:{nofile}"))
            .args(["--", "java", "-Xmx32m", "-cp"])
            .arg(dir.path())
            .arg("kafka.Kafka")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the JVM runs main, so its command line is final.
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "up");
        Some(FakeBroker { child, _dir: dir })
    }
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_running_brokers_open_file_limit_is_checked() {
    let Some(broker) = FakeBroker::start(4096) else {
        crate::ci_skip::skip(
            "the_running_brokers_open_file_limit_is_checked: no JDK (javac) on this machine",
        );
        return;
    };
    let pid = broker.child.id();
    // The host as this broker alone runs on it: no other test's JVM.
    let view = crate::proc_view::ProcView::new(&[pid]);
    let host = Host::at(view.root());
    let profile = ProfileStore::with_dirs(vec![])
        .load("kafka-broker")
        .unwrap();
    let report = audit(&profile, &host);
    let f = report
        .findings
        .iter()
        .find(|f| f.check == "limits" && f.key == format!("nofile (pid {pid})"))
        .unwrap_or_else(|| panic!("broker pid {pid} not found: {:#?}", report.findings));
    assert_eq!(
        (f.status, f.actual.as_deref()),
        (Status::Drift, Some("4096"))
    );

    // The same broker against a lower bound (raising a hard limit may not be
    // permitted in a sandbox, so the ok case lowers the bar instead).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("low.toml");
    std::fs::write(&path, "[process]\nnofile = \">=2048\"\n").unwrap();
    let low = ProfileStore::with_dirs(vec![])
        .load(path.to_str().unwrap())
        .unwrap();
    let report = audit(&low, &host);
    let f = report
        .findings
        .iter()
        .find(|f| f.key == format!("nofile (pid {pid})"))
        .unwrap();
    assert_eq!((f.status, f.actual.as_deref()), (Status::Ok, Some("4096")));
    drop(broker);
}

const REAL_CLOCK: &str = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
const REAL_CLOCKS: &str = "/sys/devices/system/clocksource/clocksource0/available_clocksource";

fn knob_profile(text: &str) -> Profile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("real.toml");
    std::fs::write(&path, text).unwrap();
    ProfileStore::with_dirs(vec![])
        .load(path.to_str().unwrap())
        .unwrap()
}

#[test]
fn the_real_clock_source_and_governor_are_read_as_the_kernel_has_them() {
    let host = Host::default();
    let r = audit(
        &ProfileStore::with_dirs(vec![])
            .load("kafka-broker")
            .unwrap(),
        &host,
    );
    let get = |key: &str| {
        r.findings
            .iter()
            .find(|f| f.check == "sysfs" && f.key == key)
            .unwrap_or_else(|| panic!("no sysfs {key}: {:#?}", r.findings))
    };
    let clock = get("clocksource");
    match std::fs::read_to_string(REAL_CLOCK) {
        Ok(v) => {
            assert_eq!(clock.actual.as_deref(), Some(v.trim()));
            let want = if v.trim() == "tsc" {
                Status::Ok
            } else {
                Status::Drift
            };
            assert_eq!(clock.status, want, "{clock:#?}");
        }
        Err(_) => assert_eq!(clock.status, Status::NotApplicable),
    }
    // The governor: one value per CPU that has cpufreq; none here is "not applicable".
    let mut governors: Vec<String> = std::fs::read_dir("/sys/devices/system/cpu")
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.len() > 3 && n.starts_with("cpu") && n[3..].bytes().all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("cpufreq/scaling_governor")).ok())
        .map(|g| g.trim().to_string())
        .collect();
    governors.sort();
    governors.dedup();
    let gov = get("cpufreq_governor");
    if governors.is_empty() {
        assert_eq!(gov.status, Status::NotApplicable, "{gov:#?}");
    } else {
        let mut shown: Vec<String> = gov
            .actual
            .as_deref()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        shown.sort();
        assert_eq!(shown, governors);
    }
}

#[test]
fn the_real_clock_source_is_switched_and_restored() {
    if skip_unless_root("the_real_clock_source_is_switched_and_restored") {
        return;
    }
    let (Ok(current), Ok(offered)) = (
        std::fs::read_to_string(REAL_CLOCK),
        std::fs::read_to_string(REAL_CLOCKS),
    ) else {
        eprintln!("skipping: this kernel has no clock source files");
        return;
    };
    let current = current.trim().to_string();
    let Some(other) = offered
        .split_whitespace()
        .find(|c| *c != current && *c != "acpi_pm" && *c != "hpet")
        .map(str::to_string)
    else {
        eprintln!("skipping: the kernel offers no second fast clock source ({offered})");
        return;
    };
    let _lock = real_kernel_lock();
    // Put the original back however the test ends.
    struct Restore(String);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = Host::default().write_value(REAL_CLOCK, &self.0);
        }
    }
    let _restore = Restore(current.clone());
    let state = tempfile::tempdir().unwrap();
    let host = Host::default();
    let p = knob_profile(&format!("[sysfs]\nclocksource = \"{other}\"\n"));
    let plan = apply::plan(&p, &host).unwrap();
    assert_eq!(plan.steps.len(), 1, "{plan:#?}");
    let report = apply::apply(
        &plan,
        &host,
        state.path(),
        false,
        &apply_lock(&host, state.path()),
    )
    .unwrap();
    assert_eq!(report.results[0].outcome, Outcome::Applied, "{report:#?}");
    assert_eq!(std::fs::read_to_string(REAL_CLOCK).unwrap().trim(), other);
    let rb = apply::rollback(&host, state.path(), &apply_lock(&host, state.path())).unwrap();
    assert_eq!(rb.exit_code(), 0, "{rb:#?}");
    assert_eq!(std::fs::read_to_string(REAL_CLOCK).unwrap().trim(), current);
}

#[test]
fn a_misspelled_key_on_the_real_kernel_names_the_real_one() {
    let p = knob_profile(
        "[sysctl]\n\"vm.swapiness\" = \"1\"\n\"net.core.somaxcon\" = \">=4096\"\n\"vm.zone_reclaim_mod\" = \"0\"\n",
    );
    let r = audit(&p, &Host::default());
    for (typo, meant) in [
        ("vm.swapiness", "vm.swappiness"),
        ("net.core.somaxcon", "net.core.somaxconn"),
        ("vm.zone_reclaim_mod", "vm.zone_reclaim_mode"),
    ] {
        let f = r
            .findings
            .iter()
            .find(|f| f.key == typo)
            .unwrap_or_else(|| panic!("{:#?}", r.findings));
        assert_eq!(f.status, Status::NotApplicable);
        assert_eq!(
            f.detail.as_deref(),
            Some(format!("no such key on this kernel; did you mean {meant}?").as_str()),
        );
    }
}
