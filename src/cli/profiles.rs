//! `tunekeeper profiles list|show`.

use serde::Serialize;
use tunekeeper::present::text::columns;
use tunekeeper::profile::Profile;

use super::{Format, Global, print_json};

/// `profiles` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ProfilesCommand {
    /// Every profile available, and where it comes from.
    List,
    /// A profile's effective settings after inheritance, with their sources.
    Show {
        /// Profile name or path to a .toml file.
        name: String,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// One effective setting, for display.
#[derive(Debug, Serialize)]
struct Row {
    section: String,
    key: String,
    expect: String,
    from: String,
    why: Option<String>,
}

fn rows(p: &Profile) -> Vec<Row> {
    let mut out = Vec::new();
    let mut push = |section: &str, key: String, s: &tunekeeper::profile::Setting| {
        out.push(Row {
            section: section.into(),
            key,
            expect: s.expect.to_string(),
            from: s.from.clone(),
            why: s.why.clone(),
        })
    };
    for (k, s) in &p.sysctl {
        push("sysctl", k.to_string(), s);
    }
    for (k, s) in &p.thp {
        push("thp", k.clone(), s);
    }
    for (k, s) in &p.sysfs {
        push("sysfs", k.clone(), s);
    }
    for rule in p.block.values() {
        for (attr, s) in &rule.attrs {
            push(
                "block",
                format!("{} [{}] {attr}", rule.name, rule.devices_text),
                s,
            );
        }
    }
    if let Some(s) = &p.process.nofile {
        push("process", format!("nofile [/{}/]", p.process.pattern), s);
    }
    for (k, s) in &p.gc {
        push("gc", k.clone(), s);
    }
    for (k, s) in &p.jvm {
        push("jvm", k.clone(), s);
    }
    for (k, s) in &p.broker {
        push("broker", k.clone(), s);
    }
    let split = |src: &str| match src.split_once(": ") {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (src.to_string(), None),
    };
    for m in p.mounts.values() {
        let mut expect: Vec<String> = m.require.clone();
        expect.extend(m.forbid.iter().map(|o| format!("!{o}")));
        if let Some(t) = &m.fstype {
            expect.push(t.join("|"));
        }
        let (from, why) = split(&m.source);
        out.push(Row {
            section: "mount".into(),
            key: if m.paths.is_empty() {
                "data directories".into()
            } else {
                m.paths.join(" ")
            },
            expect: expect.join(","),
            from,
            why,
        });
    }
    if let Some(s) = &p.swap {
        let (from, why) = split(&s.source);
        let expect = if s.allowed { "allowed" } else { "none active" }.to_string();
        out.push(Row {
            section: "swap".into(),
            key: "active".into(),
            expect,
            from,
            why,
        });
    }
    out
}

/// Lists or shows profiles.
pub fn run(g: &Global, cmd: &ProfilesCommand) -> anyhow::Result<u8> {
    match cmd {
        ProfilesCommand::List => {
            let store = g.store();
            let mut table = vec![vec!["NAME".into(), "DESCRIPTION".into(), "SOURCE".into()]];
            for (name, origin) in store.list() {
                let desc = store
                    .load(&name)
                    .map(|p| p.description)
                    .unwrap_or_else(|e| format!("(invalid: {e})"));
                table.push(vec![name, desc, origin]);
            }
            print!("{}", columns(&table));
        }
        ProfilesCommand::Show { name, format } => {
            let p = g.profile(name)?;
            let rows = rows(&p);
            match format {
                Format::Json => print_json(&serde_json::json!({
                    "name": p.name, "origin": p.origin, "description": p.description,
                    "chain": p.chain, "settings": rows,
                }))?,
                Format::Table => {
                    use tunekeeper::present::terminal::text;
                    println!(
                        "{} ({}): {}",
                        text(&p.name),
                        text(&p.origin),
                        text(&p.description)
                    );
                    println!("includes: {}\n", text(&p.chain.join(" -> ")));
                    let mut table = vec![vec![
                        "SECTION".into(),
                        "KEY".into(),
                        "EXPECT".into(),
                        "FROM".into(),
                        "WHY".into(),
                    ]];
                    for r in rows {
                        table.push(vec![
                            r.section,
                            r.key,
                            r.expect,
                            r.from,
                            r.why.unwrap_or_default(),
                        ]);
                    }
                    print!("{}", columns(&table));
                }
            }
        }
    }
    Ok(0)
}
