//! Broker JVMs: finding them in /proc and reading, from their command lines,
//! their flags and where they write their GC logs.

use std::path::{Path, PathBuf};

use regex::Regex;

use crate::host::Host;

pub mod perfdata;

/// A running JVM that matched the broker pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jvm {
    /// Process id.
    pub pid: i32,
    /// Full command line.
    pub cmdline: Vec<String>,
    /// The process's working directory (relative log paths resolve against it).
    pub cwd: Option<PathBuf>,
    /// GC log files named on the command line (`%p` expanded; `%t` left as
    /// a glob), as paths on this host: through `/proc/PID/root` for a JVM
    /// in a container, whose paths are in its own mount namespace.
    pub gc_logs: Vec<PathBuf>,
    /// Set when the JVM has a mount namespace of its own (a container).
    pub container: Option<Container>,
}

/// The container a process runs in, when it has a mount namespace of its own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Container {
    /// `docker`, `containerd`, `kubernetes`, `podman`, or `container` when the
    /// cgroup path names no runtime.
    pub runtime: String,
}

/// What [`Container::runtime`] says when the cgroup path names no runtime:
/// all that is known is that the process has a mount namespace of its own.
pub const NO_RUNTIME: &str = "container";

impl Container {
    /// `in a docker container`, or, when no runtime is named (a plain
    /// mount namespace: `unshare -m`, a systemd unit's private mounts),
    /// `in a mount namespace of its own`.
    pub fn describe(&self) -> String {
        if self.runtime == NO_RUNTIME {
            "in a mount namespace of its own".to_string()
        } else {
            format!("in a {} container", self.runtime)
        }
    }
}

/// The container of a process whose mount namespace is not ours.
pub fn container_of(host: &Host, pid: i32) -> Option<Container> {
    let ns = |who: &str| std::fs::read_link(host.path(format!("/proc/{who}/ns/mnt"))).ok();
    let theirs = ns(&pid.to_string())?;
    if ns("self").is_some_and(|ours| ours == theirs) {
        return None;
    }
    let cgroup = crate::file_kind::read_text(
        &host.path(format!("/proc/{pid}/cgroup")),
        crate::file_kind::MAX_KERNEL_FILE_BYTES,
    )
    .unwrap_or_default();
    let runtime = if cgroup.contains("kubepods") {
        "kubernetes"
    } else if cgroup.contains("docker") {
        "docker"
    } else if cgroup.contains("libpod") {
        "podman"
    } else if cgroup.contains("containerd") {
        "containerd"
    } else {
        NO_RUNTIME
    };
    Some(Container {
        runtime: runtime.to_string(),
    })
}

impl Jvm {
    /// The JVM options: arguments that start with `-` before the main class or `-jar`.
    pub fn flags(&self) -> Vec<String> {
        jvm_options(&self.cmdline)
    }

    /// `kafka.Kafka (-Xmx6g -XX:+UseG1GC ...)`: the main class and heap/GC flags, for reports.
    pub fn summary(&self) -> String {
        let main = main_class(&self.cmdline).unwrap_or_else(|| "java".into());
        let key: Vec<String> = self
            .flags()
            .into_iter()
            .filter(|f| {
                f.starts_with("-Xm")
                    || f.starts_with("-XX:+Use")
                    || f.starts_with("-XX:MaxGCPauseMillis")
            })
            .collect();
        let mut s = if key.is_empty() {
            main
        } else {
            format!("{main} ({})", key.join(" "))
        };
        if let Some(c) = &self.container {
            s.push(' ');
            s.push_str(&c.describe());
        }
        s
    }
}

/// Launcher options whose value is the next argument.
const OPTIONS_WITH_VALUE: [&str; 7] = [
    "-cp",
    "-classpath",
    "--class-path",
    "--module-path",
    "-p",
    "--add-opens",
    "--add-exports",
];

/// Options before the main class: what the JVM itself interprets.
pub fn jvm_options(cmdline: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut args = cmdline.iter().skip(1);
    while let Some(a) = args.next() {
        if !a.starts_with('-') || a == "-jar" {
            break;
        }
        out.push(a.clone());
        // Options whose value is the next argument.
        if OPTIONS_WITH_VALUE.contains(&a.as_str()) {
            args.next();
        }
    }
    out
}

fn main_class(cmdline: &[String]) -> Option<String> {
    main_class_index(cmdline).map(|i| cmdline[i].clone())
}

/// Where the main class (or, after `-jar`, the jar) stands in the command
/// line: the application's own arguments follow it.
pub fn main_class_index(cmdline: &[String]) -> Option<usize> {
    let mut i = 1;
    while i < cmdline.len() {
        let a = cmdline[i].as_str();
        if a == "-jar" {
            return (i + 1 < cmdline.len()).then_some(i + 1);
        }
        if OPTIONS_WITH_VALUE.contains(&a) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// GC log files a JVM command line names: `-Xlog:<gc selectors>:file=PATH...`
/// (or `-Xlog:gc:PATH`) and JDK 8's `-Xloggc:PATH`. `%p` becomes the pid;
/// `%t` (the JVM's start time) becomes `*` so the caller can glob for it.
pub fn gc_log_paths(cmdline: &[String], pid: i32, cwd: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for arg in jvm_options(cmdline) {
        let raw = if let Some(rest) = arg.strip_prefix("-Xloggc:") {
            Some(rest.to_string())
        } else if let Some(rest) = arg.strip_prefix("-Xlog:") {
            xlog_gc_file(rest)
        } else {
            None
        };
        let Some(raw) = raw else { continue };
        let expanded = raw.replace("%p", &pid.to_string()).replace("%t", "*");
        let mut path = PathBuf::from(expanded);
        if path.is_relative() {
            if let Some(cwd) = cwd {
                path = cwd.join(path);
            }
        }
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// The file output of one `-Xlog:` option when its selection includes gc.
fn xlog_gc_file(spec: &str) -> Option<String> {
    // what[:output[:decorators[:options]]]; a quoted file name may hold ':'.
    let (what, rest) = spec.split_once(':')?;
    let selects_gc = what.is_empty()
        || what.split(',').any(|s| {
            s.split('=')
                .next()
                .is_some_and(|tags| tags.split('+').any(|t| t.trim_end_matches('*') == "gc"))
        });
    if !selects_gc || what.contains("disable") {
        return None;
    }
    let output = if let Some(q) = rest.strip_prefix("file=\"") {
        q.split_once('"').map(|(p, _)| p.to_string())?
    } else {
        let out = rest.split(':').next()?;
        out.strip_prefix("file=").unwrap_or(out).to_string()
    };
    if output.is_empty() || output == "stdout" || output == "stderr" {
        return None;
    }
    Some(output)
}

/// Finds running JVMs whose command line matches `pattern`.
pub fn find_jvms(host: &Host, pattern: &Regex) -> Vec<Jvm> {
    host.find_java_processes(pattern)
        .into_iter()
        .map(|p| {
            let cwd = std::fs::read_link(host.path(format!("/proc/{}/cwd", p.pid))).ok();
            let container = container_of(host, p.pid);
            let gc_logs = if container.is_some() {
                // Its paths are in its own mount namespace: reach them through
                // the kernel's links to its root and working directory.
                let root = host.path(format!("/proc/{}/root", p.pid));
                let cwd = host.path(format!("/proc/{}/cwd", p.pid));
                gc_log_paths(&p.cmdline, p.pid, Some(&cwd))
                    .into_iter()
                    .map(|path| match path.strip_prefix("/") {
                        Ok(rel) if !path.starts_with(&cwd) => root.join(rel),
                        _ => path,
                    })
                    .collect()
            } else {
                gc_log_paths(&p.cmdline, p.pid, cwd.as_deref())
            };
            Jvm {
                pid: p.pid,
                cmdline: p.cmdline,
                cwd,
                gc_logs,
                container,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn kafka_start_script_log_path() {
        let cmd = args(
            "/usr/bin/java -Xmx6g -Xms6g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
             -Xlog:gc*:file=/var/log/kafka/kafkaServer-gc.log:time,tags:filecount=10,filesize=100M \
             -cp /opt/kafka/libs/* kafka.Kafka /etc/kafka/server.properties",
        );
        assert_eq!(
            gc_log_paths(&cmd, 42, None),
            vec![PathBuf::from("/var/log/kafka/kafkaServer-gc.log")]
        );
        let jvm = Jvm {
            pid: 42,
            cmdline: cmd,
            cwd: None,
            gc_logs: vec![],
            container: None,
        };
        assert_eq!(
            jvm.summary(),
            "kafka.Kafka (-Xmx6g -Xms6g -XX:+UseG1GC -XX:MaxGCPauseMillis=20)"
        );
        assert!(!jvm.flags().iter().any(|f| f.contains("server.properties")));
    }

    #[test]
    fn jdk8_pid_time_relative_and_non_gc_outputs() {
        let cmd = args("java -Xloggc:logs/gc-%p-%t.log -XX:+PrintGCDetails kafka.Kafka");
        assert_eq!(
            gc_log_paths(&cmd, 7, Some(Path::new("/opt/kafka"))),
            vec![PathBuf::from("/opt/kafka/logs/gc-7-*.log")]
        );
        let cmd = args(
            "java -Xlog:safepoint:file=/tmp/sp.log -Xlog:gc:stdout -Xlog:gc+heap=debug:/tmp/h.log x.Main",
        );
        assert_eq!(
            gc_log_paths(&cmd, 1, None),
            vec![PathBuf::from("/tmp/h.log")]
        );
        let cmd = vec![
            "java".to_string(),
            "-Xlog:gc*:file=\"/tmp/a:b.log\"::filecount=2".to_string(),
            "M".to_string(),
        ];
        assert_eq!(
            gc_log_paths(&cmd, 1, None),
            vec![PathBuf::from("/tmp/a:b.log")]
        );
    }
}
