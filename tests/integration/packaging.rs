//! Consistency of the packaging files with the code: the default agent config
//! parses, the agent unit's sandbox matches the config's paths, both packages
//! list the same files, and the hidden `generate` subcommand writes the man
//! page and completions. (`packaging/check.sh` builds and installs the
//! packages themselves.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The values of `Key=` lines in a unit file, in order.
fn unit_values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn default_agent_config_parses_and_documents_every_key() {
    let text = repo_file("packaging/agent.toml");
    let config = tunekeeper::agent::config::Config::parse(&text, Path::new("agent.toml"))
        .expect("packaging/agent.toml parses");
    let defaults = tunekeeper::agent::config::Config::default();
    assert_eq!(config.profile, defaults.profile);
    assert_eq!(config.interval, defaults.interval);
    assert_eq!(config.endpoint, None);
    assert!(!config.enforce);
    for key in [
        "profile",
        "interval",
        "endpoint",
        "token_file",
        "ca_file",
        "spool_dir",
        "spool_max_bytes",
        "spool_max_reports",
        "enforce",
        "jvm_match",
        "gc_logs",
        "metrics_listen",
        "metrics_textfile",
        "state_dir",
        "timeout",
        "waivers",
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start_matches('#').starts_with(&format!("{key} ="))),
            "packaging/agent.toml does not document `{key}`"
        );
    }
    // Every commented example is itself valid: uncomment them all.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    tunekeeper::agent::config::Config::parse(&uncommented, Path::new("agent.toml"))
        .expect("the commented examples in packaging/agent.toml parse");
}

#[test]
fn agent_unit_sandbox_fits_the_config() {
    let unit = repo_file("packaging/systemd/tunekeeper-agent.service");
    let config = tunekeeper::agent::config::Config::parse(
        &repo_file("packaging/agent.toml"),
        Path::new("agent.toml"),
    )
    .unwrap();
    assert_eq!(
        unit_values(&unit, "ExecStart"),
        ["/usr/bin/tunekeeper agent --config /etc/tunekeeper/agent.toml"]
    );
    assert_eq!(unit_values(&unit, "User"), ["tunekeeper"]);
    assert_eq!(unit_values(&unit, "ProtectSystem"), ["strict"]);
    // It must read other processes' /proc/PID/cmdline and limits, and /proc/sys.
    assert!(unit_values(&unit, "ProtectProc").is_empty());
    assert!(unit_values(&unit, "ProcSubset").is_empty());
    // The spool is the one writable place: inside the StateDirectory.
    let state: Vec<PathBuf> = unit_values(&unit, "StateDirectory")
        .iter()
        .map(|d| Path::new("/var/lib").join(d))
        .collect();
    assert!(
        state.iter().any(|d| config.spool_dir.starts_with(d)),
        "spool_dir {} is outside StateDirectory {state:?}",
        config.spool_dir.display()
    );
    // ...and not the directory of root's rollback journal.
    assert!(
        !state
            .iter()
            .any(|d| d == Path::new(tunekeeper::apply::DEFAULT_STATE_DIR)),
        "the agent must not own apply's state directory"
    );
    let apply = repo_file("packaging/systemd/tunekeeper-apply.service");
    assert!(
        unit_values(&apply, "ExecStart")[0].starts_with("/usr/bin/tunekeeper apply --profile ")
    );
}

/// `dest` of every asset of one package kind, normalised to absolute paths.
fn asset_dests(metadata: &toml::Value, kind: &str) -> Vec<String> {
    let assets = metadata[kind]["assets"].as_array().expect("assets");
    let mut dests: Vec<String> = assets
        .iter()
        .map(|a| {
            let (src, dest) = match a {
                toml::Value::Array(v) => (v[0].as_str().unwrap(), v[1].as_str().unwrap()),
                t => (t["source"].as_str().unwrap(), t["dest"].as_str().unwrap()),
            };
            let dest = format!("/{}", dest.trim_start_matches('/'));
            if dest.ends_with('/') {
                let name = Path::new(src).file_name().unwrap().to_str().unwrap();
                format!("{dest}{name}")
            } else {
                dest
            }
        })
        .collect();
    dests.sort();
    dests
}

#[test]
fn deb_and_rpm_list_the_same_files() {
    let manifest: toml::Value = toml::from_str(&repo_file("Cargo.toml")).unwrap();
    let metadata = &manifest["package"]["metadata"];
    let mut deb = asset_dests(metadata, "deb");
    // cargo-deb adds the units from systemd-units; Debian-only files aside.
    deb.extend(
        [
            "/usr/lib/systemd/system/tunekeeper-agent.service",
            "/usr/lib/systemd/system/tunekeeper-apply.service",
        ]
        .map(String::from),
    );
    // Debian-only: lintian's overrides and the Debian changelog (an asset,
    // since it is generated into the build's output directory).
    deb.retain(|d| {
        !d.starts_with("/usr/share/lintian/")
            && d != "/usr/share/doc/tunekeeper/changelog.Debian.gz"
    });
    deb.sort();
    let rpm = asset_dests(metadata, "generate-rpm");
    assert_eq!(deb, rpm);
}

#[test]
fn generate_writes_man_page_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    for what in ["man", "completions"] {
        let status = Command::new(env!("CARGO_BIN_EXE_tunekeeper"))
            .args(["generate", what])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(status.status.success(), "generate {what}: {status:?}");
    }
    let man = std::fs::read_to_string(dir.path().join("tunekeeper.1")).unwrap();
    assert!(man.contains(".TH tunekeeper 1"));
    assert!(man.contains("audit"));
    assert!(
        !man.contains("generate"),
        "the hidden subcommand is in the man page"
    );
    for file in ["tunekeeper.bash", "_tunekeeper", "tunekeeper.fish"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(text.contains("audit"), "{file} lacks the audit subcommand");
        assert!(
            !text.contains("generate"),
            "{file} offers the hidden subcommand"
        );
        assert!(!text.contains("--root"), "{file} offers the hidden --root");
    }
}
