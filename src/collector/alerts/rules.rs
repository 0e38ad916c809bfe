//! The host states that alert ([`Condition`]: drifting, GC-unhealthy,
//! stale, skewed) and which of them a host is in: the one rule the
//! evaluator, the webhook's messages and `/metrics` share.

use crate::collector::storage::health::GcHealth;
use crate::collector::storage::host::HostView;

/// A state of a host that alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Condition {
    /// A key other than the GC service levels drifts.
    Drifting,
    /// A GC service level is missed.
    GcUnhealthy,
    /// The host missed three intervals.
    Stale,
    /// The host is in a minority of its cluster on some key (from the
    /// skew watch, not from the host view).
    Skewed,
}

impl Condition {
    /// The `alertname` label.
    pub fn alertname(self) -> &'static str {
        match self {
            Condition::Drifting => "TunekeeperHostDrifting",
            Condition::GcUnhealthy => "TunekeeperHostGcUnhealthy",
            Condition::Stale => "TunekeeperHostStale",
            Condition::Skewed => "TunekeeperHostSkewed",
        }
    }
}

/// The conditions `h` is in now.
pub fn conditions(h: &HostView) -> Vec<Condition> {
    let mut out = Vec::new();
    // `drift` counts every drifting finding, the `gc` ones too.
    if h.drift > h.gc.gc_drift {
        out.push(Condition::Drifting);
    }
    if h.gc.health == GcHealth::Unhealthy {
        out.push(Condition::GcUnhealthy);
    }
    if h.stale {
        out.push(Condition::Stale);
    }
    out
}
