//! Timing beside the other tests. A test that times something (a page's
//! paint, a server's answer) or judges a JVM's wall time against its CPU
//! time runs those processes at the highest priority (nice -20, as root;
//! without root `nice` and `renice` say so and change nothing), so that
//! this binary's other tests, running beside it, are not counted as the
//! product's time. It does not outrank other sessions' work (other builds):
//! with the kernel's autogroups (`sched_autogroup_enabled`, on here) a nice
//! value counts only within its session, and sessions share the CPU
//! fairly. A bound that must hold on a loaded machine is put on CPU time.

use std::process::{Command, Stdio};

/// A wrapper (command and arguments) that runs the rest at the highest priority.
pub const HIGHEST: [&str; 3] = ["nice", "-n", "-20"];

/// Raises thread or process `id` to the highest priority. On Linux a
/// priority belongs to a thread: a process's threads started earlier keep
/// theirs, those it starts later (and the processes it forks) inherit it.
pub fn raise(id: i32) {
    let _ = Command::new("renice")
        .args(["-n", "-20", "-p", &id.to_string()])
        .stdout(Stdio::null())
        .status();
}

/// Runs `f` on a thread of its own at the highest priority (the thread
/// ends with it, so no test thread keeps the priority).
pub fn on_raised_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        raise(nix::unistd::gettid().as_raw());
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}
