//! The host side of the agent's report: what stalled the JVMs from outside
//! during the interval (pressure, vmstat deltas, the broker's own major
//! faults), attached to the interval's stalled pauses, and the static causes
//! of stalls as per-JVM findings.

use std::path::PathBuf;

use crate::host::Host;
use crate::host::pressure::{HostPressure, Sample, StallSuspect, between, static_causes};
use crate::report::JvmReport;

/// Keeps the previous sample between reports.
#[derive(Debug, Default)]
pub struct PressureTracker {
    /// The last sample and the pid whose major faults it holds.
    last: Option<(Option<i32>, Sample)>,
}

impl PressureTracker {
    /// A tracker whose first report covers the time since now (the
    /// agent's start), so even the first report has the host's pressure.
    pub fn started(host: &Host) -> PressureTracker {
        PressureTracker {
            last: Some((None, host.pressure_sample(None))),
        }
    }

    /// Samples the host; returns what changed since the previous sample
    /// (`None` the first time) and writes it beside every stalled pause of
    /// the interval — the nearest sample the agent has.
    pub fn observe(&mut self, host: &Host, jvms: &mut [JvmReport]) -> Option<HostPressure> {
        // The first live JVM's own major faults.
        let pid = jvms.iter().find(|j| j.pid > 0 && !j.exited).map(|j| j.pid);
        let now = host.pressure_sample(pid);
        let prev = self.last.replace((pid, now.clone()));
        let (prev_pid, mut prev) = prev?;
        if prev_pid != pid {
            // Another process's counter: no delta.
            prev.process_majflt = None;
        }
        let d = between(&prev, &now);
        let text = d.describe();
        for j in jvms.iter_mut() {
            let Some(stalls) = j.gc.as_mut().and_then(|g| g.interval.stalls.as_mut()) else {
                continue;
            };
            for w in &mut stalls.worst {
                w.host = Some(format!("over the last {:.0} s: {text}", d.seconds));
            }
        }
        Some(d)
    }
}

/// Adds the static causes of stalls (GC log on a data disk, hsperfdata on a
/// disk-backed /tmp, swap) to each running JVM's findings.
pub fn add_stall_causes(host: &Host, jvms: &mut [JvmReport]) {
    let kafka = crate::kafka::find_kafka_processes(host);
    for j in jvms.iter_mut().filter(|j| j.pid > 0 && !j.exited) {
        let Ok(cmdline) = host.cmdline(j.pid) else {
            continue;
        };
        let data_dirs: Vec<PathBuf> = kafka
            .iter()
            .find(|p| p.jvm.pid == j.pid)
            .map(|p| p.data_dirs().into_iter().map(|d| d.path).collect())
            .unwrap_or_default();
        let logs: Vec<PathBuf> = j.gc_logs.iter().map(PathBuf::from).collect();
        j.findings.extend(static_causes(
            host,
            &StallSuspect {
                pid: j.pid,
                cmdline: &cmdline,
                gc_logs: &logs,
                data_dirs: &data_dirs,
            },
        ));
    }
}
