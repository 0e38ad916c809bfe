//! Headless Chromium for the tests that check pages in a real browser
//! (the fleet page, the GC report). Debian's `chromium`, installed by `.ci/run`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A program on PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// The first Chromium on PATH, if any (tests skip, saying why, without one).
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| on_path(name))
}

/// Runs headless Chromium with the given extra arguments and returns stdout.
pub fn browse(browser: &Path, profile: &Path, args: &[String]) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// Headless Chromium driven over the DevTools protocol (`--remote-debugging-pipe`:
/// JSON messages ending in NUL on descriptors 3 and 4, here two FIFOs the
/// shell that starts it opens), for tests that measure in the page.
pub struct Cdp {
    child: std::process::Child,
    to: std::fs::File,
    from: std::sync::mpsc::Receiver<serde_json::Value>,
    next_id: u64,
    session: String,
    /// Events read while waiting for an answer, oldest first.
    events: std::collections::VecDeque<serde_json::Value>,
}

/// How long one protocol call or event may take.
const CDP_WAIT: Duration = Duration::from_secs(60);

impl Cdp {
    /// The browser's process id (its renderers and helpers are its descendants).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the browser with a fresh profile in `dir` and opens one page.
    pub fn start(browser: &Path, dir: &Path) -> Cdp {
        let (to_path, from_path) = (dir.join("cdp-in"), dir.join("cdp-out"));
        for p in [&to_path, &from_path] {
            nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .expect("mkfifo");
        }
        let child = Command::new("sh")
            .arg("-c")
            // At the highest priority: what it measures is the page's time,
            // not the machine's other load (see `crate::priority`).
            .arg(r#"exec nice -n -20 "$0" "$@" 3<"$CDP_IN" 4>"$CDP_OUT""#)
            .arg(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1400,1000",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .env("CDP_IN", &to_path)
            .env("CDP_OUT", &from_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Opening a FIFO waits for the other end: in the shell's order, on
        // a thread, so a browser that never starts fails the test in time.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let to = std::fs::OpenOptions::new().write(true).open(&to_path);
            let from = std::fs::File::open(&from_path);
            let _ = tx.send((to, from));
        });
        let (to, from) = rx.recv_timeout(CDP_WAIT).expect("chromium opened its pipe");
        let (to, from) = (to.unwrap(), from.unwrap());
        let (msg_tx, msg_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(from);
            loop {
                let mut buf = Vec::new();
                match std::io::BufRead::read_until(&mut r, 0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice(&buf) {
                            if msg_tx.send(v).is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        let mut cdp = Cdp {
            child,
            to,
            from: msg_rx,
            next_id: 0,
            session: String::new(),
            events: Default::default(),
        };
        let target = cdp.call(
            "Target.createTarget",
            serde_json::json!({"url": "about:blank"}),
        );
        let attached = cdp.call(
            "Target.attachToTarget",
            serde_json::json!({"targetId": target["targetId"], "flatten": true}),
        );
        cdp.session = attached["sessionId"].as_str().unwrap().to_owned();
        cdp.page_call("Page.enable", serde_json::json!({}));
        cdp
    }

    fn send(
        &mut self,
        method: &str,
        params: serde_json::Value,
        session: bool,
    ) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = serde_json::json!({"id": id, "method": method, "params": params});
        if session {
            msg["sessionId"] = self.session.clone().into();
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        std::io::Write::write_all(&mut self.to, &bytes).expect("write to chromium");
        let deadline = Instant::now() + CDP_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method} within {CDP_WAIT:?}"));
            if m["id"].as_u64() == Some(id) {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
            self.events.push_back(m);
        }
    }

    /// A browser-level call; returns its result.
    pub fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.send(method, params, false)
    }

    /// A call to the page; returns its result.
    pub fn page_call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.send(method, params, true)
    }

    /// Forgets the events read so far.
    pub fn clear_events(&mut self) {
        self.events.clear();
        while self.from.try_recv().is_ok() {}
    }

    /// Waits for the page's event `method` (read since the last
    /// [`Cdp::clear_events`]).
    pub fn wait_event(&mut self, method: &str) -> serde_json::Value {
        let deadline = Instant::now() + CDP_WAIT;
        loop {
            if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
                return self.events.remove(i).unwrap();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {method} within {CDP_WAIT:?}"));
            self.events.push_back(m);
        }
    }

    /// Evaluates `expression` in the page; returns its value (promises awaited).
    pub fn eval(&mut self, expression: &str) -> serde_json::Value {
        let r = self.page_call(
            "Runtime.evaluate",
            serde_json::json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Opens `url` and waits for its load event.
    pub fn navigate(&mut self, url: &str) {
        self.clear_events();
        self.page_call("Page.navigate", serde_json::json!({"url": url}));
        self.wait_event("Page.loadEventFired");
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        // Asked to close, the browser takes its helper processes with it.
        let close = format!(
            "{}\0",
            serde_json::json!({"id": 0, "method": "Browser.close"})
        );
        let _ = std::io::Write::write_all(&mut self.to, close.as_bytes());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
