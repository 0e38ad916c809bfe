//! Real JVMs for the tests: whether this machine has a JDK, compiling the
//! workloads in `tests/fixtures/jvm/`, and starting `java` (under a
//! wrapper that execs it, when asked: `nice`, `setpriv`, `prlimit`) with
//! its output read line by line, so a test can wait until main runs.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;

use super::Running;
use crate::{ci_skip, wait};

/// The idle stand-in broker (`kafka.Kafka`: says "up", then sleeps).
pub const IDLE_BROKER: &str = "idle-broker/kafka/Kafka.java";
/// The busy stand-in broker (`kafka.Kafka BUSY_S IDLE_S`: collects, prints
/// its own collector counters as one JSON line, then idles).
pub const BUSY_BROKER: &str = "kafka/Kafka.java";
/// A JVM collecting many times a second (`Churn SECONDS`).
pub const CHURN: &str = "churn/Churn.java";

/// Why this machine cannot compile and run Java, if it cannot.
pub fn missing() -> Option<String> {
    for tool in ["javac", "java"] {
        let runs = Command::new(tool)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !runs {
            return Some(format!(
                "no JDK ({tool}) on this machine; .ci/run installs one"
            ));
        }
    }
    None
}

/// True when the JDK is there; otherwise says so through [`ci_skip`]
/// (a failure under CI) and the caller returns.
pub fn or_skip() -> bool {
    match missing() {
        Some(why) => {
            ci_skip::skip(&why);
            false
        }
        None => true,
    }
}

/// A source file under `tests/fixtures/jvm/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jvm")
        .join(rel)
}

/// Compiles `src` into the directory `out` (`javac OPTS -d OUT SRC`);
/// returns `out`.
pub fn compile(src: &Path, out: &Path, opts: &[&str]) -> PathBuf {
    let status = Command::new("javac")
        .args(opts)
        .arg("-d")
        .arg(out)
        .arg(src)
        .status()
        .expect("run javac");
    assert!(status.success(), "javac {}", src.display());
    out.to_path_buf()
}

/// Compiles the fixture `rel` (one of [`IDLE_BROKER`]...) into `out`.
pub fn compile_fixture(rel: &str, out: &Path) -> PathBuf {
    compile(&fixture(rel), out, &[])
}

/// The fixture `rel` compiled into `dir/classes`, or `None` (said through
/// [`ci_skip`]) when there is no JDK.
pub fn classes_or_skip(dir: &Path, rel: &str) -> Option<PathBuf> {
    or_skip().then(|| compile_fixture(rel, &dir.join("classes")))
}

/// `java FLAGS -cp CLASSES MAIN ARGS`, built up and then turned into a
/// [`Command`].
pub struct Java {
    wrapper: Vec<OsString>,
    program: OsString,
    flags: Vec<OsString>,
    classes: PathBuf,
    main: String,
    args: Vec<OsString>,
    quiet: bool,
}

/// `java -cp CLASSES MAIN` (add flags and arguments with [`Java::flags`]
/// and [`Java::args`]).
pub fn java(classes: &Path, main: &str) -> Java {
    Java {
        wrapper: Vec::new(),
        program: "java".into(),
        flags: Vec::new(),
        classes: classes.to_path_buf(),
        main: main.to_owned(),
        args: Vec::new(),
        quiet: false,
    }
}

impl Java {
    /// JVM options, before the main class.
    pub fn flags<S: AsRef<OsStr>>(mut self, flags: impl IntoIterator<Item = S>) -> Java {
        self.flags
            .extend(flags.into_iter().map(|f| f.as_ref().to_owned()));
        self
    }

    /// Arguments to main.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Java {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs `java` through `wrapper`, a command that runs the rest: `nice
    /// -n -20`, `setpriv ...` and `prlimit ... --` exec it (the JVM keeps
    /// their pid); `unshare --fork ...` makes it a child of its own.
    pub fn under(mut self, wrapper: &[&str]) -> Java {
        self.wrapper = wrapper.iter().map(OsString::from).collect();
        self
    }

    /// Its standard error discarded (a JVM that logs there, as ZooKeeper
    /// does); by default it goes to the test's.
    pub fn quiet(mut self) -> Java {
        self.quiet = true;
        self
    }

    /// Another JDK's `java` (a path) instead of the one on `PATH`.
    pub fn program(mut self, java: impl AsRef<OsStr>) -> Java {
        self.program = java.as_ref().to_owned();
        self
    }

    /// The command, for the caller to adjust (stdout, stderr) and spawn.
    pub fn command(&self) -> Command {
        let mut cmd = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        cmd.args(&self.flags)
            .arg("-cp")
            .arg(&self.classes)
            .arg(&self.main)
            .args(&self.args);
        if self.quiet {
            cmd.stderr(Stdio::null());
        }
        cmd
    }

    /// Starts it with its output ignored.
    pub fn start(&self) -> Running {
        Running::spawn(self.command().stdout(Stdio::null()))
    }

    /// Starts it; every line it prints arrives on the receiver.
    pub fn start_lines(&self) -> (Running, Receiver<String>) {
        start_lines(&mut self.command())
    }

    /// Starts it and waits until main prints its first line (so its
    /// command line is final); returns it and that line.
    pub fn start_first_line(&self) -> (Running, String) {
        let (jvm, lines) = self.start_lines();
        let line = first_line(&lines, &self.main);
        (jvm, line)
    }

    /// Starts an idle stand-in and waits until it says "up".
    pub fn start_up(&self) -> Running {
        let (jvm, line) = self.start_first_line();
        assert_eq!(line.trim(), "up", "{} did not start", self.main);
        jvm
    }
}

/// Starts `cmd` with its stdout read on a thread of its own: every line
/// arrives on the receiver (read to the end, so the process never blocks
/// on a full pipe, whether or not the test still listens).
pub fn start_lines(cmd: &mut Command) -> (Running, Receiver<String>) {
    let mut child = Running::spawn(cmd.stdout(Stdio::piped()));
    let out = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// The next line on `lines`, waiting at most [`wait::PATIENCE`].
pub fn first_line(lines: &Receiver<String>, what: &str) -> String {
    lines
        .recv_timeout(wait::PATIENCE)
        .unwrap_or_else(|e| panic!("no line from {what} ({e})"))
}
