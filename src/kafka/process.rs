//! Kafka-family JVMs on this host: which process is a broker, a KRaft
//! controller or a ZooKeeper node, the configuration it was started with,
//! and whether it runs in a container (its own mount namespace), in which
//! case every path it names is read through `/proc/PID/root`.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Serialize;

use super::properties::{Properties, PropertiesError};
use crate::host::Host;
pub use crate::jvm::Container;
use crate::jvm::{Jvm, find_jvms, main_class_index};

/// Main classes of Kafka brokers and controllers.
const KAFKA_MAIN: [&str; 2] = ["kafka.Kafka", "io.confluent.support.metrics.SupportedKafka"];
/// Main classes of ZooKeeper servers.
const ZOOKEEPER_MAIN: [&str; 2] = [
    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
    "org.apache.zookeeper.server.ZooKeeperServerMain",
];

/// Kafka's default when neither `log.dirs` nor `log.dir` is set.
pub const KAFKA_DEFAULT_LOG_DIR: &str = "/tmp/kafka-logs";

/// What a Kafka-family process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A Kafka broker (ZooKeeper mode, or KRaft `process.roles=broker`).
    Broker,
    /// A KRaft controller only.
    Controller,
    /// KRaft combined mode: `process.roles=broker,controller`.
    BrokerController,
    /// A ZooKeeper server.
    Zookeeper,
}

impl Role {
    /// The shipped profile for this role.
    pub fn profile(self) -> &'static str {
        match self {
            Role::Broker | Role::BrokerController => "kafka-broker",
            Role::Controller => "kraft-controller",
            Role::Zookeeper => "zookeeper",
        }
    }

    /// True when the process serves client traffic and stores partitions.
    pub fn is_broker(self) -> bool {
        matches!(self, Role::Broker | Role::BrokerController)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Broker => "broker",
            Role::Controller => "controller",
            Role::BrokerController => "broker+controller",
            Role::Zookeeper => "zookeeper",
        })
    }
}

/// Why a process's configuration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    /// No argument after the main class.
    #[error("its command line names no properties file after the main class")]
    NoFile,
    /// The file could not be read.
    #[error("{}: {error}", path.display())]
    Unreadable {
        /// The file, as the process names it.
        path: PathBuf,
        /// The I/O error.
        error: String,
    },
    /// The file is not valid Java properties.
    #[error("{}: {error}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: PropertiesError,
    },
}

/// A data directory the process writes, with the key that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataDir {
    /// The path as the process sees it.
    pub path: PathBuf,
    /// `log.dirs`, `log.dir`, `metadata.log.dir`, `dataDir`, `dataLogDir`,
    /// or `default` (Kafka's `/tmp/kafka-logs`).
    pub from: String,
}

/// One Kafka-family JVM.
#[derive(Debug, Clone)]
pub struct KafkaProcess {
    /// The JVM (pid, command line, GC logs).
    pub jvm: Jvm,
    /// Its main class.
    pub main_class: String,
    /// Broker, controller, both, or ZooKeeper. Without a readable
    /// configuration a `kafka.Kafka` process counts as a broker.
    pub role: Role,
    /// The properties file named on the command line.
    pub config_path: Option<PathBuf>,
    /// The configuration (file plus `--override`s), or why there is none.
    pub config: Result<Properties, ConfigProblem>,
    /// Set when the process has its own mount namespace.
    pub container: Option<Container>,
}

impl KafkaProcess {
    /// Where a path the process names lies on this host: inside its own
    /// root when it runs in a container, relative paths against its cwd.
    pub fn host_path(&self, host: &Host, path: &Path) -> PathBuf {
        let pid = self.jvm.pid;
        if path.is_relative() {
            return host.path(format!("/proc/{pid}/cwd")).join(path);
        }
        if self.container.is_some() {
            let rel = path.strip_prefix("/").unwrap_or(path);
            host.path(format!("/proc/{pid}/root")).join(rel)
        } else {
            host.path(path)
        }
    }

    /// The directories it stores data in, from its configuration.
    pub fn data_dirs(&self) -> Vec<DataDir> {
        let Ok(cfg) = &self.config else {
            return Vec::new();
        };
        let dir = |path: &str, from: &str| DataDir {
            path: PathBuf::from(path.trim()),
            from: from.to_string(),
        };
        let mut out = Vec::new();
        if self.role == Role::Zookeeper {
            for key in ["dataDir", "dataLogDir"] {
                if let Some(v) = cfg.get(key).filter(|v| !v.trim().is_empty()) {
                    out.push(dir(v, key));
                }
            }
        } else {
            let metadata = cfg.get("metadata.log.dir").filter(|v| !v.trim().is_empty());
            match (cfg.get("log.dirs"), cfg.get("log.dir")) {
                (Some(dirs), _) if !dirs.trim().is_empty() => out.extend(
                    dirs.split(',')
                        .filter(|d| !d.trim().is_empty())
                        .map(|d| dir(d, "log.dirs")),
                ),
                (_, Some(d)) if !d.trim().is_empty() => out.push(dir(d, "log.dir")),
                _ => out.push(dir(KAFKA_DEFAULT_LOG_DIR, "default")),
            }
            if self.role == Role::Controller {
                // A controller holds no partitions: only its metadata log,
                // in metadata.log.dir, else the first log directory.
                match metadata {
                    Some(m) => out = vec![dir(m, "metadata.log.dir")],
                    None => out.truncate(1),
                }
            } else if let Some(m) = metadata {
                out.push(dir(m, "metadata.log.dir"));
            }
        }
        let mut seen = Vec::new();
        out.retain(|d| {
            let new = !seen.contains(&d.path);
            seen.push(d.path.clone());
            new
        });
        out
    }

    /// The `--override key=value` pairs on its command line, in order.
    pub fn overrides(&self) -> Vec<(String, String)> {
        let cmd = &self.jvm.cmdline;
        main_class_index(cmd).map_or_else(Vec::new, |at| overrides(&cmd[at + 1..]))
    }

    /// Kafka's own `cluster.id`, from `meta.properties` in the first data
    /// directory that has one (written by the broker at first start), with
    /// that file's path as the process names it.
    pub fn cluster_id(&self, host: &Host) -> Option<(String, PathBuf)> {
        self.data_dirs().into_iter().find_map(|d| {
            let named = d.path.join("meta.properties");
            let bytes = crate::file_kind::read_small_regular(
                &self.host_path(host, &named),
                MAX_CONFIG_BYTES,
            )
            .ok()?;
            let props = Properties::parse(&String::from_utf8_lossy(&bytes)).ok()?;
            let id = props.get("cluster.id")?.trim();
            (!id.is_empty()).then(|| (id.to_string(), named))
        })
    }

    /// The timeouts its pauses run into, by its role, from its own
    /// configuration (Kafka's or ZooKeeper's defaults where it sets none);
    /// why there are none when its configuration cannot be read or holds a
    /// value that is not a number.
    pub fn timeouts(&self) -> Result<Vec<crate::gc::budget::TimeoutLimit>, String> {
        let cfg = self.config.as_ref().map_err(|e| e.to_string())?;
        let file = self
            .config_path
            .as_deref()
            .ok_or_else(|| ConfigProblem::NoFile.to_string())?;
        super::timeouts::role_timeouts(self.role, cfg, file, &self.overrides())
            .map_err(|e| e.to_string())
    }

    /// `broker (/etc/kafka/server.properties)`, for findings.
    pub fn describe(&self) -> String {
        let mut s = self.role.to_string();
        if let Some(p) = &self.config_path {
            s.push_str(&format!(" ({})", p.display()));
        }
        if let Some(c) = &self.container {
            s.push(' ');
            s.push_str(&c.describe());
        }
        s
    }
}

/// Every Kafka broker, KRaft controller and ZooKeeper JVM on the host.
pub fn find_kafka_processes(host: &Host) -> Vec<KafkaProcess> {
    let pattern =
        Regex::new(r"kafka\.Kafka|SupportedKafka|zookeeper\.server\.").expect("a valid pattern");
    find_jvms(host, &pattern)
        .into_iter()
        .filter_map(|jvm| inspect(host, jvm))
        .collect()
}

/// Reads one JVM's role and configuration; None when it is not Kafka-family
/// (the pattern matched only an argument, not the main class).
fn inspect(host: &Host, jvm: Jvm) -> Option<KafkaProcess> {
    let at = main_class_index(&jvm.cmdline)?;
    let main_class = jvm.cmdline[at].clone();
    let zookeeper = ZOOKEEPER_MAIN.contains(&main_class.as_str());
    if !zookeeper && !KAFKA_MAIN.contains(&main_class.as_str()) {
        return None;
    }
    let args = jvm.cmdline[at + 1..].to_vec();
    let config_path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from);
    let mut proc = KafkaProcess {
        container: jvm.container.clone(),
        jvm,
        main_class,
        role: if zookeeper {
            Role::Zookeeper
        } else {
            Role::Broker
        },
        config_path: config_path.clone(),
        config: Err(ConfigProblem::NoFile),
    };
    if let Some(path) = &config_path {
        proc.config = read_config(&proc.host_path(host, path), path).map(|mut cfg| {
            for (k, v) in overrides(&args) {
                cfg.set(k, v);
            }
            cfg
        });
    }
    if !zookeeper {
        if let Ok(cfg) = &proc.config {
            proc.role = Role::from_process_roles(cfg.get("process.roles"));
        }
    }
    Some(proc)
}

/// `--override key=value` pairs, in order (kafka.Kafka's own syntax).
fn overrides(args: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--override" {
            if let Some((k, v)) = it.next().and_then(|kv| kv.split_once('=')) {
                out.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    out
}

impl Role {
    /// A `kafka.Kafka` process's role from its `process.roles` (unset: a
    /// ZooKeeper-mode broker).
    pub fn from_process_roles(roles: Option<&str>) -> Role {
        let Some(roles) = roles else {
            return Role::Broker;
        };
        let has = |r: &str| roles.split(',').any(|x| x.trim() == r);
        match (has("broker"), has("controller")) {
            (true, true) => Role::BrokerController,
            (false, true) => Role::Controller,
            _ => Role::Broker,
        }
    }
}

/// A properties file is read whole: cap it so a wrong path (a log named by
/// mistake) cannot take the agent's memory.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

fn read_config(on_host: &Path, named: &Path) -> Result<Properties, ConfigProblem> {
    let unreadable = |error: String| ConfigProblem::Unreadable {
        path: named.to_path_buf(),
        error,
    };
    let bytes = crate::file_kind::read_small_regular(on_host, MAX_CONFIG_BYTES)
        .map_err(|e| unreadable(e.to_string()))?;
    // Properties files are ISO-8859-1 by the JVM's rules; ASCII is what
    // matters here, so decode leniently.
    Properties::parse(&String::from_utf8_lossy(&bytes)).map_err(|error| ConfigProblem::Malformed {
        path: named.to_path_buf(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn overrides_and_roles() {
        let a = args("/etc/kafka/server.properties --override log.dirs=/a,/b --override x");
        assert_eq!(
            overrides(&a[1..]),
            vec![("log.dirs".into(), "/a,/b".into())]
        );
        assert_eq!(Role::from_process_roles(None), Role::Broker);
        assert_eq!(
            Role::from_process_roles(Some("controller")),
            Role::Controller
        );
        assert_eq!(
            Role::from_process_roles(Some("broker, controller")),
            Role::BrokerController
        );
        assert_eq!(Role::from_process_roles(Some("broker")), Role::Broker);
    }
}
