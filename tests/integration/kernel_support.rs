//! Shared helpers: a fake host tree, running the binary, a lock for tests
//! that touch the real kernel.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Tests that read or write the real /proc/sys take this lock so they never
/// observe each other's changes: a lock file, not a mutex, so two test runs
/// on one host (two checkouts, CI beside a developer) exclude each other too.
/// `flock` locks belong to the open file, so threads of one run exclude each
/// other as well; the kernel drops the lock if the holder dies.
pub fn real_kernel_lock() -> nix::fcntl::Flock<std::fs::File> {
    let path = std::env::temp_dir().join("tunekeeper-real-kernel-tests.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("{}: {e}", path.display()))
}

/// Puts the real kernel back as it was, however the test ends (a failed
/// assertion unwinds through this): the sysctl values and the files named
/// at creation, each restored or removed.
pub struct KernelGuard {
    sysctl: Vec<(tunekeeper::sysctl_key::SysctlKey, String)>,
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

/// Remembers `keys` and `files` now; the guard restores them when dropped.
pub fn kernel_guard(keys: &[String], files: &[&Path]) -> KernelGuard {
    let host = tunekeeper::host::Host::default();
    KernelGuard {
        sysctl: keys
            .iter()
            .filter_map(|k| {
                let key = tunekeeper::sysctl_key::SysctlKey::parse(k).ok()?;
                let v = host.sysctl(&key).ok()?;
                Some((key, v))
            })
            .collect(),
        files: files
            .iter()
            .map(|p| (p.to_path_buf(), std::fs::read(p).ok()))
            .collect(),
    }
}

impl Drop for KernelGuard {
    fn drop(&mut self) {
        let host = tunekeeper::host::Host::default();
        for (key, value) in &self.sysctl {
            if host.sysctl(key).ok().as_deref() != Some(value.as_str()) {
                if let Err(e) = host.set_sysctl(key, value) {
                    eprintln!("could not restore {key} to {value}: {e}");
                }
            }
        }
        for (path, content) in &self.files {
            let _ = match content {
                Some(bytes) => std::fs::write(path, bytes),
                None => std::fs::remove_file(path).or(Ok(())),
            };
        }
    }
}

/// True when running as root; tests that need it skip with a printed reason otherwise.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A host tree in a temporary directory.
pub struct FakeRoot {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
}

impl FakeRoot {
    /// An empty tree with the files every audit reads.
    pub fn new() -> FakeRoot {
        let r = FakeRoot {
            dir: tempfile::tempdir().unwrap(),
        };
        r.write("/proc/sys/kernel/hostname", "fake-broker-1\n");
        r.write("/proc/sys/kernel/osrelease", "6.1.0-test\n");
        r.write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
        r.write(
            "/proc/self/mountinfo",
            "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n",
        );
        std::fs::create_dir_all(r.path("/sys/block")).unwrap();
        r
    }

    /// The tree's path for a host path.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.dir.path().join(abs.trim_start_matches('/'))
    }

    /// Writes a file, creating directories.
    pub fn write(&self, abs: &str, text: &str) {
        let p = self.path(abs);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Reads a file.
    pub fn read(&self, abs: &str) -> String {
        std::fs::read_to_string(self.path(abs)).unwrap()
    }

    /// Sets a sysctl file.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.write(
            &format!("/proc/sys/{}", key.replace('.', "/")),
            &format!("{value}\n"),
        );
    }

    /// The tree's root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// Runs the built binary with arguments.
pub fn tunekeeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("TUNEKEEPER_ROOT")
        .output()
        .expect("the binary runs")
}

/// Runs the binary against a fake root with an isolated state directory and no profile directories.
pub fn tunekeeper_at(root: &FakeRoot, args: &[&str]) -> Output {
    let root_s = root.root().to_str().unwrap().to_string();
    let mut all: Vec<&str> = vec![
        "--root",
        &root_s,
        "--profile-dir",
        "/nonexistent-tunekeeper-profiles",
    ];
    all.extend_from_slice(args);
    tunekeeper(&all)
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The applier lock, taken at once (each test is the only applier of its tree).
pub fn apply_lock(host: &tunekeeper::host::Host, state: &Path) -> tunekeeper::apply::ApplyLock {
    tunekeeper::apply::ApplyLock::acquire(host, state, std::time::Duration::ZERO).unwrap()
}
