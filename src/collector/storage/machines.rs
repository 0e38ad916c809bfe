//! Two machines under one host name: every report names the machine that
//! sent it (`host.machine_id`, `/etc/machine-id`), and both backends store
//! by these rules. Each machine's reports are compared with that
//! machine's own previous report (its drift events and the changes whose
//! documents are kept), never with another machine's: two machines
//! taking turns under one name would otherwise make the drift history
//! flip at every report. A machine seen for the first time under a name
//! continues from the name's latest state, as a replaced (reinstalled)
//! machine does.
//!
//! The host row shows the latest report whichever machine sent it, and
//! says whose ([`crate::collector::storage::host::HostView::machine_id`]).
//! Two machines *taking turns* is a conflict: a report from a machine
//! that reported under the name before, replacing another that reported
//! within the window. It holds for [`window_ms`] after the last turn, so
//! a machine that is replaced and never comes back makes none.

use serde::Serialize;

use super::health::DriftKey;
use super::report::Submission;

/// The key a machine is stored under: its id, or `""` when the report
/// names none (older agents, containers without `/etc/machine-id`).
pub fn key(machine_id: Option<&str>) -> &str {
    machine_id.unwrap_or("")
}

/// How long a conflict holds after the last turn, for a host reporting
/// every `interval_seconds`: three intervals (as staleness), at least five
/// minutes.
pub fn window_ms(interval_seconds: i64) -> i64 {
    interval_seconds
        .max(1)
        .saturating_mul(3_000)
        .max(5 * 60 * 1000)
}

/// A conflict as the API shows it: the machines that reported under the
/// name within the window of the last turn (latest first, at most
/// [`crate::collector::limits::MAX_CONFLICT_MACHINES`]) and when they last
/// took turns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineConflict {
    /// Their machine ids (`""`: a report without one).
    pub machine_ids: Vec<String>,
    /// Receipt of the last report that took the name from another
    /// machine, Unix ms.
    pub last_turn_ms: i64,
}

/// What the host row says before a report is stored.
#[derive(Debug, Clone, Copy)]
pub struct HostBefore<'a> {
    /// The machine of the report shown (`None`: stored before machines
    /// were kept).
    pub machine: Option<&'a str>,
    /// When the host last delivered anything, before this report.
    pub seen_ms: i64,
    /// The effective time of the report shown.
    pub shown_ms: i64,
    /// The drifting keys of the report shown.
    pub drifting: &'a [DriftKey],
}

/// What the machine's own row says before a report is stored.
#[derive(Debug, Clone, Copy)]
pub struct MachineBefore<'a> {
    /// The effective time of its latest report.
    pub last_ms: i64,
    /// The drifting keys of its latest report.
    pub drifting: &'a [DriftKey],
}

/// What storing a report does, decided once for both backends.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<'a> {
    /// Older than the report the host shows: the host row's summary stays.
    pub host_late: bool,
    /// Older than its machine's latest report: no drift events, no change.
    pub machine_late: bool,
    /// What its drift events compare with (`None`: the first report of
    /// the name).
    pub prev: Option<&'a [DriftKey]>,
    /// It takes the name from another machine, having reported under it
    /// before: a turn, and the conflict's time is its receipt.
    pub turn: bool,
}

/// The plan for `s` given the host row and its machine's row (either may
/// not exist yet).
pub fn plan<'a>(
    host: Option<HostBefore<'a>>,
    machine: Option<MachineBefore<'a>>,
    s: &Submission,
) -> Plan<'a> {
    let at = s.effective_ms();
    let host_late = host.is_some_and(|h| h.shown_ms > at);
    let (machine_late, prev) = match (machine, host) {
        (Some(m), _) => (m.last_ms > at, Some(m.drifting)),
        // A machine new to the name continues from the name's state.
        (None, Some(h)) => (host_late, Some(h.drifting)),
        (None, None) => (false, None),
    };
    let me = key(s.derived.machine_id.as_deref());
    let turn = machine.is_some()
        && host.is_some_and(|h| {
            h.machine.is_some_and(|shown| shown != me)
                && s.received_ms.saturating_sub(h.seen_ms) <= window_ms(interval(s))
        });
    Plan {
        host_late,
        machine_late,
        prev,
        turn,
    }
}

/// The report's interval as stored (bounded at ingest).
pub fn interval(s: &Submission) -> i64 {
    i64::try_from(s.interval_seconds).unwrap_or(i64::MAX)
}

/// The conflict a host row's columns hold at `now_ms`: `None` when there
/// was no turn within the window.
pub fn conflict_of(
    at_ms: Option<i64>,
    machines: Option<&str>,
    interval_seconds: i64,
    now_ms: i64,
) -> Option<MachineConflict> {
    let at = at_ms?;
    if now_ms.saturating_sub(at) > window_ms(interval_seconds) {
        return None;
    }
    Some(MachineConflict {
        machine_ids: machines
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default(),
        last_turn_ms: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::storage::health::Derived;

    fn sub(machine: &str, t: i64) -> Submission {
        Submission {
            id: format!("{machine}-{t}"),
            hostname: "h".into(),
            time_ms: t,
            time_text: String::new(),
            received_ms: t,
            interval_seconds: 60,
            profile: "p".into(),
            derived: Derived {
                machine_id: Some(machine.into()),
                ..Derived::default()
            },
            body: String::new(),
            packed: Vec::new(),
        }
    }

    fn host(machine: &'static str, t: i64) -> HostBefore<'static> {
        HostBefore {
            machine: Some(machine).filter(|m| !m.is_empty()),
            seen_ms: t,
            shown_ms: t,
            drifting: &[],
        }
    }

    const M: MachineBefore<'static> = MachineBefore {
        last_ms: 0,
        drifting: &[],
    };

    #[test]
    fn a_turn_is_a_known_machine_taking_the_name_from_a_live_one() {
        // B reported before and takes the name from A, which reported a minute ago.
        assert!(plan(Some(host("a", 60_000)), Some(M), &sub("b", 120_000)).turn);
        // B is new: a replacement, not a turn.
        assert!(!plan(Some(host("a", 60_000)), None, &sub("b", 120_000)).turn);
        // The same machine again.
        assert!(!plan(Some(host("b", 60_000)), Some(M), &sub("b", 120_000)).turn);
        // A was silent for a day: B comes back to a name A left.
        assert!(!plan(Some(host("a", 0)), Some(M), &sub("b", 86_400_000)).turn);
        // Stored before machines were kept: no turn to see.
        assert!(!plan(Some(host("", 60_000)), Some(M), &sub("b", 120_000)).turn);
    }

    #[test]
    fn a_machine_compares_with_itself_and_a_new_one_with_the_name() {
        let mine = [DriftKey {
            check: "sysctl".into(),
            key: "vm.swappiness".into(),
            expected: "1".into(),
            actual: Some("60".into()),
            roles: Vec::new(),
        }];
        let own = MachineBefore {
            last_ms: 100_000,
            drifting: &mine,
        };
        let p = plan(Some(host("a", 150_000)), Some(own), &sub("b", 120_000));
        assert_eq!(p.prev, Some(&mine[..]));
        assert!(p.host_late && !p.machine_late, "{p:?}");
        let p = plan(Some(host("a", 150_000)), None, &sub("b", 160_000));
        assert_eq!(p.prev, Some(&[][..]), "continues from the name");
        assert_eq!(plan(None, None, &sub("b", 1)).prev, None);
    }

    #[test]
    fn a_conflict_holds_for_three_intervals_or_five_minutes() {
        assert_eq!(window_ms(60), 300_000);
        assert_eq!(window_ms(600), 1_800_000);
        let c = conflict_of(Some(1_000), Some(r#"["a","b"]"#), 60, 300_999).unwrap();
        assert_eq!(c.machine_ids, ["a", "b"]);
        assert!(conflict_of(Some(1_000), Some("[]"), 60, 301_001).is_none());
        assert!(conflict_of(None, None, 60, 0).is_none());
    }
}
