//! The enforcing agent on a host with several roles, on the real kernel:
//! a broker (a stand-in `kafka.Kafka`) and Debian's ZooKeeper run, found
//! by pid through the agent's host view, and every expected role's profile
//! is enforced as one plan. A key only ZooKeeper's profile expects is
//! re-applied; a key both expect alike gets the value both accept; a key
//! they want differently is left alone and named at error with both
//! profiles. Every /proc/sys value the test touches is restored.

use std::process::Command;

use tunekeeper::host::Host;
use tunekeeper::sysctl_key::SysctlKey;

use crate::kernel_support::{is_root, kernel_guard, real_kernel_lock};
use crate::proc_view::ProcView;
use crate::role_jvms;
use crate::support::bin;

/// Only ZooKeeper's profile expects it.
const ZK_ONLY: &str = "vm.dirty_expire_centisecs";
/// The broker's `5` and ZooKeeper's `<=10` meet at 5.
const AGREED: &str = "vm.dirty_background_ratio";
/// The broker's `600` and ZooKeeper's `700`: no value satisfies both.
const CONFLICT: &str = "vm.dirty_writeback_centisecs";

fn key(k: &str) -> SysctlKey {
    SysctlKey::parse(k).unwrap()
}

fn read(k: &str) -> String {
    Host::default().sysctl(&key(k)).unwrap().trim().to_string()
}

fn set(k: &str, v: &str) {
    Host::default().set_sysctl(&key(k), v).unwrap();
}

#[test]
fn the_enforcing_agent_applies_every_roles_profile_as_one_plan() {
    if !is_root() {
        crate::ci_skip::skip("needs root to write /proc/sys");
        return;
    }
    if let Some(why) = role_jvms::missing() {
        crate::ci_skip::skip(&why);
        return;
    }
    let _lock = real_kernel_lock();
    let _restore = kernel_guard(
        &[
            ZK_ONLY.to_string(),
            AGREED.to_string(),
            CONFLICT.to_string(),
        ],
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The roles' profiles, trimmed to the three keys (by the shipped names,
    // so each role finds its own): nothing else of the real host is tuned.
    let own = d.join("profiles");
    std::fs::create_dir(&own).unwrap();
    std::fs::write(
        own.join("kafka-broker.toml"),
        format!(
            "description = \"broker, three keys\"\n[sysctl]\n\"{AGREED}\" = {{ expect = \"5\", why = \"broker dirty pages\" }}\n\
             \"{CONFLICT}\" = {{ expect = \"600\", why = \"broker flush\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        own.join("zookeeper.toml"),
        format!(
            "description = \"zookeeper, three keys\"\n[sysctl]\n\"{AGREED}\" = {{ expect = \"<=10\", why = \"zk fsync\" }}\n\
             \"{ZK_ONLY}\" = {{ expect = \">=3000\", why = \"zk only\" }}\n\
             \"{CONFLICT}\" = {{ expect = \"700\", why = \"zk flush\" }}\n"
        ),
    )
    .unwrap();

    let (zk, broker) = role_jvms::zookeeper_and_broker(d, "kafka-logs");
    let view = ProcView::new(&[zk.pid(), broker.pid()]);

    // Drift, as a config tool or a reboot would.
    set(ZK_ONLY, "1500");
    set(AGREED, "20");
    set(CONFLICT, "500");

    let config = d.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "enforce = true\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n",
            d.join("spool").display(),
            d.join("state").display()
        ),
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("--profile-dir")
        .arg(&own)
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .env("TUNEKEEPER_ROOT", view.root())
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    // No endpoint: the report waits in the spool (exit 1).
    assert_eq!(out.status.code(), Some(1), "{log}");

    assert_eq!(
        read(ZK_ONLY),
        "3000",
        "the key only ZooKeeper's profile expects is enforced: {log}"
    );
    assert_eq!(read(AGREED), "5", "the value both roles accept: {log}");
    assert_eq!(
        read(CONFLICT),
        "500",
        "a key the roles want differently is left alone: {log}"
    );
    let told = log
        .lines()
        .find(|l| l.contains("ERROR") && l.contains(CONFLICT))
        .unwrap_or_else(|| panic!("no error naming {CONFLICT}: {log}"));
    for part in [
        "kafka-broker expects 600",
        "zookeeper expects 700",
        "waivers.toml",
        "profile of your own",
    ] {
        assert!(told.contains(part), "{part:?} not in {told}");
    }
    // One apply, one journal, naming both profiles, holding the originals.
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("state/rollback.json")).expect("the journal"))
            .unwrap();
    assert_eq!(journal["profile"], "kafka-broker+zookeeper");
    let originals: Vec<(String, String)> = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_string(),
                e["original"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        originals,
        [
            (AGREED.to_string(), "20".to_string()),
            (ZK_ONLY.to_string(), "1500".to_string()),
        ]
    );
}
