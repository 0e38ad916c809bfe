//! How a host's drifting keys change from one report to the next: a key
//! starts drifting, comes back, or goes away with a stopped broker. One
//! rule for both backends, so the drift history reads the same on each.

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
    /// It vanished because the broker stopped (the report's `process`
    /// check says none runs): not fixed, just no longer observable.
    Stopped,
}

impl Change {
    /// The word stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Drift => "drift",
            Change::Ok => "ok",
            Change::Stopped => "stopped",
        }
    }

    /// Reads the `state` column (rows stored before `stopped` existed are
    /// `drift` or `ok`).
    pub fn parse(state: &str) -> Change {
        match state {
            "drift" => Change::Drift,
            "stopped" => Change::Stopped,
            _ => Change::Ok,
        }
    }
}

/// The events `now` makes for a host whose previous report drifted `prev`:
/// a `Drift` for each key that started drifting; for each that stopped
/// drifting, `Ok` when it was reported fine, else (gone from the report,
/// or no longer applicable) `Stopped` if the broker is missing now, else `Ok`.
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
        let fixed = now
            .fixed_while_stopped
            .iter()
            .any(|(c, k)| *c == p.check && *k == p.key);
        let change = if now.broker_missing && !fixed {
            Change::Stopped
        } else {
            Change::Ok
        };
        out.push((p, change));
    }
    out
}
