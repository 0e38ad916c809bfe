//! A fake host tree with Kafka brokers in it: `/proc/PID` entries (command
//! line, mount table, namespaces, maps, open files, limits), a sysfs with
//! disks, partitions and stacked devices, and the brokers' properties files
//! and data directories. For the exact edge cases a real machine cannot
//! stage (twelve disks, LVM on RAID, a data directory on the OS disk's
//! second partition), and for the audit benchmark.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// The tree; removed on drop.
pub struct BrokerTree {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    mountinfo: Vec<String>,
    next_mount_id: u32,
}

impl BrokerTree {
    /// A host whose `/` is on `sda1`, with `MemTotal` of `mem_gib`.
    pub fn new(mem_gib: u64) -> BrokerTree {
        let mut t = BrokerTree {
            dir: tempfile::tempdir().unwrap(),
            mountinfo: Vec::new(),
            next_mount_id: 30,
        };
        t.write("/proc/sys/kernel/hostname", "fake-broker\n");
        t.write("/proc/sys/kernel/osrelease", "6.1.0-test\n");
        t.write("/proc/sys/vm/max_map_count", "262144\n");
        t.write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
        t.write(
            "/proc/meminfo",
            &format!("MemTotal:       {} kB\nMemFree: 1 kB\n", mem_gib << 20),
        );
        t.link("/proc/self/ns/mnt", "mnt:[4026531841]");
        t.disk("sda", 8, 0, false);
        t.partition("sda", "sda1", 8, 1);
        t.partition("sda", "sda2", 8, 2);
        t.mount("8:1", "/", "ext4", "rw,relatime");
        t
    }

    /// The tree's root.
    pub fn root(&self) -> &Path {
        self.dir.path()
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

    /// A symbolic link at `abs` pointing to `target` (as written).
    pub fn link(&self, abs: &str, target: &str) {
        let p = self.path(abs);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&p);
        symlink(target, p).unwrap();
    }

    fn mkdir(&self, abs: &str) {
        std::fs::create_dir_all(self.path(abs)).unwrap();
    }

    /// A whole disk with its queue attributes.
    pub fn disk(&self, name: &str, major: u32, minor: u32, rotational: bool) {
        let dev = format!("/sys/devices/pci0000:00/block/{name}");
        self.mkdir(&dev);
        self.write(&format!("{dev}/queue/scheduler"), "[mq-deadline] none\n");
        self.write(&format!("{dev}/queue/read_ahead_kb"), "128\n");
        self.write(&format!("{dev}/queue/nr_requests"), "256\n");
        self.write(
            &format!("{dev}/queue/rotational"),
            if rotational { "1\n" } else { "0\n" },
        );
        self.link(
            &format!("/sys/block/{name}"),
            &format!("../devices/pci0000:00/block/{name}"),
        );
        self.link(
            &format!("/sys/dev/block/{major}:{minor}"),
            &format!("../../devices/pci0000:00/block/{name}"),
        );
    }

    /// A partition of `disk`.
    pub fn partition(&self, disk: &str, name: &str, major: u32, minor: u32) {
        let dev = format!("/sys/devices/pci0000:00/block/{disk}/{name}");
        self.mkdir(&dev);
        self.write(&format!("{dev}/partition"), "1\n");
        self.link(
            &format!("/sys/dev/block/{major}:{minor}"),
            &format!("../../devices/pci0000:00/block/{disk}/{name}"),
        );
    }

    /// A stacked device (`md0`, `dm-0`) over `slaves` (names of whole disks
    /// or of other stacked devices).
    pub fn stacked(&self, name: &str, major: u32, minor: u32, slaves: &[&str]) {
        let dev = format!("/sys/devices/virtual/block/{name}");
        self.mkdir(&format!("{dev}/slaves"));
        for s in slaves {
            let target = if s.starts_with("sd") {
                format!("../../../../pci0000:00/block/{s}")
            } else {
                format!("../../{s}")
            };
            self.link(&format!("{dev}/slaves/{s}"), &target);
        }
        self.link(
            &format!("/sys/dev/block/{major}:{minor}"),
            &format!("../../devices/virtual/block/{name}"),
        );
    }

    /// A mount in the host's mount table (every broker shares it).
    pub fn mount(&mut self, majmin: &str, point: &str, fstype: &str, opts: &str) {
        self.mkdir(point);
        self.mountinfo.push(format!(
            "{} 1 {majmin} / {point} {opts} shared:1 - {fstype} /dev/x rw",
            self.next_mount_id
        ));
        self.next_mount_id += 1;
        self.write("/proc/self/mountinfo", &(self.mountinfo.join("\n") + "\n"));
    }

    /// A running ZooKeeper server with `zoo.cfg` as given, its `dataDir`
    /// and `dataLogDir` created.
    pub fn zookeeper(&self, pid: u32, zoo_cfg: &str) {
        let config = format!("/etc/zookeeper/zoo-{pid}.cfg");
        self.write(&config, zoo_cfg);
        let cmdline = [
            "/usr/bin/java",
            "-Xmx1g",
            "-cp",
            "/opt/zookeeper/lib/*",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            &config,
        ]
        .join("\0");
        self.process(pid, &cmdline);
        for line in zoo_cfg.lines() {
            for key in ["dataDir=", "dataLogDir="] {
                if let Some(d) = line.strip_prefix(key) {
                    self.mkdir(d.trim());
                }
            }
        }
    }

    /// The `/proc/PID` entries every stand-in process has: its command
    /// line, the host's mount table, namespace, cwd, one map, one open
    /// file, limits and cgroup.
    fn process(&self, pid: u32, cmdline: &str) {
        let proc = format!("/proc/{pid}");
        self.write(&format!("{proc}/cmdline"), &(cmdline.to_string() + "\0"));
        self.write(
            &format!("{proc}/mountinfo"),
            &(self.mountinfo.join("\n") + "\n"),
        );
        self.link(&format!("{proc}/ns/mnt"), "mnt:[4026531841]");
        self.link(&format!("{proc}/cwd"), "/");
        self.write(
            &format!("{proc}/maps"),
            "7f00-7f01 r--s 00000000 08:11 1 /data/x.index\n",
        );
        self.mkdir(&format!("{proc}/fd"));
        self.write(&format!("{proc}/fd/0"), "");
        self.nofile(pid, 100_000);
        self.write(
            &format!("{proc}/cgroup"),
            "0::/system.slice/kafka.service\n",
        );
    }

    /// Takes a process away, as if it exited.
    pub fn exit(&self, pid: u32) {
        std::fs::remove_dir_all(self.path(&format!("/proc/{pid}"))).unwrap();
    }

    /// Sets a process's open-file limit (soft and hard), in the kernel's
    /// full `limits` format.
    pub fn nofile(&self, pid: u32, n: u64) {
        let row = |name: &str, v: &str, unit: &str| format!("{name:<26}{v:<21}{v:<21}{unit:<10}\n");
        let mut text = format!(
            "{:<26}{:<21}{:<21}{:<10}\n",
            "Limit", "Soft Limit", "Hard Limit", "Units"
        );
        for (name, v, unit) in [
            ("Max cpu time", "unlimited", "seconds"),
            ("Max file size", "unlimited", "bytes"),
            ("Max data size", "unlimited", "bytes"),
            ("Max stack size", "8388608", "bytes"),
            ("Max core file size", "0", "bytes"),
            ("Max resident set", "unlimited", "bytes"),
            ("Max processes", "96365", "processes"),
            ("Max open files", &n.to_string(), "files"),
            ("Max locked memory", "8388608", "bytes"),
            ("Max address space", "unlimited", "bytes"),
            ("Max file locks", "unlimited", "locks"),
            ("Max pending signals", "96365", "signals"),
            ("Max msgqueue size", "819200", "bytes"),
            ("Max nice priority", "0", ""),
            ("Max realtime priority", "0", ""),
            ("Max realtime timeout", "unlimited", "us"),
        ] {
            text.push_str(&row(name, v, unit));
        }
        self.write(&format!("/proc/{pid}/limits"), &text);
    }

    /// A running broker: `kafka.Kafka CONFIG` with the properties given, its
    /// data directories created, `maps` lines mapped and `fds` files open.
    pub fn broker(&self, pid: u32, heap: &str, properties: &str, maps: usize, fds: usize) {
        let config = format!("/etc/kafka/server-{pid}.properties");
        self.write(&config, properties);
        for line in properties.lines() {
            for key in ["log.dirs=", "metadata.log.dir="] {
                if let Some(dirs) = line.strip_prefix(key) {
                    for d in dirs.split(',') {
                        self.mkdir(d.trim());
                    }
                }
            }
        }
        let cmdline = [
            "/usr/bin/java",
            &format!("-Xmx{heap}"),
            &format!("-Xms{heap}"),
            "-XX:+UseG1GC",
            "-cp",
            "/opt/kafka/libs/*",
            "kafka.Kafka",
            &config,
        ]
        .join("\0");
        let proc = format!("/proc/{pid}");
        self.write(&format!("{proc}/cmdline"), &(cmdline + "\0"));
        self.write(
            &format!("{proc}/mountinfo"),
            &(self.mountinfo.join("\n") + "\n"),
        );
        self.link(&format!("{proc}/ns/mnt"), "mnt:[4026531841]");
        self.link(&format!("{proc}/cwd"), "/");
        self.write(
            &format!("{proc}/maps"),
            &"7f00-7f01 r--s 00000000 08:11 1 /data/x.index\n".repeat(maps),
        );
        self.mkdir(&format!("{proc}/fd"));
        for i in 0..fds {
            self.write(&format!("{proc}/fd/{i}"), "");
        }
        self.nofile(pid, 100_000);
        self.write(
            &format!("{proc}/cgroup"),
            "0::/system.slice/kafka.service\n",
        );
    }
}
