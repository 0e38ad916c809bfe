//! How a host's drifting keys change from one report to the next: a key
//! starts drifting, comes back, becomes waived, or goes away with a
//! stopped role (a broker, a controller, a ZooKeeper server). One rule for
//! both backends, so the drift history reads the same on each.

use serde::{Deserialize, Serialize};

use super::health::{Derived, DriftKey};

/// What happened to a key at a drift event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// It started drifting.
    Drift,
    /// It came back: reported again and no longer drifting.
    Ok,
    /// It vanished because its role stopped (the report's `roles` say it
    /// does not run; before roles: the `process` check says no broker
    /// runs): not fixed, just no longer observable.
    Stopped,
    /// It still differs, but a waiver in force now accepts it: no longer
    /// drift, not fixed either. An expired waiver makes it `Drift` again.
    Waived,
}

impl Change {
    /// The word stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Drift => "drift",
            Change::Ok => "ok",
            Change::Stopped => "stopped",
            Change::Waived => "waived",
        }
    }

    /// Reads the `state` column (rows stored before `stopped` existed are
    /// `drift` or `ok`).
    pub fn parse(state: &str) -> Change {
        match state {
            "drift" => Change::Drift,
            "stopped" => Change::Stopped,
            "waived" => Change::Waived,
            _ => Change::Ok,
        }
    }
}

/// The events `now` makes for a host whose previous report drifted `prev`:
/// a `Drift` for each key that started drifting; for each that stopped
/// drifting, `Waived` when a waiver in force now covers it, `Ok` when it
/// was reported fine, else (gone from the report, or no longer applicable)
/// `Stopped` if one of its roles is not running now (or gone from the
/// roles: no longer expected), else `Ok`. A key whose roles are not known
/// (an agent older than roles, a row stored before) follows the broker:
/// `Stopped` when `process running` drifts.
pub fn changes<'a>(prev: &'a [DriftKey], now: &'a Derived) -> Vec<(&'a DriftKey, Change)> {
    let same = |a: &DriftKey, b: &DriftKey| a.check == b.check && a.key == b.key;
    let mut out = Vec::new();
    for k in &now.drifting {
        if !prev.iter().any(|p| same(p, k)) {
            out.push((k, Change::Drift));
        }
    }
    for p in prev {
        if now.drifting.iter().any(|k| same(p, k)) {
            continue;
        }
        if now
            .waived_keys
            .iter()
            .any(|w| w.check == p.check && w.key == p.key)
        {
            out.push((p, Change::Waived));
            continue;
        }
        let fixed = now
            .fixed_while_stopped
            .iter()
            .any(|(c, k)| *c == p.check && *k == p.key);
        let change = if went_with_a_role(p, now) && !fixed {
            Change::Stopped
        } else {
            Change::Ok
        };
        out.push((p, change));
    }
    out
}

/// Whether `k` (not drifting now, not reported fine) is gone with a role
/// that stopped: one of its roles does not run now, or is no longer in the
/// report's roles; for a key without roles, whether the broker is missing.
fn went_with_a_role(k: &DriftKey, now: &Derived) -> bool {
    if k.roles.is_empty() || now.roles_running.is_empty() {
        return now.broker_missing;
    }
    !stopped_roles(k, now).is_empty()
}

/// The roles of `k` that do not run now (or are gone from the roles).
fn stopped_roles<'a>(k: &'a DriftKey, now: &Derived) -> Vec<&'a str> {
    k.roles
        .iter()
        .filter(|r| {
            !now.roles_running
                .iter()
                .any(|(name, running)| name == *r && *running)
        })
        .map(String::as_str)
        .collect()
}

/// What an event stores in `drift_events.actual`: the value seen for a
/// `Drift`; the waiver's justification for a `Waived` (the value is the one
/// of the drift before it); for a `Stopped`, the roles it went with
/// (`zookeeper`, joined by `+`), when known; nothing otherwise.
pub fn stored_actual(k: &DriftKey, change: Change, now: &Derived) -> Option<String> {
    match change {
        Change::Drift => k.actual.clone(),
        Change::Waived => now
            .waived_keys
            .iter()
            .find(|w| w.check == k.check && w.key == k.key)
            .and_then(|w| w.justification.clone()),
        Change::Stopped if !k.roles.is_empty() && !now.roles_running.is_empty() => {
            Some(stopped_roles(k, now).join("+")).filter(|s| !s.is_empty())
        }
        Change::Ok | Change::Stopped => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::storage::health::WaivedKey;

    fn key(check: &str, key: &str) -> DriftKey {
        DriftKey {
            check: check.into(),
            key: key.into(),
            expected: "x".into(),
            actual: Some("y".into()),
            roles: Vec::new(),
        }
    }

    fn owned(check: &str, k: &str, roles: &[&str]) -> DriftKey {
        DriftKey {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..key(check, k)
        }
    }

    fn derived(drifting: &[DriftKey], fixed: &[(&str, &str)]) -> Derived {
        let broker_missing = drifting
            .iter()
            .any(|k| k.check == "process" && k.key == "running");
        Derived {
            drifting: drifting.to_vec(),
            broker_missing,
            fixed_while_stopped: fixed
                .iter()
                .map(|(c, k)| ((*c).to_owned(), (*k).to_owned()))
                .collect(),
            ..Derived::default()
        }
    }

    fn named(out: &[(&DriftKey, Change)]) -> Vec<(String, Change)> {
        out.iter().map(|(k, c)| (k.key.clone(), *c)).collect()
    }

    #[test]
    fn a_key_gone_with_the_broker_is_stopped_a_key_reported_ok_is_back() {
        let prev = [key("gc", "pause_p99_ms"), key("sysctl", "vm.swappiness")];
        let now = derived(&[key("process", "running")], &[("sysctl", "vm.swappiness")]);
        assert_eq!(
            named(&changes(&prev, &now)),
            [
                ("running".to_owned(), Change::Drift),
                ("pause_p99_ms".to_owned(), Change::Stopped),
                ("vm.swappiness".to_owned(), Change::Ok),
            ]
        );
        // With the broker running, a vanished key came back.
        let now = derived(&[], &[]);
        assert!(changes(&prev, &now).iter().all(|(_, c)| *c == Change::Ok));
    }

    #[test]
    fn a_drifting_key_a_waiver_covers_now_is_waived_not_back() {
        let prev = [key("sysctl", "vm.swappiness"), key("thp", "enabled")];
        let mut now = derived(&[], &[]);
        now.waived_keys.push(WaivedKey {
            check: "sysctl".into(),
            key: "vm.swappiness".into(),
            justification: Some("vendor image".into()),
        });
        let out = changes(&prev, &now);
        assert_eq!(
            named(&out),
            [
                ("vm.swappiness".to_owned(), Change::Waived),
                ("enabled".to_owned(), Change::Ok),
            ]
        );
        assert_eq!(
            stored_actual(out[0].0, out[0].1, &now).as_deref(),
            Some("vendor image")
        );
        // Its waiver expired: it drifts again, a plain `Drift`.
        let again = derived(&[key("sysctl", "vm.swappiness")], &[]);
        assert_eq!(
            named(&changes(&[], &again)),
            [("vm.swappiness".to_owned(), Change::Drift)]
        );
    }

    /// A ZooKeeper that stops beside a running broker: its keys went with
    /// it (`Stopped`, naming the role), the broker's keys that vanish came
    /// back; the broker's `running` key never drifted, so the old rule
    /// alone would have called every one of them fixed.
    #[test]
    fn keys_of_a_stopped_role_went_with_it_others_came_back() {
        let prev = [
            owned("gc", "pause_p99_ms", &["zookeeper"]),
            owned("process", "nofile (pid 7)", &["zookeeper"]),
            owned("process", "nofile (pid 9)", &["broker"]),
            owned("sysctl", "vm.swappiness", &["broker", "zookeeper"]),
            owned("sysctl", "vm.max_map_count", &["zookeeper"]),
        ];
        let mut now = derived(
            &[owned("process", "running (zookeeper)", &["zookeeper"])],
            &[("sysctl", "vm.max_map_count")],
        );
        now.roles_running = vec![("broker".into(), true), ("zookeeper".into(), false)];
        let out = changes(&prev, &now);
        assert_eq!(
            named(&out),
            [
                ("running (zookeeper)".to_owned(), Change::Drift),
                ("pause_p99_ms".to_owned(), Change::Stopped),
                ("nofile (pid 7)".to_owned(), Change::Stopped),
                ("nofile (pid 9)".to_owned(), Change::Ok),
                ("vm.swappiness".to_owned(), Change::Stopped),
                ("vm.max_map_count".to_owned(), Change::Ok),
            ]
        );
        assert_eq!(
            stored_actual(out[1].0, out[1].1, &now).as_deref(),
            Some("zookeeper")
        );
        // A role gone from the roles (the agent restarted and no longer
        // expects it) took its keys too.
        now.roles_running = vec![("broker".into(), true)];
        assert_eq!(changes(&prev[..1], &now)[1].1, Change::Stopped);
        // Keys without roles (an older agent's) follow the broker.
        let old = [key("gc", "pause_p99_ms")];
        assert_eq!(changes(&old, &now)[1].1, Change::Ok);
    }

    #[test]
    fn stored_states_round_trip_and_old_rows_read_as_before() {
        for c in [Change::Drift, Change::Ok, Change::Stopped, Change::Waived] {
            assert_eq!(Change::parse(c.as_str()), c);
        }
        assert_eq!(Change::parse("something else"), Change::Ok);
    }
}
