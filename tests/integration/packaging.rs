//! Consistency of the packaging files with the code: the default agent config
//! parses, the agent unit's sandbox and watchdog fit the config, both packages
//! list the same files (packaging/contents), and the hidden `generate`
//! subcommand writes the man pages and completions. (`packaging/check.sh` builds and installs the
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
        "forget_roles_after",
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
    // So is the file of the roles the agent expects, under state_dir.
    let roles = tunekeeper::agent::role_state::path(&config.state_dir);
    assert!(
        state.iter().any(|d| roles.parent() == Some(d.as_path())),
        "the roles file {} is outside StateDirectory {state:?}",
        roles.display()
    );
    // ...and not the directory of root's rollback journal.
    assert!(
        !state
            .iter()
            .any(|d| d == Path::new(tunekeeper::apply::DEFAULT_STATE_DIR)),
        "the agent must not own apply's state directory"
    );
    // systemd's watchdog: the agent notifies (READY=1, WATCHDOG=1), and the
    // packaged limit covers one pass of the loop with the default config, so
    // a healthy agent never needs to raise it.
    assert_eq!(unit_values(&unit, "Type"), ["notify"]);
    assert_eq!(unit_values(&unit, "NotifyAccess"), ["main"]);
    assert_eq!(unit_values(&unit, "Restart"), ["on-failure"]);
    let watchdog = unit_values(&unit, "WatchdogSec");
    assert_eq!(watchdog.len(), 1);
    let secs: u64 = watchdog[0]
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .expect("WatchdogSec=Ns");
    let defaults = tunekeeper::agent::config::Config::default();
    let pass = defaults.gc_poll + defaults.timeout + tunekeeper::agent::notify::WORK_ALLOWANCE;
    assert!(
        std::time::Duration::from_secs(secs) >= pass,
        "WatchdogSec={secs}s is shorter than one pass of the agent's loop ({pass:?})"
    );
    let apply = repo_file("packaging/systemd/tunekeeper-apply.service");
    assert!(
        unit_values(&apply, "ExecStart")[0].starts_with("/usr/bin/tunekeeper apply --profile ")
    );
}

/// One line of packaging/contents: (source, dest, mode, package, flags).
type ContentsLine = (String, String, String, String, Vec<String>);

fn contents() -> Vec<ContentsLine> {
    repo_file("packaging/contents")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 4, "packaging/contents: short line {l:?}");
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                f[3].to_string(),
                f[4..].iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

/// The installed paths of one package's files (globs in the repository
/// expanded; generated `@` files by their destination).
fn package_files(kind: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dests = Vec::new();
    for (src, dest, _, which, _) in contents() {
        if src == "-" || !(which == "both" || which == kind) {
            continue;
        }
        if src.starts_with('@') {
            dests.push(dest);
            continue;
        }
        let matched: Vec<PathBuf> = glob::glob(root.join(&src).to_str().unwrap())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            !matched.is_empty(),
            "packaging/contents: {src} matches no file"
        );
        for m in matched {
            dests.push(match dest.strip_suffix('/') {
                Some(dir) => format!("{dir}/{}", m.file_name().unwrap().to_str().unwrap()),
                None => dest.clone(),
            });
        }
    }
    dests.sort();
    dests
}

#[test]
fn deb_and_rpm_list_the_same_files() {
    for (src, dest, mode, which, flags) in contents() {
        assert!(dest.starts_with('/'), "{dest}: not absolute");
        assert!(
            ["0755", "0644"].contains(&mode.as_str()),
            "{dest}: mode {mode}"
        );
        assert!(
            ["both", "deb", "rpm"].contains(&which.as_str()),
            "{dest}: {which}"
        );
        for f in &flags {
            assert!(["conf", "doc"].contains(&f.as_str()), "{dest}: flag {f}");
        }
        // Conffiles live in /etc; only the binary is executable.
        assert_eq!(
            flags.contains(&"conf".to_string()),
            dest.starts_with("/etc/") && src != "-",
            "{dest}"
        );
        assert_eq!(
            mode == "0755",
            dest == "/usr/bin/tunekeeper" || src == "-",
            "{dest}"
        );
        // An owned directory is the .rpm's (dpkg tracks the .deb's itself).
        assert!(
            src != "-" || (which == "rpm" && dest.ends_with('/')),
            "{dest}"
        );
    }
    let mut deb = package_files("deb");
    // Debian-only: policy's copyright and changelog, lintian's overrides.
    deb.retain(|d| !d.starts_with("/usr/share/lintian/") && !d.starts_with("/usr/share/doc/"));
    assert_eq!(deb, package_files("rpm"));
    assert!(deb.contains(&"/usr/bin/tunekeeper".to_string()));
    assert!(deb.contains(&"/usr/lib/systemd/system/tunekeeper-agent.service".to_string()));
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
    // Every page a page refers to, `tunekeeper\-agent(1)`, was written too
    // (issue 20: the main page named pages that were not shipped).
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".1"))
        .collect();
    pages.sort();
    for page in &pages {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        let name = page.trim_end_matches(".1");
        assert!(
            text.contains(&format!(".TH {name} 1")),
            "{page}: no .TH {name}"
        );
        for (at, _) in text.match_indices("(1)") {
            let start = text[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '\\'))
                .map_or(0, |i| i + 1);
            let referred = text[start..at].replace("\\-", "-");
            assert!(
                pages.contains(&format!("{referred}.1")),
                "{page} refers to {referred}(1), which was not written"
            );
        }
        assert!(
            !text.contains("generate"),
            "{page} names the hidden subcommand"
        );
    }
    for sub in [
        "audit",
        "apply",
        "rollback",
        "profiles",
        "profiles-list",
        "gc",
        "agent",
        "collector",
    ] {
        assert!(
            pages.contains(&format!("tunekeeper-{sub}.1")),
            "no page for {sub}: {pages:?}"
        );
    }
    assert!(
        !pages.iter().any(|p| p.contains("help")),
        "a page for `help`: {pages:?}"
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
