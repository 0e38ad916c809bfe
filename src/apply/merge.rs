//! One plan for several profiles: what every expected role's profile wants
//! of one host-wide setting, reduced to one value that satisfies them all,
//! or to a conflict when no value does.
//!
//! A host running a broker beside ZooKeeper (or a controller) has one
//! `vm.dirty_background_ratio`: the broker's `5` and ZooKeeper's `<=10`
//! meet at 5, and that is written. Where no value meets every expectation
//! (`5` and `>=20`), nothing is written for that key: a guess would leave
//! one role drifting while the plan claimed to have tuned it.

use serde::Serialize;

use super::Target;
use crate::expect::{Component, Expectation, Op, Operand, normalise};
use crate::profile::Setting;

/// The most alternative combinations looked at for one key. Shipped
/// profiles need a handful; a profile of thousands of `a|b|...` words,
/// times three roles, must not stall the agent's interval.
const MAX_TRIES: usize = 10_000;

/// What every profile that sets one key expects of it, in role order.
#[derive(Debug, Clone, Default)]
pub struct Wanted<'a> {
    by: Vec<(&'a str, &'a Setting)>,
}

/// Why no value could be chosen for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsolved {
    /// No value satisfies every expectation.
    Conflict,
    /// The expectations have too many alternatives to compare them all.
    TooMany,
}

impl<'a> Wanted<'a> {
    /// One profile's expectation.
    pub fn one(profile: &'a str, setting: &'a Setting) -> Wanted<'a> {
        Wanted {
            by: vec![(profile, setting)],
        }
    }

    /// Adds `profile`'s expectation of the key.
    pub fn add(&mut self, profile: &'a str, setting: &'a Setting) {
        self.by.push((profile, setting));
    }

    /// The distinct expectations (a setting `base` gives every role once).
    fn expectations(&self) -> Vec<&'a Expectation> {
        let mut out: Vec<&Expectation> = Vec::new();
        for (_, s) in &self.by {
            if !out.contains(&&s.expect) {
                out.push(&s.expect);
            }
        }
        out
    }

    /// True when `actual` meets every profile's expectation.
    pub fn matches(&self, actual: &str) -> bool {
        self.by.iter().all(|(_, s)| s.expect.matches(actual))
    }

    /// Every profile's source (`profile: why`), each said once.
    pub fn why(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for (_, s) in &self.by {
            let src = s.source();
            if !out.contains(&src) {
                out.push(src);
            }
        }
        out.join("; ")
    }

    /// The value to write: one expectation's own target (bounds never
    /// lower a better value), else the value every expectation accepts,
    /// closest to `current`.
    pub fn target(&self, current: Option<&str>) -> Result<String, Unsolved> {
        match self.expectations().as_slice() {
            [one] => Ok(one.target(current)),
            many => solve(many, current),
        }
    }

    /// The concrete values (words of alternatives, not bounds) every
    /// expectation accepts, first profile's order first: for files that
    /// offer a choice (`[none] mq-deadline`), the first one offered wins.
    pub fn choices(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, s) in &self.by {
            for alt in s.expect.to_string().split('|') {
                if self.matches(alt) && !out.iter().any(|o| o == alt) {
                    out.push(alt.to_string());
                }
            }
        }
        out
    }

    /// The expectations as one text (`madvise|never`; joined with ` and `
    /// when profiles differ), for messages.
    pub fn text(&self) -> String {
        self.expectations()
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// The conflict on `key`: every profile's expectation, with its reason.
    pub fn conflict(&self, target: Target, key: String, current: &str, why: Unsolved) -> Conflict {
        Conflict {
            target,
            key,
            current: normalise(current),
            wanted: self
                .by
                .iter()
                .map(|(profile, s)| Wish {
                    profile: (*profile).to_string(),
                    expect: s.expect.to_string(),
                    why: s.source(),
                })
                .collect(),
            too_many: why == Unsolved::TooMany,
        }
    }
}

/// One profile's expectation in a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wish {
    /// The profile (`kafka-broker`), as the role's audit names it.
    pub profile: String,
    /// Its expectation (`5`, `>=20`).
    pub expect: String,
    /// Where it comes from (`kafka-broker: ...`).
    pub why: String,
}

/// A key the profiles of this host's roles want set to values no single
/// value satisfies: apply writes nothing for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// sysctl or sysfs.
    pub target: Target,
    /// The key, as a step would name it (`vm.dirty_background_ratio`).
    pub key: String,
    /// Its value now, left as it is.
    pub current: String,
    /// What each profile wants.
    pub wanted: Vec<Wish>,
    /// Not proven contrary: too many alternatives to compare them all.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub too_many: bool,
}

impl Conflict {
    /// What happened and what to do, in one sentence.
    pub fn message(&self) -> String {
        let wishes: Vec<String> = self
            .wanted
            .iter()
            .map(|w| format!("{} expects {} ({})", w.profile, w.expect, w.why))
            .collect();
        let why = if self.too_many {
            format!(
                "the expectations have too many alternatives to find one value (more than {MAX_TRIES} tried)"
            )
        } else {
            "no value satisfies them all".to_string()
        };
        format!(
            "{}: {}; {why}, so nothing is written for it (it stays {}) while the rest of the plan applies. \
             Decide which role wins: waive the key for this host in waivers.toml with the reason, or write \
             a profile of your own for this host (include the roles' profiles, set the key once) and name it \
             with --profile, or `profile` in the agent's configuration",
            self.key,
            wishes.join("; "),
            if self.current.is_empty() {
                "as it is"
            } else {
                &self.current
            }
        )
    }
}

/// The value every expectation in `exps` accepts: the current one when it
/// already does; else, trying alternatives in order (the first profile's
/// first), each component the current value when within every bound, else
/// the nearest bound, else the exact value they share.
pub fn solve(exps: &[&Expectation], current: Option<&str>) -> Result<String, Unsolved> {
    if let Some(cur) = current
        && exps.iter().all(|e| e.matches(cur))
    {
        return Ok(normalise(cur));
    }
    let words: Vec<&str> = current
        .map(|c| c.split_whitespace().collect())
        .unwrap_or_default();
    let mut tries = MAX_TRIES;
    let mut chosen: Vec<&[Component]> = Vec::with_capacity(exps.len());
    match search(exps, &mut chosen, &words, &mut tries) {
        Some(v) => Ok(v),
        None if tries == 0 => Err(Unsolved::TooMany),
        None => Err(Unsolved::Conflict),
    }
}

/// Depth first over one alternative per expectation, pruning a choice as
/// soon as a component can no longer be met.
fn search<'e>(
    exps: &[&'e Expectation],
    chosen: &mut Vec<&'e [Component]>,
    words: &[&str],
    tries: &mut usize,
) -> Option<String> {
    let Some(next) = exps.get(chosen.len()) else {
        return value(chosen, words);
    };
    for alt in next.alternatives() {
        if *tries == 0 {
            return None;
        }
        *tries -= 1;
        if chosen.first().is_some_and(|first| first.len() != alt.len()) {
            continue;
        }
        chosen.push(alt);
        let feasible = (0..alt.len()).all(|i| slot(chosen, i).is_some());
        if feasible && let Some(v) = search(exps, chosen, words, tries) {
            return Some(v);
        }
        chosen.pop();
    }
    None
}

/// What the chosen alternatives allow at one position.
enum Slot<'e> {
    /// Exactly this word.
    Word(&'e str),
    /// An integer between these bounds (inclusive; `None`: unbounded).
    Range(Option<i128>, Option<i128>),
}

fn slot<'e>(chosen: &[&'e [Component]], i: usize) -> Option<Slot<'e>> {
    let mut word: Option<&str> = None;
    let (mut lo, mut hi): (Option<i128>, Option<i128>) = (None, None);
    let mut ints = false;
    for alt in chosen {
        let c = &alt[i];
        match &c.operand {
            Operand::Text(t) => {
                if word.is_some_and(|w| w != t) {
                    return None;
                }
                word = Some(t);
            }
            Operand::Int(v) => {
                ints = true;
                let (l, h) = match c.op {
                    Op::Eq => (Some(*v), Some(*v)),
                    Op::Ge => (Some(*v), None),
                    Op::Gt => (Some(v + 1), None),
                    Op::Le => (None, Some(*v)),
                    Op::Lt => (None, Some(v - 1)),
                };
                lo = lo.max(l);
                hi = match (hi, h) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
    }
    match (word, ints) {
        // A word is not a number: `4096` and `never` cannot both hold.
        (Some(_), true) => None,
        (Some(w), false) => Some(Slot::Word(w)),
        (None, _) => match (lo, hi) {
            (Some(l), Some(h)) if l > h => None,
            _ => Some(Slot::Range(lo, hi)),
        },
    }
}

fn value(chosen: &[&[Component]], words: &[&str]) -> Option<String> {
    let len = chosen.first()?.len();
    let mut parts = Vec::with_capacity(len);
    for i in 0..len {
        parts.push(match slot(chosen, i)? {
            Slot::Word(w) => w.to_string(),
            Slot::Range(lo, hi) => {
                let cur = words.get(i).and_then(|w| w.parse::<i128>().ok());
                let v = match (cur, lo, hi) {
                    (Some(c), Some(l), _) if c < l => l,
                    (Some(c), _, Some(h)) if c > h => h,
                    (Some(c), _, _) => c,
                    (None, Some(l), _) => l,
                    (None, None, Some(h)) => h,
                    (None, None, None) => return None,
                };
                v.to_string()
            }
        });
    }
    Some(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(expect: &str, from: &str) -> Setting {
        Setting {
            expect: Expectation::parse(expect).unwrap(),
            from: from.into(),
            why: Some(format!("{from}'s reason")),
        }
    }

    fn solve_text(exps: &[&str], current: Option<&str>) -> Result<String, Unsolved> {
        let parsed: Vec<Expectation> = exps
            .iter()
            .map(|e| Expectation::parse(e).unwrap())
            .collect();
        let refs: Vec<&Expectation> = parsed.iter().collect();
        solve(&refs, current)
    }

    #[test]
    fn agreeing_keys_keep_one_value() {
        let b = setting("1", "base");
        let mut w = Wanted::one("kafka-broker", &b);
        w.add("zookeeper", &b);
        assert_eq!(w.target(Some("60")), Ok("1".into()));
        assert_eq!(w.why(), "base: base's reason", "one source, said once");
        assert!(w.matches("1") && !w.matches("60"));
    }

    #[test]
    fn an_exact_value_inside_a_range_is_written() {
        // The shipped profiles: the broker's `5`, ZooKeeper's `<=10`.
        let broker = setting("5", "kafka-broker");
        let zk = setting("<=10", "zookeeper");
        let mut w = Wanted::one("kafka-broker", &broker);
        w.add("zookeeper", &zk);
        assert_eq!(w.target(Some("20")), Ok("5".into()));
        assert_eq!(w.target(Some("3")), Ok("5".into()));
        assert_eq!(w.target(None), Ok("5".into()));
        // Either order.
        let mut w = Wanted::one("zookeeper", &zk);
        w.add("kafka-broker", &broker);
        assert_eq!(w.target(Some("20")), Ok("5".into()));
    }

    #[test]
    fn ranges_meet_where_both_hold_never_lowering_a_good_value() {
        assert_eq!(
            solve_text(&[">=262144", ">=65530"], Some("65530")),
            Ok("262144".into())
        );
        assert_eq!(
            solve_text(&[">=262144", ">=65530"], Some("1048576")),
            Ok("1048576".into())
        );
        assert_eq!(solve_text(&[">=5", "<=10"], Some("20")), Ok("10".into()));
        assert_eq!(solve_text(&[">=5", "<=10"], Some("1")), Ok("5".into()));
        assert_eq!(solve_text(&[">5", "<7"], None), Ok("6".into()));
        // Per component, whitespace normalised.
        assert_eq!(
            solve_text(
                &["4096 >=65536 >=2048000", "4096 >=87380 <=4194304"],
                Some("4096 16384 6291456")
            ),
            Ok("4096 87380 4194304".into())
        );
    }

    #[test]
    fn alternatives_meet_on_a_shared_word() {
        assert_eq!(
            solve_text(&["madvise|never", "never"], Some("always")),
            Ok("never".into())
        );
        assert_eq!(
            solve_text(&["madvise|never", "never|madvise"], Some("always")),
            Ok("madvise".into())
        );
        let a = setting("none|mq-deadline", "kafka-broker");
        let b = setting("mq-deadline|bfq", "other");
        let mut w = Wanted::one("kafka-broker", &a);
        w.add("other", &b);
        assert_eq!(w.choices(), ["mq-deadline"]);
    }

    #[test]
    fn a_conflict_leaves_the_key_out_and_names_both_profiles() {
        assert_eq!(
            solve_text(&["5", ">=20"], Some("10")),
            Err(Unsolved::Conflict)
        );
        assert_eq!(
            solve_text(&["never", "always"], None),
            Err(Unsolved::Conflict)
        );
        assert_eq!(
            solve_text(&["4096", "never"], None),
            Err(Unsolved::Conflict)
        );
        assert_eq!(
            solve_text(&["1 2", "1"], None),
            Err(Unsolved::Conflict),
            "component counts differ"
        );
        let broker = setting("5", "kafka-broker");
        let zk = setting(">=20", "zookeeper");
        let mut w = Wanted::one("kafka-broker", &broker);
        w.add("zookeeper", &zk);
        let why = w.target(Some("10")).unwrap_err();
        let c = w.conflict(
            Target::Sysctl,
            "vm.dirty_background_ratio".into(),
            "10\n",
            why,
        );
        let m = c.message();
        for part in [
            "vm.dirty_background_ratio",
            "kafka-broker expects 5 (kafka-broker: kafka-broker's reason)",
            "zookeeper expects >=20 (zookeeper: zookeeper's reason)",
            "no value satisfies them all",
            "nothing is written for it (it stays 10)",
            "waivers.toml",
            "profile of your own",
        ] {
            assert!(m.contains(part), "{part:?} not in {m}");
        }
        assert!(!c.too_many);
    }

    #[test]
    fn too_many_alternatives_are_said_not_searched_forever() {
        let many = |prefix: &str| {
            (0..200)
                .map(|i| format!("{prefix}{i}"))
                .collect::<Vec<_>>()
                .join("|")
        };
        let (a, b, c) = (many("a"), many("b"), many("c"));
        assert_eq!(solve_text(&[&a, &b, &c], None), Err(Unsolved::TooMany));
    }

    /// The plan of two profiles on a prepared host tree: one step per key,
    /// the merged value, the conflicting key out of steps and `--persist`.
    #[test]
    fn one_plan_for_two_profiles() {
        use crate::host::Host;
        use crate::kafka::Processes;
        use crate::profile::ProfileStore;
        let t = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = t.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("root/proc/sys/vm/swappiness", "60\n");
        write("root/proc/sys/vm/dirty_background_ratio", "20\n");
        write("root/proc/sys/vm/dirty_expire_centisecs", "1500\n");
        write("root/proc/sys/vm/dirty_writeback_centisecs", "500\n");
        write(
            "root/sys/kernel/mm/transparent_hugepage/enabled",
            "[always] madvise never\n",
        );
        write("root/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
        write(
            "broker.toml",
            "[sysctl]\n\"vm.swappiness\" = \"1\"\n\"vm.dirty_background_ratio\" = \"5\"\n\
             \"vm.dirty_writeback_centisecs\" = \"600\"\n[thp]\nenabled = \"madvise|never\"\n",
        );
        write(
            "zk.toml",
            "[sysctl]\n\"vm.swappiness\" = \"1\"\n\"vm.dirty_background_ratio\" = \"<=10\"\n\
             \"vm.dirty_expire_centisecs\" = \">=3000\"\n\"vm.dirty_writeback_centisecs\" = \"700\"\n\
             [thp]\nenabled = \"never|always\"\n",
        );
        let store = ProfileStore::with_dirs(vec![]);
        let broker = store
            .load(t.path().join("broker.toml").to_str().unwrap())
            .unwrap();
        let zk = store
            .load(t.path().join("zk.toml").to_str().unwrap())
            .unwrap();
        let host = Host::at(t.path().join("root"));
        let plan = super::super::plan_all(
            &[
                (&broker, Processes::Matching(&broker.process.pattern)),
                (&zk, Processes::Matching(&zk.process.pattern)),
            ],
            &host,
        )
        .unwrap();
        assert_eq!(plan.profile, "broker+zk");
        let steps: Vec<(&str, &str)> = plan
            .steps
            .iter()
            .map(|s| (s.key.as_str(), s.desired.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                ("vm.dirty_background_ratio", "5"),
                ("vm.dirty_expire_centisecs", "3000"),
                ("vm.swappiness", "1"),
                ("thp/enabled", "never"),
            ]
        );
        assert!(
            !plan
                .persist
                .iter()
                .any(|(k, _)| k == "vm.dirty_writeback_centisecs"),
            "{:?}",
            plan.persist
        );
        assert_eq!(plan.conflicts.len(), 1, "{:#?}", plan.conflicts);
        let c = &plan.conflicts[0];
        assert_eq!(c.key, "vm.dirty_writeback_centisecs");
        assert_eq!(c.current, "500");
        let wanted: Vec<(&str, &str)> = c
            .wanted
            .iter()
            .map(|w| (w.profile.as_str(), w.expect.as_str()))
            .collect();
        assert_eq!(wanted, [("broker", "600"), ("zk", "700")]);
    }
}
