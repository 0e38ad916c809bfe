//! Per-JVM GC tracking for the agent: finds the broker JVMs each interval
//! and reports their flags (GC log following lands with the gc module).

use crate::agent::config::Config;
use crate::agent::metrics::Metrics;
use crate::host::Host;
use crate::jvm::find_jvms;
use crate::profile::Profile;
use crate::report::JvmReport;

/// State kept across intervals for every JVM.
#[derive(Debug, Default)]
pub struct GcTracker {}

impl GcTracker {
    /// Finds the JVMs and reports on each.
    pub fn poll(
        &mut self,
        host: &Host,
        cfg: &Config,
        _profile: &Profile,
        _metrics: &Metrics,
    ) -> Vec<JvmReport> {
        find_jvms(host, &cfg.jvm_match)
            .into_iter()
            .map(|j| JvmReport {
                pid: j.pid,
                command: j.summary(),
                flags: j.flags(),
                findings: Vec::new(),
                gc_logs: j.gc_logs.iter().map(|p| p.display().to_string()).collect(),
                gc: None,
            })
            .collect()
    }
}
