//! Exact scenarios on prepared host trees, through the library.

use std::path::Path;

use tunekeeper::apply::{self, Outcome};
use tunekeeper::audit::audit;
use tunekeeper::finding::Status;
use tunekeeper::host::Host;
use tunekeeper::profile::{Profile, ProfileStore};

use crate::kernel_support::{FakeRoot, apply_lock};

fn profile_from(text: &str) -> Profile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, text).unwrap();
    ProfileStore::with_dirs(vec![])
        .load(path.to_str().unwrap())
        .unwrap()
}

fn find<'a>(
    r: &'a tunekeeper::audit::AuditReport,
    check: &str,
    key: &str,
) -> &'a tunekeeper::finding::Finding {
    r.findings
        .iter()
        .find(|f| f.check == check && f.key == key)
        .unwrap_or_else(|| panic!("no {check} finding for {key} in {:#?}", r.findings))
}

#[test]
fn drift_ok_missing_and_unreadable_are_told_apart() {
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "60");
    root.sysctl("vm.max_map_count", "1048576");
    root.sysctl("net.ipv4.tcp_rmem", "4096\t131072\t6291456");
    // A directory where a file should be: the read fails the way an unreadable key does.
    std::fs::create_dir_all(root.path("/proc/sys/vm/dirty_ratio")).unwrap();
    let p = profile_from(
        r#"
[sysctl]
"vm.swappiness" = "1"
"vm.max_map_count" = ">=262144"
"net.ipv4.tcp_rmem" = "4096 >=65536 >=6291456"
"vm.dirty_ratio" = ">=60"
"vm.no_such_key" = "1"
"#,
    );
    let r = audit(&p, &Host::at(root.root()));
    let sw = find(&r, "sysctl", "vm.swappiness");
    assert_eq!(
        (sw.status, sw.actual.as_deref(), sw.expected.as_str()),
        (Status::Drift, Some("60"), "1")
    );
    assert_eq!(
        find(&r, "sysctl", "vm.max_map_count").status,
        Status::Ok,
        ">= keeps higher values ok"
    );
    let rmem = find(&r, "sysctl", "net.ipv4.tcp_rmem");
    assert_eq!(
        (rmem.status, rmem.actual.as_deref()),
        (Status::Ok, Some("4096 131072 6291456"))
    );
    assert_eq!(
        find(&r, "sysctl", "vm.dirty_ratio").status,
        Status::Unreadable
    );
    assert_eq!(
        find(&r, "sysctl", "vm.no_such_key").status,
        Status::NotApplicable
    );
    assert_eq!(
        (
            r.summary.drift,
            r.summary.ok,
            r.summary.unreadable,
            r.summary.not_applicable
        ),
        (1, 2, 1, 1)
    );
    assert_eq!(r.host.hostname, "fake-broker-1");
}

#[test]
fn reboot_drift_names_the_winning_file_and_line() {
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "1");
    root.sysctl("vm.dirty_ratio", "80");
    root.write("/usr/lib/sysctl.d/50-default.conf", "vm.swappiness = 1\n");
    root.write("/etc/sysctl.d/60-ops.conf", "# ops\nvm.swappiness = 30\n");
    root.write("/etc/sysctl.conf", "vm.dirty_ratio=80\n");
    let p = profile_from("[sysctl]\n\"vm.swappiness\" = \"1\"\n\"vm.dirty_ratio\" = \">=60\"\n");
    let r = audit(&p, &Host::at(root.root()));
    assert_eq!(find(&r, "sysctl", "vm.swappiness").status, Status::Ok);
    let boot = find(&r, "boot", "vm.swappiness");
    assert_eq!(boot.status, Status::Drift);
    assert_eq!(boot.actual.as_deref(), Some("30"));
    assert!(
        boot.detail
            .as_ref()
            .unwrap()
            .contains("/etc/sysctl.d/60-ops.conf:2"),
        "{boot:?}"
    );
    assert!(
        !r.findings
            .iter()
            .any(|f| f.check == "boot" && f.key == "vm.dirty_ratio")
    );

    // A later file that agrees with the profile wins: no reboot drift.
    root.write("/etc/sysctl.d/99-tunekeeper.conf", "vm.swappiness = 1\n");
    let r = audit(&p, &Host::at(root.root()));
    assert!(
        !r.findings.iter().any(|f| f.check == "boot"),
        "{:#?}",
        r.findings
    );
    // ...but /etc/sysctl.conf is read last and wins over every sysctl.d file.
    root.write("/etc/sysctl.conf", "vm.swappiness=10\n");
    let r = audit(&p, &Host::at(root.root()));
    let boot = find(&r, "boot", "vm.swappiness");
    assert!(boot.detail.as_ref().unwrap().contains("/etc/sysctl.conf:1"));
}

#[test]
fn an_active_tuned_daemon_that_fights_the_profile_is_reported() {
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "1");
    root.sysctl("vm.dirty_ratio", "80");
    root.write("/run/tuned/tuned.pid", "777\n");
    std::fs::create_dir_all(root.path("/proc/777")).unwrap();
    root.write("/etc/tuned/active_profile", "throughput-performance\n");
    root.write(
        "/usr/lib/tuned/throughput-performance/tuned.conf",
        "[main]\nsummary=x\n[sysctl]\nvm.swappiness=10\nvm.dirty_ratio=>40\n",
    );
    let p = profile_from("[sysctl]\n\"vm.swappiness\" = \"1\"\n\"vm.dirty_ratio\" = \">=40\"\n");
    let r = audit(&p, &Host::at(root.root()));
    let t = find(&r, "tuned", "vm.swappiness");
    assert_eq!(t.status, Status::Drift);
    assert!(
        t.detail
            .as_ref()
            .unwrap()
            .contains("throughput-performance")
    );
    assert!(
        !r.findings
            .iter()
            .any(|f| f.check == "tuned" && f.key == "vm.dirty_ratio"),
        "`>40` only raises"
    );
}

#[test]
fn thp_block_mount_swap_and_limits() {
    let root = FakeRoot::new();
    root.write(
        "/sys/kernel/mm/transparent_hugepage/enabled",
        "[always] madvise never\n",
    );
    root.write(
        "/sys/kernel/mm/transparent_hugepage/defrag",
        "always defer defer+madvise [madvise] never\n",
    );
    root.write("/sys/block/sda/queue/scheduler", "[bfq] mq-deadline none\n");
    root.write("/sys/block/sda/queue/read_ahead_kb", "4096\n");
    root.write("/sys/block/nvme0n1/queue/scheduler", "[none] mq-deadline\n");
    root.write("/sys/block/nvme0n1/queue/read_ahead_kb", "128\n");
    root.write("/sys/block/loop0/queue/scheduler", "[none]\n");
    root.write(
        "/proc/self/mountinfo",
        "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
         30 22 8:16 / /var/lib/kafka rw,relatime shared:2 - xfs /dev/sdb rw\n\
         31 22 8:32 / /data/kafka-2 rw,noatime shared:3 - ext4 /dev/sdc rw,commit=60\n",
    );
    std::fs::create_dir_all(root.path("/var/lib/kafka")).unwrap();
    std::fs::create_dir_all(root.path("/data/kafka-2")).unwrap();
    root.write(
        "/proc/swaps",
        "Filename\tType\tSize\tUsed\tPriority\n/swap.img file\t1048572\t0\t-2\n",
    );
    let p = profile_from(
        r#"
[thp]
enabled = "madvise|never"
defrag = "madvise|never"
[block.data]
devices = "sd*|nvme*n*"
scheduler = "none|mq-deadline"
read_ahead_kb = ">=1MiB"
[mount.kafka]
paths = ["/var/lib/kafka", "/data/kafka*", "/absent"]
require = ["noatime"]
fstype = "xfs|ext4"
[swap]
allowed = false
[process]
match = "kafka\\.Kafka"
nofile = ">=100000"
"#,
    );
    let r = audit(&p, &Host::at(root.root()));
    let e = find(&r, "thp", "enabled");
    assert_eq!(
        (e.status, e.actual.as_deref()),
        (Status::Drift, Some("always"))
    );
    assert_eq!(find(&r, "thp", "defrag").status, Status::Ok);
    assert_eq!(find(&r, "block", "sda/scheduler").status, Status::Drift);
    assert_eq!(
        find(&r, "block", "sda/read_ahead_kb").status,
        Status::Ok,
        "4096 KiB >= 1 MiB"
    );
    assert_eq!(
        find(&r, "block", "nvme0n1/read_ahead_kb").status,
        Status::Drift
    );
    assert!(
        !r.findings.iter().any(|f| f.key.starts_with("loop0")),
        "loop0 is not matched"
    );
    let m = find(&r, "mount", "/var/lib/kafka");
    assert_eq!(m.status, Status::Drift);
    assert!(m.detail.as_ref().unwrap().contains("missing noatime"));
    assert_eq!(find(&r, "mount", "/data/kafka-2").status, Status::Ok);
    assert_eq!(find(&r, "swap", "active").status, Status::Drift);
    // No /proc/PID in the tree: no broker, so the limit does not apply.
    assert_eq!(find(&r, "limits", "nofile").status, Status::NotApplicable);
}

#[test]
fn apply_journals_first_reads_back_persists_and_rolls_back() {
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "60");
    root.sysctl("vm.max_map_count", "1048576");
    root.sysctl("vm.dirty_ratio", "20");
    root.write("/sys/block/sda/queue/scheduler", "[bfq] mq-deadline none\n");
    let host = Host::at(root.root());
    let p = profile_from(
        "[sysctl]\n\"vm.swappiness\" = \"1\"\n\"vm.max_map_count\" = \">=262144\"\n\"vm.dirty_ratio\" = \">=60\"\n\
         [block.d]\ndevices = \"sd*\"\nscheduler = \"none|mq-deadline\"\n",
    );
    let state = Path::new("/var/lib/tunekeeper");
    let plan = apply::plan(&p, &host).unwrap();
    let keys: Vec<&str> = plan.steps.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        ["vm.dirty_ratio", "vm.swappiness", "sda/scheduler"],
        "max_map_count is already higher"
    );
    assert_eq!(plan.steps[2].desired, "none", "first offered alternative");

    let report = apply::apply(&plan, &host, state, true, &apply_lock(&host, state)).unwrap();
    assert_eq!(report.exit_code(), 0);
    assert!(
        report.results.iter().all(|r| r.outcome == Outcome::Applied),
        "{:#?}",
        report.results
    );
    assert_eq!(root.read("/proc/sys/vm/swappiness").trim(), "1");
    assert_eq!(
        root.read("/proc/sys/vm/max_map_count").trim(),
        "1048576",
        "never lowered"
    );
    let persisted = root.read("/etc/sysctl.d/99-tunekeeper.conf");
    assert!(
        persisted.contains("vm.swappiness = 1") && persisted.contains("vm.max_map_count = 1048576")
    );
    let journal = apply::load_journal(&host, state).unwrap().unwrap();
    assert_eq!(journal.entries.len(), 3);
    assert_eq!(journal.entries[1].original, "60");

    // A second apply must not overwrite the saved originals with tuned values.
    root.sysctl("vm.swappiness", "5");
    let plan2 = apply::plan(&p, &host).unwrap();
    apply::apply(&plan2, &host, state, false, &apply_lock(&host, state)).unwrap();
    let journal = apply::load_journal(&host, state).unwrap().unwrap();
    assert_eq!(
        journal
            .entries
            .iter()
            .find(|e| e.key == "vm.swappiness")
            .unwrap()
            .original,
        "60"
    );

    let rb = apply::rollback(&host, state, &apply_lock(&host, state)).unwrap();
    assert_eq!(rb.exit_code(), 0);
    assert_eq!(root.read("/proc/sys/vm/swappiness").trim(), "60");
    assert_eq!(root.read("/proc/sys/vm/dirty_ratio").trim(), "20");
    assert_eq!(root.read("/sys/block/sda/queue/scheduler").trim(), "bfq");
    assert!(!root.path("/etc/sysctl.d/99-tunekeeper.conf").exists());
    assert!(
        apply::load_journal(&host, state).unwrap().is_none(),
        "journal removed after a full rollback"
    );
}

#[test]
fn a_failed_write_stops_and_restores_what_this_run_wrote() {
    let root = FakeRoot::new();
    root.sysctl("vm.dirty_ratio", "20");
    root.sysctl("vm.swappiness", "60");
    root.sysctl("vm.zone_reclaim_mode", "1");
    let host = Host::at(root.root());
    let p = profile_from(
        "[sysctl]\n\"vm.dirty_ratio\" = \"80\"\n\"vm.swappiness\" = \"1\"\n\"vm.zone_reclaim_mode\" = \"0\"\n",
    );
    let plan = apply::plan(&p, &host).unwrap();
    // Make the second write fail: the file turns into a directory after planning.
    std::fs::remove_file(root.path("/proc/sys/vm/swappiness")).unwrap();
    std::fs::create_dir(root.path("/proc/sys/vm/swappiness")).unwrap();
    let state = Path::new("/var/lib/tunekeeper");
    let report = apply::apply(&plan, &host, state, true, &apply_lock(&host, state)).unwrap();
    let outcomes: Vec<Outcome> = report.results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::RolledBack, Outcome::Failed, Outcome::Skipped]
    );
    assert_eq!(report.exit_code(), 2);
    assert_eq!(
        root.read("/proc/sys/vm/dirty_ratio").trim(),
        "20",
        "restored"
    );
    assert_eq!(
        root.read("/proc/sys/vm/zone_reclaim_mode").trim(),
        "1",
        "never written"
    );
    assert!(
        !root.path("/etc/sysctl.d/99-tunekeeper.conf").exists(),
        "nothing persisted after a failure"
    );
    assert!(
        apply::load_journal(&host, state).unwrap().is_none(),
        "everything was restored"
    );
}
