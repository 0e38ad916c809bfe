//! The collector's rooms stay free of import circles (issue 22). Reads
//! every file under `src/collector/` and `src/present/` (test modules and
//! comments left out), resolves each `use crate::…`, `use super::…` and
//! in-place path (`crate::a::b(…)`, and through a child module:
//! `tls::connector(…)`) to the file that defines what it names, following
//! `pub use` re-exports, and fails naming the circle if one appears between
//! rooms (a folder under `src/collector/`, each file directly in it on its
//! own, and all of `src/present/`) or between files of one room.
//!
//! It prints the rooms with their files and lines, what each room imports
//! from each other, what each file imports within its room, and every
//! circle: shown with `--nocapture` (or when the test fails), or, with
//! `TUNEKEEPER_IMPORT_GRAPH=1`, past libtest's capture:
//! `TUNEKEEPER_IMPORT_GRAPH=1 cargo test --test integration layout::`.
//!
//! It reads text, as a reader does: a path it cannot resolve to a file of
//! the crate is no import.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

/// The folders of `src/` whose files are drawn.
const SCOPES: [&str; 2] = ["collector", "present"];

/// A module by its path below the crate: `src/collector/storage/mod.rs` is
/// `["collector", "storage"]`.
type Module = Vec<String>;

static TEST_MODULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^#\[cfg\(test\)\]").unwrap());
static USE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\buse\s+([^;]+);").unwrap());
static PUB_USE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bpub use\s+([^;]+);").unwrap());
static RENAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+as\s+\w+$").unwrap());
static ROOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:crate|super)(?:::\w+)+").unwrap());
static QUALIFIED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\w+(?:::\w+)+").unwrap());

/// What imports what among the drawn files.
struct Graph {
    /// `src/`.
    src: PathBuf,
    /// Every module of the crate and its file (the drawn ones and those
    /// paths may resolve into).
    modules: BTreeMap<Module, PathBuf>,
    /// `(module, name)` to the path a `pub use` in that module names.
    reexports: BTreeMap<(Module, String), Module>,
    /// Each drawn module and the drawn modules it imports.
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

impl Graph {
    fn read(src: &Path) -> Graph {
        let mut modules = BTreeMap::new();
        for file in rust_files(src) {
            modules.entry(module_of(src, &file)).or_insert(file);
        }
        let mut g = Graph {
            src: src.to_path_buf(),
            modules,
            reexports: BTreeMap::new(),
            edges: BTreeMap::new(),
        };
        let mut reexports = BTreeMap::new();
        for (module, file) in &g.modules {
            for m in PUB_USE.captures_iter(&code(file)) {
                for p in expand(&m[1]) {
                    if let Some(a) = g.absolute(&p, module) {
                        let name = a.last().unwrap().clone();
                        reexports.insert((module.clone(), name), a);
                    }
                }
            }
        }
        g.reexports = reexports;
        let drawn: Vec<Module> = g
            .modules
            .keys()
            .filter(|m| m.first().is_some_and(|s| SCOPES.contains(&s.as_str())))
            .cloned()
            .collect();
        g.edges = drawn.iter().map(|m| (m.clone(), g.imports(m))).collect();
        g
    }

    /// A path as written in module `here`, made absolute.
    fn absolute(&self, path: &str, here: &Module) -> Option<Module> {
        let mut segs: Vec<String> = path
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let first = segs.first()?.clone();
        if first == "crate" {
            return Some(segs.split_off(1));
        }
        if first == "super" || first == "self" {
            let mut base = here.clone();
            while segs.first().is_some_and(|s| s == "super" || s == "self") {
                if segs.remove(0) == "super" {
                    base.pop();
                }
            }
            base.extend(segs);
            return Some(base);
        }
        // A child module named directly.
        let mut child = here.clone();
        child.push(first);
        if self.modules.contains_key(&child) {
            let mut out = here.clone();
            out.extend(segs);
            return Some(out);
        }
        None
    }

    /// The module (file) that defines what `path` names.
    fn resolve(&self, path: &[String], depth: usize) -> Option<Module> {
        for n in (1..=path.len()).rev() {
            let module = path[..n].to_vec();
            if self.modules.contains_key(&module) {
                let rest = &path[n..];
                if let Some(first) = rest.first() {
                    if depth < 8 {
                        if let Some(to) = self.reexports.get(&(module.clone(), first.clone())) {
                            let mut target = to.clone();
                            target.extend(rest[1..].iter().cloned());
                            if target != path {
                                return self.resolve(&target, depth + 1);
                            }
                        }
                    }
                }
                return Some(module);
            }
        }
        None
    }

    /// The drawn modules `module` imports.
    fn imports(&self, module: &Module) -> BTreeSet<Module> {
        let text = code(&self.modules[module]);
        let mut paths: Vec<String> = Vec::new();
        for m in USE.captures_iter(&text) {
            paths.extend(expand(&m[1]));
        }
        // Paths written in place: crate::a::b(...), super::a::B { ... }.
        let rest = USE.replace_all(&text, "");
        paths.extend(unprefixed(&ROOTED, &rest));
        // ...and through a child module: tls::connector(...).
        paths.extend(unprefixed(&QUALIFIED, &rest).into_iter().filter(|p| {
            let mut child = module.clone();
            child.push(p.split("::").next().unwrap().to_owned());
            self.modules.contains_key(&child)
        }));
        paths
            .iter()
            .filter_map(|p| self.absolute(p, module))
            .filter_map(|a| self.resolve(&a, 0))
            .filter(|t| t != module && SCOPES.contains(&t[0].as_str()))
            .collect()
    }

    /// A room: the first folder under `src/collector/` (`storage`, with its
    /// `sqlite/` and `postgres/`), or each file directly in it on its own
    /// (`collector/error.rs`); all of `src/present/` is one.
    fn room(&self, module: &Module) -> String {
        let rel = self.name(module);
        let parts: Vec<&str> = rel.split('/').collect();
        if parts[0] == "collector" {
            if parts.len() == 2 {
                format!("{}.rs", parts[1].trim_end_matches(".rs"))
            } else {
                parts[1].to_owned()
            }
        } else {
            parts[0].to_owned()
        }
    }

    /// The module's file below `src/`.
    fn name(&self, module: &Module) -> String {
        self.modules[module]
            .strip_prefix(&self.src)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn lines(&self, module: &Module) -> usize {
        std::fs::read_to_string(&self.modules[module])
            .unwrap()
            .lines()
            .count()
    }

    /// The drawn modules of each room.
    fn rooms(&self) -> BTreeMap<String, Vec<Module>> {
        let mut rooms: BTreeMap<String, Vec<Module>> = BTreeMap::new();
        for m in self.edges.keys() {
            rooms.entry(self.room(m)).or_default().push(m.clone());
        }
        rooms
    }

    /// What imports what between rooms.
    fn room_edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (m, targets) in &self.edges {
            for t in targets {
                if self.room(t) != self.room(m) {
                    out.entry(self.room(m)).or_default().insert(self.room(t));
                }
            }
        }
        out
    }

    /// The circles between rooms, each its rooms in order.
    fn room_circles(&self) -> Vec<Vec<String>> {
        let rooms: BTreeSet<String> = self.rooms().into_keys().collect();
        circles(&rooms, &self.room_edges())
    }

    /// The circles between files of one room: (room, its files).
    fn file_circles(&self) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for (r, members) in self.rooms() {
            let inside: BTreeMap<Module, BTreeSet<Module>> = members
                .iter()
                .map(|m| {
                    let same = self.edges[m]
                        .iter()
                        .filter(|t| self.room(t) == r)
                        .cloned()
                        .collect();
                    (m.clone(), same)
                })
                .collect();
            let nodes: BTreeSet<Module> = members.iter().cloned().collect();
            for c in circles(&nodes, &inside) {
                out.push((r.clone(), c.iter().map(|m| self.name(m)).collect()));
            }
        }
        out
    }

    /// The report `tools/import_graph.py` printed.
    fn report(&self) -> String {
        let mut o = String::new();
        let rooms = self.rooms();
        o.push_str("## Rooms (files, lines)\n\n");
        for (r, ms) in &rooms {
            let total: usize = ms.iter().map(|m| self.lines(m)).sum();
            writeln!(o, "- {r}: {} files, {total} lines", ms.len()).unwrap();
            for m in ms {
                writeln!(o, "    {}  {}", self.name(m), self.lines(m)).unwrap();
            }
        }
        o.push_str("\n## What each room imports (room -> room: files imported)\n\n");
        for (r, ms) in &rooms {
            let mut targets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for m in ms {
                for t in &self.edges[m] {
                    if &self.room(t) != r {
                        targets
                            .entry(self.room(t))
                            .or_default()
                            .insert(self.name(t));
                    }
                }
            }
            if targets.is_empty() {
                writeln!(o, "- {r} -> (nothing)").unwrap();
            }
            for (tr, files) in &targets {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                writeln!(o, "- {r} -> {tr}: {}", files.join(", ")).unwrap();
            }
        }
        o.push_str("\n## Inside each room (file -> files of the same room)\n\n");
        for (r, ms) in &rooms {
            for m in ms {
                let same: BTreeSet<String> = self.edges[m]
                    .iter()
                    .filter(|t| &self.room(t) == r)
                    .map(|t| self.name(t))
                    .collect();
                if !same.is_empty() {
                    let same: Vec<&str> = same.iter().map(String::as_str).collect();
                    writeln!(o, "- {} -> {}", self.name(m), same.join(", ")).unwrap();
                }
            }
        }
        o.push_str("\n## Circles between rooms\n\n");
        let between = self.room_circles();
        if between.is_empty() {
            o.push_str("- none\n");
        }
        for c in &between {
            writeln!(o, "- {}", c.join(" <-> ")).unwrap();
        }
        o.push_str("\n## Circles between files of one room\n\n");
        let inside = self.file_circles();
        if inside.is_empty() {
            o.push_str("- none\n");
        }
        for (r, c) in &inside {
            writeln!(o, "- {r}: {}", c.join(" <-> ")).unwrap();
        }
        o.push_str("\n## Circles between files, anywhere\n\n");
        let nodes: BTreeSet<Module> = self.edges.keys().cloned().collect();
        let anywhere = circles(&nodes, &self.edges);
        if anywhere.is_empty() {
            o.push_str("- none\n");
        }
        for c in &anywhere {
            let names: Vec<String> = c.iter().map(|m| self.name(m)).collect();
            writeln!(o, "- {}", names.join(" <-> ")).unwrap();
        }
        o
    }
}

/// Every `.rs` file below `dir`, in order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// `src/collector/storage/mod.rs` is `["collector", "storage"]`, `src/lib.rs` `[]`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut segs: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if segs.last().is_some_and(|s| s == "mod" || s == "lib") {
        segs.pop();
    }
    segs
}

/// The file without comments and without its test module.
fn code(file: &Path) -> String {
    let mut text = std::fs::read_to_string(file).unwrap();
    if let Some(cut) = TEST_MODULE.find(&text) {
        text.truncate(cut.start());
    }
    without_comments_and_literals(&text)
}

/// `text` with comments removed and the insides of string and character
/// literals emptied (`"a; use x"` becomes `""`), so the word `use` in a
/// message is no import and a `;` or brace in one ends nothing. Lifetimes
/// (`'a`) stay.
fn without_comments_and_literals(text: &str) -> String {
    split_literals(text).0
}

/// `text` as [`without_comments_and_literals`] leaves it, and the insides
/// of its string literals (raw ones as written, others with their escapes
/// as written).
fn split_literals(text: &str) -> (String, Vec<String>) {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut literals = Vec::new();
    let mut i = 0;
    // Copies `text[from..i]` unchanged.
    let mut kept = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                out.push_str(&text[kept..i]);
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                kept = i;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                out.push_str(&text[kept..i]);
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                kept = i;
            }
            b'r' if !ident_before(b, i) && matches!(b.get(i + 1), Some(b'"' | b'#')) => {
                // A raw string: r"…", r#"…"#, with as many #s to close.
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                let open = i + 1 + hashes;
                if b.get(open) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                out.push_str(&text[kept..i]);
                out.push_str("\"\"");
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                i = open + 1;
                while i < b.len() && !b[i..].starts_with(&close) {
                    i += 1;
                }
                literals.push(text[open + 1..i].to_owned());
                i = (i + close.len()).min(b.len());
                kept = i;
            }
            b'"' => {
                out.push_str(&text[kept..i]);
                out.push_str("\"\"");
                i += 1;
                let start = i;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                literals.push(text[start..i.min(b.len())].to_owned());
                i = (i + 1).min(b.len());
                kept = i;
            }
            b'\'' => {
                // A character literal ('x', '\n', '\u{1F600}', '"'), not a
                // lifetime ('a followed by no closing quote).
                let end = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 2 + p)
                } else {
                    let len = text[i + 1..].chars().next().map_or(0, char::len_utf8);
                    (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 1 + len)
                };
                match end {
                    Some(end) => {
                        out.push_str(&text[kept..i]);
                        out.push_str("' '");
                        i = end + 1;
                        kept = i;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[kept.min(b.len())..]);
    (out, literals)
}

/// Whether the byte before `i` continues an identifier (`bar"` is no raw
/// string's `r`).
fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// `a::{b, c::{d, self}}` is `a::b`, `a::c::d` and `a::c`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![RENAME.replace(tree, "").trim().to_owned()];
    };
    let close = tree.rfind('}').filter(|&c| c > open).unwrap_or(tree.len());
    let (prefix, inner) = (&tree[..open], &tree[open + 1..close]);
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    for ch in inner.chars() {
        if ch == ',' && depth == 0 {
            parts.push(String::new());
            continue;
        }
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        parts.last_mut().unwrap().push(ch);
    }
    let mut out = Vec::new();
    for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        for e in expand(p) {
            out.push(if e == "self" {
                prefix.trim_end_matches(':').to_owned()
            } else {
                format!("{prefix}{e}")
            });
        }
    }
    out
}

/// The matches of `re` in `text` that do not continue a longer path (no
/// word character or `:` just before them).
fn unprefixed(re: &Regex, text: &str) -> Vec<String> {
    re.find_iter(text)
        .filter(|m| {
            !text[..m.start()]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        })
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// The strongly connected components of more than one node (Tarjan), each
/// in order.
fn circles<N: Ord + Clone>(nodes: &BTreeSet<N>, edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    struct Tarjan<'a, N> {
        edges: &'a BTreeMap<N, BTreeSet<N>>,
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        on: BTreeSet<N>,
        out: Vec<Vec<N>>,
    }
    impl<N: Ord + Clone> Tarjan<'_, N> {
        fn visit(&mut self, v: &N) {
            let i = self.index.len();
            self.index.insert(v.clone(), i);
            self.low.insert(v.clone(), i);
            self.stack.push(v.clone());
            self.on.insert(v.clone());
            let next: Vec<N> = self
                .edges
                .get(v)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            for w in &next {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on.remove(&w);
                    let done = &w == v;
                    component.push(w);
                    if done {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in nodes {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out
}

fn graph() -> Graph {
    Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// No import circle between the collector's rooms, nor between the files
/// of one room; the report is printed (see the module's doc).
#[test]
fn the_collectors_rooms_import_in_one_direction() {
    let g = graph();
    let report = g.report();
    println!("{report}");
    if std::env::var_os("TUNEKEEPER_IMPORT_GRAPH").is_some_and(|v| v == "1") {
        // Past libtest's capture: shown whatever the test's outcome.
        let _ = std::io::stdout().lock().write_all(report.as_bytes());
    }
    // It read what it is about: the rooms, and imports between them.
    let rooms = g.rooms();
    for room in ["storage", "http", "fleet", "alerts", "present"] {
        assert!(rooms.contains_key(room), "no room {room}: {report}");
    }
    assert!(
        g.room_edges()
            .get("http")
            .is_some_and(|t| t.contains("storage")),
        "http imports storage: {report}"
    );
    let between = g.room_circles();
    assert!(
        between.is_empty(),
        "import circles between rooms: {}",
        between
            .iter()
            .map(|c| c.join(" <-> "))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let inside = g.file_circles();
    assert!(
        inside.is_empty(),
        "import circles between files of one room: {}",
        inside
            .iter()
            .map(|(r, c)| format!("{r}: {}", c.join(" <-> ")))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

/// The collector and its pages take nothing from the agent: the two ends
/// of the wire share only the report's contract (`crate::report`). A
/// bound both check (the interval's range) lives there; the collector once
/// took it from the agent's configuration and the agent the body limit
/// from the collector, a circle this graph (drawn within `collector/` and
/// `present/`) did not see.
#[test]
fn the_collector_and_its_pages_take_nothing_from_the_agent() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let agent = Regex::new(r"\bcrate::agent\b|\bcrate::\{[^}]*\bagent\b").unwrap();
    let mut found = Vec::new();
    for scope in SCOPES {
        let dir = src.join(scope);
        let mut files = rust_files(&dir);
        files.push(src.join(format!("{scope}.rs")));
        for file in files.iter().filter(|f| f.exists()) {
            let text = code(file);
            for m in agent.find_iter(&text) {
                found.push(format!("{}: {}", file.display(), m.as_str()));
            }
        }
    }
    assert!(found.is_empty(), "imports of the agent: {found:#?}");
}

/// Every page is built in `src/present/` with maud, which escapes what it
/// is given: no string literal elsewhere holds an HTML tag (a `format!`ed
/// page, as the host page once was, would need one). Test modules are left
/// out (they look for tags in what they fetch).
#[test]
fn no_html_is_written_outside_present() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tag = Regex::new(
        r"(?i)<\s*/?\s*(html|head|body|div|span|p|a|table|thead|tbody|tr|td|th|ul|ol|li|h[1-6]|pre|code|svg|script|style|details|summary|section|nav|form|input|button|strong|em|small|label|br|meta|title)(\s|>|/>)",
    )
    .unwrap();
    let mut found = Vec::new();
    let mut literals_read = 0;
    for file in rust_files(&src) {
        if file.starts_with(src.join("present")) {
            continue;
        }
        let mut text = std::fs::read_to_string(&file).unwrap();
        if let Some(cut) = TEST_MODULE.find(&text) {
            text.truncate(cut.start());
        }
        let (_, literals) = split_literals(&text);
        literals_read += literals.len();
        for l in literals.iter().filter(|l| tag.is_match(l)) {
            found.push(format!(
                "{}: {:?}",
                file.display(),
                l.chars().take(80).collect::<String>()
            ));
        }
    }
    assert!(
        literals_read > 1000,
        "it read the crate's literals: {literals_read}"
    );
    assert!(found.is_empty(), "HTML outside src/present/: {found:#?}");
    // The check itself: a format!ed fragment is found, a placeholder of a
    // usage line or a Link header is not.
    for (text, html) in [
        (r#"format!("<td class=\"k\">{}</td>", v)"#, true),
        (r#"format!("<a href='{u}'>x</a>")"#, true),
        (r#"println!("usage: gc <path> --pid <PID>")"#, false),
        (
            r#"format!("</api/v1/hosts?after={c}>; rel=\"next\"")"#,
            false,
        ),
    ] {
        let (_, l) = split_literals(text);
        assert_eq!(l.iter().any(|l| tag.is_match(l)), html, "{text}");
    }
}

/// The reading itself, on a small tree: grouped and renamed imports,
/// `self` in a group, a path through a child module, a `pub use`
/// re-export followed to its file, comments and test modules ignored, and
/// a circle found and named.
#[test]
fn imports_resolve_through_groups_children_and_reexports() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let file = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    file("lib.rs", "pub mod collector;\npub mod present;\n");
    file(
        "collector.rs",
        "pub mod a;\npub mod b;\npub mod c;\nuse crate::collector::{a::{self, Thing as T}, b::Other};\n",
    );
    file(
        "collector/a/mod.rs",
        "pub mod inner;\npub use inner::Deep;\n",
    );
    file(
        "collector/a/inner.rs",
        "pub struct Deep;\nuse super::super::c::X;\n",
    );
    file(
        "collector/b.rs",
        "// use crate::collector::c::Y;\n/* use crate::present::Z; */\nfn f() { crate::present::render(); }\n\
         #[cfg(test)]\nmod tests { use crate::collector::c::Q; }\n",
    );
    file(
        "collector/c.rs",
        "use crate::collector::a::Deep;\n\
         const HINT: &str = \"refused: use a smaller } report {; or not\";\n\
         const RAW: &str = r#\"use crate::present::page::draw;\"#;\n\
         fn h<'a>(x: &'a str) -> char { if x.is_empty() { '{' } else { ';' } }\n",
    );
    file(
        "present/mod.rs",
        "pub mod page;\nfn g() { page::draw(); }\n",
    );
    file("present/page.rs", "pub fn draw() {}\n");
    let g = Graph::read(src);
    let m = |s: &str| -> Module { s.split('/').map(str::to_owned).collect() };
    let names = |of: &str| -> Vec<String> { g.edges[&m(of)].iter().map(|t| g.name(t)).collect() };
    assert_eq!(names("collector"), ["collector/a/mod.rs", "collector/b.rs"]);
    assert_eq!(
        names("collector/b"),
        ["present/mod.rs"],
        "comments and tests ignored"
    );
    assert_eq!(
        names("collector/c"),
        ["collector/a/inner.rs"],
        "re-export followed"
    );
    assert_eq!(names("collector/a/inner"), ["collector/c.rs"]);
    assert_eq!(
        names("present"),
        ["present/page.rs"],
        "through a child module"
    );
    assert_eq!(
        g.room_circles(),
        [["a".to_owned(), "c.rs".to_owned()]],
        "rooms a and c.rs import each other"
    );
    assert!(
        g.report()
            .contains("\n## Circles between rooms\n\n- a <-> c.rs\n")
    );
    assert!(g.file_circles().is_empty());
}
