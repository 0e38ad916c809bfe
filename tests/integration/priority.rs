//! Timing beside the other tests. A test that judges a JVM's wall time
//! against its CPU time runs it at the highest priority (nice -20, as root;
//! without root `nice` and `renice` say so and change nothing), so that
//! this binary's other tests, running beside it, are not counted as the
//! product's time. It does not outrank other sessions' work (other builds):
//! with the kernel's autogroups (`sched_autogroup_enabled`, on here) a nice
//! value counts only within its session, and sessions share the CPU
//! fairly. A bound that must hold on a loaded machine is put on CPU time.

/// A wrapper (command and arguments) that runs the rest at the highest priority.
pub const HIGHEST: [&str; 3] = ["nice", "-n", "-20"];
