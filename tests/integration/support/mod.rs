//! What many test modules need, written once: the binary under test, a
//! child process killed when the test ends, a free loopback port, the
//! host's name, and (in [`java`]) compiling and starting the JVMs the tests
//! run.
#![allow(dead_code)]

pub mod java;

use std::process::{Child, Command, ExitStatus};

use crate::wait;

/// The `tunekeeper` binary cargo built for the tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tunekeeper")
}

/// A child process the test started, killed (SIGKILL, which also ends a
/// stopped one) and reaped when dropped, whatever the test's outcome.
pub struct Running(pub Child);

impl Running {
    /// Starts `cmd`.
    pub fn spawn(cmd: &mut Command) -> Running {
        Running(cmd.spawn().unwrap_or_else(|e| panic!("start {cmd:?}: {e}")))
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits for the exit (a clean stop is what is
    /// tested); panics after [`wait::PATIENCE`].
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        wait::exit_within(&mut self.0, wait::PATIENCE).unwrap_or_else(|| {
            panic!(
                "pid {pid} did not stop within {:?} of SIGTERM",
                wait::PATIENCE
            )
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free loopback address (see [`free_port`]).
pub fn free_addr() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// The host's name as the agent reports it (the collector's key).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// Writes `dir/agent.toml` for an agent of its own: spool and state
/// directory in `dir`, a report a second, no endpoint (reports wait in the
/// spool), then `extra`. Returns its path.
pub fn agent_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "interval = \"1s\"\nspool_dir = \"{}\"\nstate_dir = \"{}\"\n{extra}",
            dir.join("spool").display(),
            dir.join("state").display()
        ),
    )
    .unwrap();
    path
}
