//! Hostile input for apply, profiles and `gc` (issue 10, items 16-21): two
//! appliers at once, include diamonds, secrets named as profiles, numbers no
//! kernel value holds, relative paths posing as keys, FIFOs and devices
//! given as files. Every case runs the real binary.

use crate::kernel_support as support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{FakeRoot, stderr, tunekeeper_at};

/// A tree where vm.swappiness and vm.dirty_ratio both drift.
fn drifting_root() -> FakeRoot {
    let root = FakeRoot::new();
    root.sysctl("vm.swappiness", "60");
    root.sysctl("vm.dirty_ratio", "20");
    root
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn mkfifo(path: &std::path::Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

/// Runs the binary against `root`, killing it after `limit`: a hang is a
/// failure with a message, not a stuck test run.
fn run_bounded(root: &FakeRoot, args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = spawn_at(root, args);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{args:?} still running after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn spawn_at(root: &FakeRoot, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .arg("--root")
        .arg(root.root())
        .args(["--profile-dir", "/nonexistent-tunekeeper-profiles"])
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// True once `pid` sleeps in the kernel opening or reading a pipe.
fn blocked_on_fifo(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan"))
        .is_ok_and(|w| w.contains("wait_for_partner") || w.contains("fifo") || w.contains("pipe"))
}

/// Item 16. Apply A stops between loading the journal and saving it (its
/// `--persist` reads the previous sysctl.d file, here a FIFO nobody writes
/// yet); apply B, of another key, runs meanwhile. Without a lock B saved
/// its journal, then A's rename replaced it: B's original was lost, and
/// rollback left vm.dirty_ratio tuned for good. With the lock B waits for A,
/// and one journal keeps both originals.
#[test]
fn two_appliers_at_once_keep_every_original() {
    let root = drifting_root();
    let dir = tempfile::tempdir().unwrap();
    let swappiness = write(
        dir.path(),
        "a.toml",
        "[sysctl]\n\"vm.swappiness\" = \"1\"\n",
    );
    let dirty = write(
        dir.path(),
        "b.toml",
        "[sysctl]\n\"vm.dirty_ratio\" = \"80\"\n",
    );
    let fifo = root.path("/etc/sysctl.d/99-tunekeeper.conf");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    mkfifo(&fifo);

    let a = spawn_at(&root, &["apply", "--persist", "--profile", &swappiness]);
    let start = Instant::now();
    while !blocked_on_fifo(a.id()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "apply A never reached the FIFO"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut b = spawn_at(&root, &["apply", "--profile", &dirty]);
    // B runs until it ends (without the lock) or waits at the lock, which
    // it holds open while it waits: either way, before A goes on.
    let lock = root.path("/var/lib/tunekeeper/apply.lock");
    let at_lock = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == lock))
        })
    };
    crate::wait::until("apply B to end or to wait at the lock", || {
        matches!(b.try_wait(), Ok(Some(_))) || at_lock(b.id())
    });
    // Release A: the FIFO gives it an empty "previous" file.
    drop(std::fs::OpenOptions::new().write(true).open(&fifo).unwrap());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(a.status.code(), Some(0), "A: {}", stderr(&a));
    assert_eq!(b.status.code(), Some(0), "B: {}", stderr(&b));
    assert_eq!(root.read("/proc/sys/vm/swappiness").trim(), "1");
    assert_eq!(root.read("/proc/sys/vm/dirty_ratio").trim(), "80");

    let journal = root.read("/var/lib/tunekeeper/rollback.json");
    for key in ["vm.swappiness", "vm.dirty_ratio"] {
        assert!(journal.contains(key), "journal lost {key}: {journal}");
    }
    let rb = tunekeeper_at(&root, &["rollback"]);
    assert_eq!(rb.status.code(), Some(0), "{}", stderr(&rb));
    assert_eq!(root.read("/proc/sys/vm/swappiness").trim(), "60");
    assert_eq!(
        root.read("/proc/sys/vm/dirty_ratio").trim(),
        "20",
        "the second applier's original survived"
    );
}

/// Item 16: a holder that never finishes is named, and nothing changes.
#[test]
fn a_stuck_applier_is_named_not_waited_for_forever() {
    let root = drifting_root();
    let host = tunekeeper::host::Host::at(root.root());
    let state = std::path::Path::new("/var/lib/tunekeeper");
    let _held =
        tunekeeper::apply::ApplyLock::acquire(&host, state, Duration::ZERO).expect("first lock");
    let err = tunekeeper::apply::ApplyLock::acquire(&host, state, Duration::from_millis(200))
        .expect_err("a second lock in the same moment must fail");
    let text = err.to_string();
    assert!(
        text.contains(&format!("pid {}", std::process::id())) && text.contains("apply.lock"),
        "{text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
}

/// Item 17: each level includes the next twice. 40 levels used to never
/// finish (2^40 resolutions); each profile is now resolved once.
#[test]
fn include_diamonds_resolve_each_profile_once() {
    let root = drifting_root();
    let dir = tempfile::tempdir().unwrap();
    let levels = 40;
    write(
        dir.path(),
        &format!("p{levels}.toml"),
        "[sysctl]\n\"vm.swappiness\" = \"60\"\n",
    );
    for i in (0..levels).rev() {
        let next = format!("p{}.toml", i + 1);
        write(
            dir.path(),
            &format!("p{i}.toml"),
            &format!("include = [\"{next}\", \"{next}\"]\n"),
        );
    }
    let top = dir.path().join("p0.toml");
    let out = run_bounded(
        &root,
        &[
            "audit",
            "--format",
            "json",
            "--profile",
            top.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let chain = v["profile_chain"].as_array().unwrap();
    assert_eq!(chain.len(), levels + 1, "each profile once in the chain");
}

/// Item 18: a file that is not a profile is never quoted: not under its own
/// name (`/etc/shadow`), and not when it claims to be one (`x.toml`).
#[test]
fn errors_quote_nothing_from_a_file_that_is_not_a_profile() {
    let root = drifting_root();
    let dir = tempfile::tempdir().unwrap();
    let secret = "root:$6$SECRETHASHxyz:19000:0:99999:7:::\n";
    let shadow = write(dir.path(), "shadow", secret);
    let disguised = write(dir.path(), "shadow.toml", secret);
    for (path, needle) in [
        (shadow.as_str(), "not a profile"),
        (disguised.as_str(), "line 1, column"),
    ] {
        for cmd in ["audit", "apply"] {
            let mut args = vec![cmd, "--profile", path];
            if cmd == "apply" {
                args.push("--dry-run");
            }
            let out = tunekeeper_at(&root, &args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(!err.contains("SECRETHASH"), "{args:?} leaks: {err}");
            assert!(
                err.contains(path) && err.contains(needle),
                "{args:?}: {err}"
            );
        }
    }
    // The real one, where it exists: root reads it, the error must not.
    if std::path::Path::new("/etc/shadow").exists() {
        let first = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
        let first = first.lines().next().unwrap_or_default().to_string();
        let out = tunekeeper_at(&root, &["audit", "--profile", "/etc/shadow"]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(first.is_empty() || !err.contains(&first), "{err}");
        assert!(err.contains("/etc/shadow: not a profile"), "{err}");
    }
}

/// Item 19: a number no kernel value holds used to wrap to >=-7.5e37 and
/// audit ok. It is refused, naming the key.
#[test]
fn out_of_range_numbers_are_refused_naming_the_key() {
    let root = drifting_root();
    let dir = tempfile::tempdir().unwrap();
    for expect in [
        ">=99999999999999999999999999999999999TiB",
        ">=18446744073709551616",
    ] {
        let profile = write(
            dir.path(),
            "big.toml",
            &format!("[sysctl]\n\"vm.swappiness\" = \"{expect}\"\n"),
        );
        let out = tunekeeper_at(&root, &["audit", "--profile", &profile]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{expect}: {err}");
        assert!(
            err.contains("big.toml:2")
                && err.contains("vm.swappiness")
                && err.contains("out of range"),
            "{err}"
        );
    }
}

/// Item 20: `../../etc/passwd` is a relative path that walks out of
/// /proc/sys, not "an absolute path".
#[test]
fn a_relative_path_as_a_key_is_named_for_what_it_is() {
    let root = drifting_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = write(
        dir.path(),
        "walk.toml",
        "[sysctl]\n\"../../etc/passwd\" = \"1\"\n",
    );
    let out = tunekeeper_at(&root, &["audit", "--profile", &profile]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("absolute"), "{err}");
    assert!(
        err.contains("../../etc/passwd") && err.contains("leave /proc/sys"),
        "{err}"
    );
}

/// Item 21: `gc FIFO` blocked forever; a device never ends. Both are
/// refused at once, naming what they are; so is a FIFO named as a profile.
#[test]
fn fifos_and_devices_are_refused_not_read() {
    let root = drifting_root();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("gc.log");
    mkfifo(&fifo);
    let fifo_s = fifo.to_str().unwrap();
    for (args, what) in [
        (vec!["gc", fifo_s], "a FIFO (named pipe)"),
        (vec!["gc", "/dev/zero"], "a character device"),
    ] {
        let out = run_bounded(&root, &args, Duration::from_secs(20));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(args[1]) && err.contains(what), "{err}");
    }
    let profile_fifo = dir.path().join("p.toml");
    mkfifo(&profile_fifo);
    let out = run_bounded(
        &root,
        &["audit", "--profile", profile_fifo.to_str().unwrap()],
        Duration::from_secs(20),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a profile: it is a FIFO"), "{err}");
}

/// Issue 19: `rollback` wrote any path its journal named — through
/// `/proc/sys/../..` too — and created the file named as persisted. A
/// journal is now held to a profile's rules: keys under /proc/sys (the
/// key's own file), persistence only in a sysctl.d directory. A bad one is
/// an error naming the entry, and nothing is written.
#[test]
fn a_journal_naming_files_outside_proc_sys_is_refused_and_nothing_is_written() {
    let root = drifting_root();
    let journal = root.path("/var/lib/tunekeeper/rollback.json");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    for (entries, persisted, named) in [
        (
            r#"[{"target":"sysctl","key":"vm.swappiness","path":"/proc/sys/../../etc/evil","original":"pwned"}]"#,
            "null",
            "entry 1",
        ),
        (
            r#"[{"target":"sysctl","key":"vm.swappiness","path":"/etc/evil","original":"pwned"}]"#,
            "null",
            "entry 1",
        ),
        (
            r#"[{"target":"sysfs","key":"thp/enabled","path":"/sys/../etc/evil","original":"pwned"}]"#,
            "null",
            "entry 1",
        ),
        (
            r#"[{"target":"sysctl","key":"vm.swappiness","path":"/proc/sys/vm/swappiness","original":"60"}]"#,
            r#"{"path":"/etc/cron.d/evil.conf","previous":"* * * * * root sh"}"#,
            "persisted file",
        ),
    ] {
        std::fs::write(
            &journal,
            format!(r#"{{"version":1,"profile":"p","entries":{entries},"persisted":{persisted}}}"#),
        )
        .unwrap();
        let out = tunekeeper_at(&root, &["rollback"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("rollback.json") && err.contains(named),
            "{err}"
        );
        assert!(
            !root.path("/etc/evil").exists(),
            "a file outside /proc/sys was written"
        );
        assert!(
            !root.path("/etc/cron.d/evil.conf").exists(),
            "a file was created outside sysctl.d"
        );
        assert_eq!(
            root.read("/proc/sys/vm/swappiness").trim(),
            "60",
            "nothing half-applied"
        );
    }
}
