//! systemd's service notifications (sd_notify(3)) without libsystemd: one
//! datagram per message to the socket named by `$NOTIFY_SOCKET` (a path, or
//! an abstract name written with a leading `@`).
//!
//! The packaged unit is `Type=notify` with `WatchdogSec=`: the agent says
//! `READY=1` once it runs, `STOPPING=1` when asked to stop, and `WATCHDOG=1`
//! from its reporting loop ([`Notifier::alive`]), so a loop that stops making
//! progress stops the pings and systemd kills and restarts the agent. Outside
//! systemd (no `$NOTIFY_SOCKET`) every call does nothing.
//!
//! Sending never blocks (a non-blocking socket: a full queue at systemd drops
//! the message) and never fails the agent (a failure is logged once).

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the agent's reporting loop may legitimately spend between two passes
/// beyond its configured waits (`gc_poll`, the delivery `timeout`): one audit
/// of the host and one read of the GC logs, both bounded and normally well
/// under a second. [`Notifier::covering`] adds it.
pub const WORK_ALLOWANCE: Duration = Duration::from_secs(15);

/// A connection to systemd's notification socket (or nothing, outside systemd).
#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
    watchdog: Option<Mutex<Watchdog>>,
    /// A send failed once: said in the log, not again.
    told_failure: AtomicBool,
}

#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// `$NOTIFY_SOCKET` as given, for the log.
    name: String,
}

#[derive(Debug, Clone, Copy)]
struct Watchdog {
    /// systemd's limit between two pings.
    limit: Duration,
    /// When the last `WATCHDOG=1` went out.
    last: Option<Instant>,
}

/// Why `$NOTIFY_SOCKET` or the watchdog variables were not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    /// `$NOTIFY_SOCKET` is neither an absolute path nor an `@` abstract name.
    #[error("NOTIFY_SOCKET={0:?} is neither an absolute path nor an @abstract name")]
    Socket(String),
    /// `$WATCHDOG_USEC` is not a positive whole number of microseconds.
    #[error("WATCHDOG_USEC={0:?} is not a positive number of microseconds")]
    WatchdogUsec(String),
}

impl Notifier {
    /// A notifier that sends nothing (not under systemd, or `--once`).
    pub fn disabled() -> Notifier {
        Notifier {
            target: None,
            watchdog: None,
            told_failure: AtomicBool::new(false),
        }
    }

    /// From this process's environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`,
    /// `WATCHDOG_PID`). A malformed variable is logged and that part left off.
    pub fn from_env() -> Notifier {
        let var = |name: &str| std::env::var_os(name);
        match Notifier::from_vars(
            var("NOTIFY_SOCKET").as_deref(),
            var("WATCHDOG_USEC").as_deref(),
            var("WATCHDOG_PID").as_deref(),
            std::process::id(),
        ) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "systemd notifications are off");
                Notifier::disabled()
            }
        }
    }

    /// From the variables' values; `pid` is this process's. The watchdog is
    /// on only with a notification socket, a `WATCHDOG_USEC`, and a
    /// `WATCHDOG_PID` that is unset or names `pid` (sd_watchdog_enabled(3):
    /// a child that inherited the variables must not ping for its parent).
    pub fn from_vars(
        notify_socket: Option<&OsStr>,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        pid: u32,
    ) -> Result<Notifier, NotifyError> {
        let Some(name) = notify_socket.filter(|s| !s.is_empty()) else {
            return Ok(Notifier::disabled());
        };
        let shown = name.to_string_lossy().into_owned();
        let bad_socket = || NotifyError::Socket(shown.clone());
        let bytes = name.as_bytes();
        let addr = match bytes.first() {
            Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]).map_err(|_| bad_socket())?,
            Some(b'/') => SocketAddr::from_pathname(name).map_err(|_| bad_socket())?,
            _ => return Err(bad_socket()),
        };
        let socket = UnixDatagram::unbound()
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|_| bad_socket())?;
        let for_us = match watchdog_pid {
            None => true,
            Some(p) => p.to_str().and_then(|p| p.parse::<u32>().ok()) == Some(pid),
        };
        let watchdog = match watchdog_usec {
            Some(usec) if for_us => {
                let micros = usec
                    .to_str()
                    .and_then(|u| u.parse::<u64>().ok())
                    .filter(|&u| u > 0)
                    .ok_or_else(|| NotifyError::WatchdogUsec(usec.to_string_lossy().into()))?;
                Some(Mutex::new(Watchdog {
                    limit: Duration::from_micros(micros),
                    last: None,
                }))
            }
            _ => None,
        };
        Ok(Notifier {
            target: Some(Target {
                socket,
                addr,
                name: shown,
            }),
            watchdog,
            told_failure: AtomicBool::new(false),
        })
    }

    /// systemd's watchdog limit, when the watchdog is on for this process.
    pub fn watchdog_limit(&self) -> Option<Duration> {
        self.watchdog.as_ref().map(|w| lock(w).limit)
    }

    /// Makes sure the watchdog limit leaves room for the loop's longest
    /// legitimate pass: `waits` (the configured waits of one pass) plus
    /// [`WORK_ALLOWANCE`]. A shorter limit (a drop-in, or a long `timeout`
    /// in agent.toml) would kill a healthy agent: it is raised with
    /// `WATCHDOG_USEC=` (systemd 236 and later obey) and the log says so.
    pub fn covering(self, waits: Duration) -> Notifier {
        let needed = waits.saturating_add(WORK_ALLOWANCE);
        if let Some(w) = &self.watchdog {
            let limit = lock(w).limit;
            if limit < needed {
                tracing::warn!(
                    watchdog = ?limit,
                    raised_to = ?needed,
                    "systemd's watchdog (WatchdogSec=) is shorter than the agent's longest pass \
                     (gc_poll + timeout + {}s): asking systemd for more",
                    WORK_ALLOWANCE.as_secs()
                );
                self.send(&format!("WATCHDOG_USEC={}", needed.as_micros()));
                lock(w).limit = needed;
            }
        }
        self
    }

    /// `READY=1` with a one-line status (`systemctl status` shows it).
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
        if let Some(limit) = self.watchdog_limit() {
            tracing::info!(watchdog = ?limit, "systemd's watchdog is on: the reporting loop pings it");
        }
    }

    /// `STATUS=`: a one-line status.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: finishing the send under way");
    }

    /// The reporting loop made a pass: `WATCHDOG=1`, at most every quarter of
    /// the limit (systemd asks for a ping within every half).
    pub fn alive(&self) {
        let Some(w) = &self.watchdog else {
            return;
        };
        let now = Instant::now();
        {
            let mut w = lock(w);
            if w.last
                .is_some_and(|last| now.duration_since(last) < w.limit / 4)
            {
                return;
            }
            w.last = Some(now);
        }
        self.send("WATCHDOG=1");
    }

    fn send(&self, message: &str) {
        let Some(t) = &self.target else {
            return;
        };
        if let Err(e) = t.socket.send_to_addr(message.as_bytes(), &t.addr) {
            self.failed(&t.name, &e);
        }
    }

    fn failed(&self, socket: &str, error: &io::Error) {
        if !self.told_failure.swap(true, Ordering::Relaxed) {
            tracing::warn!(socket, error = %error, "cannot notify systemd (said once)");
        }
    }
}

fn lock(w: &Mutex<Watchdog>) -> std::sync::MutexGuard<'_, Watchdog> {
    // The state behind the lock is two plain values.
    w.lock().unwrap_or_else(|p| p.into_inner())
}

/// A status is one line of printable text: systemd reads the datagram as
/// `KEY=value` lines, so a newline would start another assignment.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    /// A bound datagram socket standing in for systemd's.
    fn receiver(sock: &UnixDatagram) -> Vec<String> {
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        sock.set_nonblocking(false).unwrap();
        // Everything sent so far is queued: read until the queue is empty.
        loop {
            let n = match got.len() {
                0 => sock.recv(&mut buf).unwrap(),
                _ => {
                    sock.set_nonblocking(true).unwrap();
                    match sock.recv(&mut buf) {
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return got,
                        Err(e) => panic!("recv: {e}"),
                    }
                }
            };
            got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
    }

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    #[test]
    fn path_socket_gets_ready_status_watchdog_and_stopping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_vars(
            Some(path.as_os_str()),
            Some(&os("20000000")),
            Some(&os("4242")),
            4242,
        )
        .unwrap();
        assert_eq!(n.watchdog_limit(), Some(Duration::from_secs(20)));
        n.ready("reporting every 60s\nSTOPPING=1");
        n.alive();
        // A second pass within a quarter of the limit sends nothing more.
        n.alive();
        n.status("spooled 3");
        n.stopping();
        assert_eq!(
            receiver(&sock),
            [
                "READY=1\nSTATUS=reporting every 60s STOPPING=1",
                "WATCHDOG=1",
                "STATUS=spooled 3",
                "STOPPING=1\nSTATUS=stopping: finishing the send under way",
            ]
        );
    }

    #[test]
    fn abstract_socket_named_with_an_at_sign() {
        let name = format!("tunekeeper-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier::from_vars(Some(&os(&format!("@{name}"))), None, None, 1).unwrap();
        assert_eq!(n.watchdog_limit(), None);
        n.ready("up");
        // No watchdog: alive() sends nothing.
        n.alive();
        n.stopping();
        let got = receiver(&sock);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], "READY=1\nSTATUS=up");
        assert!(got[1].starts_with("STOPPING=1"));
    }

    #[test]
    fn watchdog_pid_of_another_process_leaves_the_watchdog_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_vars(
            Some(path.as_os_str()),
            Some(&os("1000000")),
            Some(&os("1")),
            4242,
        )
        .unwrap();
        assert_eq!(n.watchdog_limit(), None);
        n.alive();
        n.status("only this");
        assert_eq!(receiver(&sock), ["STATUS=only this"]);
    }

    #[test]
    fn a_short_watchdog_is_raised_to_cover_the_configured_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_vars(Some(path.as_os_str()), Some(&os("10000000")), None, 7)
            .unwrap()
            .covering(Duration::from_secs(30));
        assert_eq!(n.watchdog_limit(), Some(Duration::from_secs(45)));
        // A limit that already covers the waits is left alone.
        let m = Notifier::from_vars(Some(path.as_os_str()), Some(&os("120000000")), None, 7)
            .unwrap()
            .covering(Duration::from_secs(11));
        assert_eq!(m.watchdog_limit(), Some(Duration::from_secs(120)));
        assert_eq!(receiver(&sock), ["WATCHDOG_USEC=45000000"]);
    }

    #[test]
    fn outside_systemd_nothing_is_sent_and_bad_variables_are_named() {
        let n = Notifier::from_vars(None, Some(&os("1000000")), None, 1).unwrap();
        assert_eq!(n.watchdog_limit(), None);
        n.ready("nobody listens");
        assert_eq!(
            Notifier::from_vars(Some(&os("relative/notify")), None, None, 1).unwrap_err(),
            NotifyError::Socket("relative/notify".into())
        );
        assert_eq!(
            Notifier::from_vars(Some(&os("/run/notify")), Some(&os("soon")), None, 1).unwrap_err(),
            NotifyError::WatchdogUsec("soon".into())
        );
        assert_eq!(
            Notifier::from_vars(Some(&os("/run/notify")), Some(&os("0")), None, 1).unwrap_err(),
            NotifyError::WatchdogUsec("0".into())
        );
    }

    #[test]
    fn a_gone_socket_does_not_fail_or_block_the_agent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        let n = Notifier::from_vars(Some(path.as_os_str()), Some(&os("1000000")), None, 1).unwrap();
        let t0 = Instant::now();
        for _ in 0..100 {
            n.ready("x");
            n.stopping();
        }
        assert!(n.told_failure.load(Ordering::Relaxed));
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
}
