//! The `[sysfs]` knobs (clock source, CPU frequency governor), the kernel
//! rows issue 11 asks for, "did you mean" for misspelled sysctl keys, and the
//! shipped profiles' sources — on prepared host trees, through the library.

use std::path::Path;

use tunekeeper::apply::{self, Outcome};
use tunekeeper::audit::{AuditReport, audit};
use tunekeeper::finding::{Finding, Status};
use tunekeeper::host::Host;
use tunekeeper::profile::{EMBEDDED, Profile, ProfileError, ProfileStore};

use crate::kernel_support::{FakeRoot, apply_lock, stderr, tunekeeper};

const CLOCK: &str = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
const CLOCKS: &str = "/sys/devices/system/clocksource/clocksource0/available_clocksource";

fn load(text: &str) -> Result<Profile, ProfileError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, text).unwrap();
    ProfileStore::with_dirs(vec![]).load(path.to_str().unwrap())
}

fn profile_from(text: &str) -> Profile {
    load(text).unwrap()
}

fn find<'a>(r: &'a AuditReport, check: &str, key: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.check == check && f.key == key)
        .unwrap_or_else(|| panic!("no {check} finding for {key} in {:#?}", r.findings))
}

/// A CPU directory with a cpufreq governor and the governors its driver offers.
fn cpu(root: &FakeRoot, n: u32, governor: &str) {
    let dir = format!("/sys/devices/system/cpu/cpu{n}/cpufreq");
    root.write(&format!("{dir}/scaling_governor"), &format!("{governor}\n"));
    root.write(
        &format!("{dir}/scaling_available_governors"),
        "performance powersave\n",
    );
}

#[test]
fn a_xen_clock_source_is_drift_and_apply_switches_to_tsc_then_rolls_back() {
    let root = FakeRoot::new();
    root.write(CLOCK, "xen\n");
    root.write(CLOCKS, "xen tsc hpet acpi_pm \n");
    let host = Host::at(root.root());
    let p = profile_from("[sysfs]\nclocksource = { expect = \"tsc\", why = \"the vDSO\" }\n");

    let r = audit(&p, &host);
    let f = find(&r, "sysfs", "clocksource");
    assert_eq!(
        (f.status, f.actual.as_deref(), f.expected.as_str()),
        (Status::Drift, Some("xen"), "tsc")
    );
    let detail = f.detail.as_deref().unwrap();
    assert!(
        detail.contains("offers: xen tsc hpet acpi_pm"),
        "what the kernel offers is shown: {detail}"
    );
    assert_eq!(f.source.as_deref(), Some("t: the vDSO"));

    let state = Path::new("/var/lib/tunekeeper");
    let plan = apply::plan(&p, &host).unwrap();
    let steps: Vec<(&str, &str, &str)> = plan
        .steps
        .iter()
        .map(|s| (s.key.as_str(), s.current.as_str(), s.desired.as_str()))
        .collect();
    assert_eq!(steps, [("sysfs/clocksource", "xen", "tsc")]);
    let report = apply::apply(&plan, &host, state, false, &apply_lock(&host, state)).unwrap();
    assert_eq!(report.results[0].outcome, Outcome::Applied);
    assert_eq!(root.read(CLOCK).trim(), "tsc");
    assert_eq!(
        find(&audit(&p, &host), "sysfs", "clocksource").status,
        Status::Ok
    );
    let journal = apply::load_journal(&host, state).unwrap().unwrap();
    assert_eq!(journal.entries[0].original, "xen");

    let rb = apply::rollback(&host, state, &apply_lock(&host, state)).unwrap();
    assert_eq!(rb.exit_code(), 0);
    assert_eq!(
        root.read(CLOCK).trim(),
        "xen",
        "rollback restores the clock source"
    );
}

#[test]
fn a_clock_source_the_kernel_does_not_offer_is_left_to_the_operator() {
    let root = FakeRoot::new();
    // The kernel dropped tsc from the list (it found it unstable): writing it
    // would only be refused.
    root.write(CLOCK, "hpet\n");
    root.write(CLOCKS, "hpet acpi_pm\n");
    let host = Host::at(root.root());
    let p = profile_from("[sysfs]\nclocksource = \"tsc|kvm-clock\"\n");
    let plan = apply::plan(&p, &host).unwrap();
    assert!(plan.steps.is_empty(), "{:#?}", plan.steps);
    let manual = plan
        .manual
        .iter()
        .find(|m| m.key == "sysfs/clocksource")
        .unwrap_or_else(|| panic!("{:#?}", plan.manual));
    assert!(
        manual.advice.contains("offers only `hpet acpi_pm`"),
        "{}",
        manual.advice
    );
    // The profile's first alternative that the kernel offers is written.
    root.write(CLOCKS, "hpet kvm-clock\n");
    assert_eq!(
        apply::plan(&p, &host).unwrap().steps[0].desired,
        "kvm-clock"
    );
    root.write(CLOCKS, "hpet kvm-clock tsc\n");
    assert_eq!(apply::plan(&p, &host).unwrap().steps[0].desired, "tsc");
}

#[test]
fn the_governor_is_one_finding_per_host_and_one_step_per_cpu() {
    let root = FakeRoot::new();
    cpu(&root, 0, "performance");
    cpu(&root, 1, "performance");
    cpu(&root, 2, "powersave");
    cpu(&root, 10, "powersave");
    // Siblings that look like CPUs but are not, and a CPU without cpufreq.
    root.write("/sys/devices/system/cpu/cpufreq/boost", "1\n");
    root.write("/sys/devices/system/cpu/cpuidle/current_driver", "none\n");
    root.write("/sys/devices/system/cpu/cpu3/online", "0\n");
    let host = Host::at(root.root());
    let p = profile_from("[sysfs]\ncpufreq_governor = \"performance\"\n");

    let r = audit(&p, &host);
    let gov: Vec<&Finding> = r.findings.iter().filter(|f| f.check == "sysfs").collect();
    assert_eq!(gov.len(), 1, "one row for the host: {gov:#?}");
    let f = gov[0];
    assert_eq!(f.key, "cpufreq_governor");
    assert_eq!(f.status, Status::Drift);
    assert_eq!(f.actual.as_deref(), Some("performance,powersave"));
    let detail = f.detail.as_deref().unwrap();
    assert!(
        detail.contains("powersave on cpu2,cpu10"),
        "names the CPUs, in CPU order: {detail}"
    );

    let state = Path::new("/var/lib/tunekeeper");
    let plan = apply::plan(&p, &host).unwrap();
    let keys: Vec<&str> = plan.steps.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        ["cpu2/cpufreq_governor", "cpu10/cpufreq_governor"],
        "only the CPUs that drift, in CPU order"
    );
    apply::apply(&plan, &host, state, false, &apply_lock(&host, state)).unwrap();
    let after = audit(&p, &host);
    let f = find(&after, "sysfs", "cpufreq_governor");
    assert_eq!(
        (f.status, f.actual.as_deref(), f.detail.as_deref()),
        (Status::Ok, Some("performance"), Some("4 CPUs"))
    );
    apply::rollback(&host, state, &apply_lock(&host, state)).unwrap();
    assert_eq!(
        root.read("/sys/devices/system/cpu/cpu10/cpufreq/scaling_governor")
            .trim(),
        "powersave"
    );
}

#[test]
fn a_host_without_cpufreq_is_not_applicable_and_apply_leaves_it_alone() {
    let root = FakeRoot::new();
    root.write("/sys/devices/system/cpu/cpu0/online", "1\n");
    root.write("/sys/devices/system/cpu/cpu1/online", "1\n");
    let host = Host::at(root.root());
    let p = profile_from("[sysfs]\ncpufreq_governor = \"performance\"\n");
    let r = audit(&p, &host);
    let f = find(&r, "sysfs", "cpufreq_governor");
    assert_eq!(f.status, Status::NotApplicable);
    assert!(f.detail.as_deref().unwrap().contains("no cpufreq driver"));
    let plan = apply::plan(&p, &host).unwrap();
    assert!(plan.steps.is_empty() && plan.manual.is_empty());

    // No clock source directory at all (a container's /sys): not applicable either.
    let p = profile_from("[sysfs]\nclocksource = \"tsc\"\n");
    let f = find(&audit(&p, &host), "sysfs", "clocksource").clone();
    assert_eq!(f.status, Status::NotApplicable);
    assert!(apply::plan(&p, &host).unwrap().steps.is_empty());
}

#[test]
fn sysfs_names_are_a_fixed_list_and_values_are_words() {
    let e = load("[sysfs]\n\"/etc/passwd\" = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/etc/passwd")
            && e.contains("unknown sysfs setting")
            && e.contains("clocksource, cpufreq_governor"),
        "{e}"
    );
    let e = load("[sysfs]\nclocksource = \">=5\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`clocksource`") && e.contains("plain words"),
        "{e}"
    );
    let e = load("[sysfs]\ncpufreq_governor = \"a/../b\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("plain words"), "{e}");
    let root = FakeRoot::new();
    root.write(CLOCK, "kvm-clock\n");
    cpu(&root, 0, "powersave");
    let host = Host::at(root.root());
    let p = profile_from("[sysfs]\nclocksource = \"tsc|kvm-clock\"\n");
    let f = find(&audit(&p, &host), "sysfs", "clocksource").clone();
    assert_eq!(
        (f.expected.as_str(), f.status),
        ("tsc|kvm-clock", Status::Ok)
    );
    // An inherited knob can be dropped like any other check.
    let p = profile_from("include = [\"base\"]\ndrop = [\"sysfs:clocksource\"]\n");
    let r = audit(&p, &host);
    assert!(!r.findings.iter().any(|f| f.key == "clocksource"));
    assert_eq!(find(&r, "sysfs", "cpufreq_governor").status, Status::Drift);
}

#[test]
fn shipped_profiles_check_zone_reclaim_clock_source_and_governor() {
    let root = FakeRoot::new();
    root.sysctl("vm.zone_reclaim_mode", "1");
    root.write(CLOCK, "xen\n");
    root.write(CLOCKS, "xen tsc\n");
    cpu(&root, 0, "powersave");
    let host = Host::at(root.root());
    for name in ["kafka-broker", "kraft-controller", "zookeeper"] {
        let p = ProfileStore::with_dirs(vec![]).load(name).unwrap();
        let r = audit(&p, &host);
        for (check, key) in [
            ("sysctl", "vm.zone_reclaim_mode"),
            ("sysfs", "clocksource"),
            ("sysfs", "cpufreq_governor"),
        ] {
            let f = find(&r, check, key);
            assert_eq!(f.status, Status::Drift, "{name}: {f:#?}");
            assert!(f.source.as_deref().is_some_and(|s| s.len() > 40), "{f:#?}");
        }
    }
}

#[test]
fn every_shipped_reason_is_a_source_people_can_look_up() {
    let mut all = String::new();
    for (name, _) in EMBEDDED {
        let out = tunekeeper(&[
            "--profile-dir",
            "/nonexistent-tunekeeper-profiles",
            "profiles",
            "show",
            name,
            "--format",
            "json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for row in doc["settings"].as_array().unwrap() {
            let key = format!("{}.{}", row["section"], row["key"]);
            let why = row["why"].as_str().unwrap_or_default();
            assert!(!why.is_empty(), "{name}: {key} gives no reason");
            assert!(
                !why.to_lowercase().contains("seed talk"),
                "{name}: {key} cites the 'seed talk', which no reader can find: {why}"
            );
            all.push_str(why);
            all.push('\n');
        }
    }
    // Cited by what a search finds: the talk's title and year, the
    // documentation section, the Ansible role's variable.
    for needle in [
        "LinkedIn SRE talk \"Enterprise Kafka: Kafka as a Service\" (2014)",
        "Kafka docs, Operations, \"Hardware and OS\"",
        "Kafka docs, Operations, \"Java Version\"",
        "cp-ansible role kafka_broker, variable kafka_broker_sysctl",
        "zone_reclaim_mode",
    ] {
        assert!(all.contains(needle), "no reason cites {needle}");
    }
}

#[test]
fn a_misspelled_key_says_which_key_was_meant() {
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "1");
    root.sysctl("vm.dirty_ratio", "20");
    root.sysctl("net.core.somaxconn", "4096");
    let host = Host::at(root.root());
    let p = profile_from(
        "[sysctl]\n\"vm.swapiness\" = \"1\"\n\"vn.dirty_ratio\" = \"20\"\n\"net.core.somaxcon\" = \">=4096\"\n\
         \"vm.no_such_key\" = \"1\"\n\"vm.swappiness.x\" = \"1\"\n\"net.cor\" = \"1\"\n\"net.cor.somaxconn\" = \"1\"\n",
    );
    let r = audit(&p, &host);
    for (typo, meant) in [
        ("vm.swapiness", "vm.swappiness"),
        ("vn.dirty_ratio", "vm.dirty_ratio"),
        ("net.core.somaxcon", "net.core.somaxconn"),
        ("net.cor.somaxconn", "net.core.somaxconn"),
    ] {
        let f = find(&r, "sysctl", typo);
        assert_eq!(f.status, Status::NotApplicable, "{f:#?}");
        assert_eq!(
            f.detail.as_deref(),
            Some(format!("no such key on this kernel; did you mean {meant}?").as_str())
        );
    }
    // Nothing close: the plain "this kernel has no such setting".
    // `net.cor` is close to `net.core`, but a directory is not a key.
    for far in ["vm.no_such_key", "vm.swappiness.x", "net.cor"] {
        assert_eq!(
            find(&r, "sysctl", far).detail.as_deref(),
            Some("this kernel has no such setting"),
            "{far}"
        );
    }
    // The plan tells the operator too; it writes nothing for the typo.
    let plan = apply::plan(&p, &host).unwrap();
    assert!(plan.steps.is_empty(), "{:#?}", plan.steps);
    assert!(
        plan.manual
            .iter()
            .any(|m| m.key == "vm.swapiness" && m.advice.contains("did you mean vm.swappiness?")),
        "{:#?}",
        plan.manual
    );
}
