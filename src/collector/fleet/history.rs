//! One host's history as its page reads it: drift events paired into
//! episodes (when a key started drifting and when it came back, became
//! waived or went away with a stopped role). Its weeks are the trend's
//! ([`super::trend`]).

use std::collections::BTreeMap;

use crate::collector::storage::drift::Change;
use crate::collector::storage::host::DriftEvent;

/// A drift episode: when a key started drifting and when (if) it came back
/// or went away with a stopped role.
pub struct Episode<'a> {
    /// The event it started with (`None`: pruned by retention).
    pub start: Option<&'a DriftEvent>,
    /// The event it ended with (`None`: still drifting).
    pub end: Option<&'a DriftEvent>,
    /// The key's previous episode ended with its role stopping: this one
    /// began when that role (named: `zookeeper`; `broker` for keys of
    /// older agents) ran again.
    pub after_restart: Option<&'a str>,
}

/// The episodes of `events` (oldest first), in the order they began.
pub fn episodes(events: &[DriftEvent]) -> Vec<Episode<'_>> {
    let mut open: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    // Keys whose last episode ended with their role stopping, and the role.
    let mut stopped: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    let mut out: Vec<Episode<'_>> = Vec::new();
    for e in events {
        let k = (e.check.as_str(), e.key.as_str());
        if e.state == Change::Drift {
            open.insert(k, out.len());
            out.push(Episode {
                start: Some(e),
                end: None,
                after_restart: stopped.remove(&k),
            });
            continue;
        }
        if e.state == Change::Stopped {
            stopped.insert(k, e.gone_with.as_deref().unwrap_or("broker"));
        } else {
            stopped.remove(&k);
        }
        if let Some(i) = open.remove(&k) {
            out[i].end = Some(e);
        } else {
            // Its start was pruned by retention.
            out.push(Episode {
                start: None,
                end: Some(e),
                after_restart: None,
            });
        }
    }
    out
}
