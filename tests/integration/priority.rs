//! Timing on a shared machine. A test that times something (a page's paint,
//! a server's answer) or judges a JVM's wall time against its CPU time runs
//! those processes at the highest priority (nice -20, as root; without root
//! `nice` and `renice` say so and change nothing), so that the machine's
//! other load (this binary's other tests, other builds) is not counted as
//! the product's time. What is timed stays the product's code; only the
//! wait for a CPU is taken out.

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
