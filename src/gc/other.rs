//! Telling a line the G1 parser did not read apart: output of another part
//! of the JVM (a wide `-Xlog:all=debug`-style selection writes class
//! loading, JIT, OS, CDS, ... lines into the GC log), GC detail the analysis
//! does not use, or a line that may hold a GC event it could not read.
//!
//! Only the last counts as unrecognised. The rules, in order:
//! 1. A line naming a pause, or any GC event word of the analysis, may be
//!    an event: it stays unrecognised whatever else it looks like.
//! 2. With a `tags` decorator the tags say it: `gc*`/`safepoint*` below
//!    `info` is GC detail; any other tag set is that subsystem's output.
//! 3. Without tags, a `GC(N)` line is G1's (detail when below `info`, or
//!    when it has the shape of per-worker statistics or sub-phase times).
//! 4. Without tags, a `debug`/`trace` line holds no event the analysis
//!    reads (every one of them is logged at `info`); its kind comes from
//!    its shape when known.
//! 5. Otherwise the message's shape must be one of a known subsystem's.

use memchr::memmem;

use super::decorators::Decorated;

/// The kind of a line of other output: a JVM tag name (`class`, `os`,
/// `jit`, ...) or one of the `UNTAGGED_*` names below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OtherKind(&'static str);

impl OtherKind {
    /// The kind's name, as shown in reports.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// A tagged line whose first tag is not in [`TAGS`].
const OTHER_TAGS: OtherKind = OtherKind("other tags");
/// An untagged `debug`/`trace` line of no known shape.
const UNTAGGED_DEBUG: OtherKind = OtherKind("debug/trace, untagged");
/// An untagged line naming Java classes or methods (class loading and
/// linking, method handles, the JIT print these; G1's lines never do).
const UNTAGGED_JAVA: OtherKind = OtherKind("runtime lines naming Java classes");
/// An untagged line naming the JVM's own C++ code or native addresses.
const UNTAGGED_VM: OtherKind = OtherKind("runtime lines naming JVM internals");

/// What a line the parser did not read is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineClass {
    /// G1 or safepoint detail the analysis does not use.
    GcDetail,
    /// Output of another part of the JVM.
    Other(OtherKind),
    /// May hold a GC event that could not be read.
    MaybeGc,
}

/// The kind of a line whose `tags` decorator names another subsystem than
/// G1's and the safepoint log's (and which names no pause); `None` for
/// every other line. Cheap on G1's own lines, which most lines are.
pub fn other_by_tags(d: &Decorated<'_>, msg: &[u8]) -> Option<OtherKind> {
    // G1's own lines first, from the raw last decorator: no tag parsing.
    let last = d.last_group()?;
    if last.starts_with(b"gc") || last.starts_with(b"safepoint") {
        return None;
    }
    let tags = d.tags()?;
    if is_gc_family(tags) || may_be_event(msg) {
        return None;
    }
    let first = tags.split(|&b| b == b',').next().unwrap_or(tags);
    Some(tag_kind(first))
}

fn is_gc_family(tags: &[u8]) -> bool {
    tags.split(|&b| b == b',')
        .any(|t| t == b"gc" || t == b"safepoint")
}

/// Classifies a line the unified parser did not read. `msg` is the
/// message after the decorators (with its `GC(N)` id, if any).
pub fn classify(d: &Decorated<'_>, msg: &[u8]) -> LineClass {
    let msg = trim_start(msg);
    if may_be_event(msg) {
        return LineClass::MaybeGc;
    }
    let below_info = matches!(d.level(), Some(b"debug" | b"trace"));
    if let Some(tags) = d.tags() {
        let first = tags.split(|&b| b == b',').next().unwrap_or(tags);
        return if is_gc_family(tags) {
            // `safepoint,stats` and `safepoint,cleanup` are statistics at info.
            if below_info || tags == b"safepoint,stats" || tags == b"safepoint,cleanup" {
                LineClass::GcDetail
            } else {
                LineClass::MaybeGc
            }
        } else {
            LineClass::Other(tag_kind(first))
        };
    }
    if msg.starts_with(b"GC(") {
        return if below_info || (d.level().is_none() && !looks_like_summary(msg)) {
            LineClass::GcDetail
        } else {
            LineClass::MaybeGc
        };
    }
    if is_safepoint_detail(msg) {
        return LineClass::GcDetail;
    }
    if let Some(kind) = shape_kind(msg) {
        return LineClass::Other(kind);
    }
    if is_startup_timer(msg) && !names_gc_words(msg) {
        return LineClass::Other(OtherKind("startuptime"));
    }
    if below_info {
        return LineClass::Other(UNTAGGED_DEBUG);
    }
    if !names_gc_words(msg) {
        if names_java_class(msg) || names_method_descriptor(msg) {
            return LineClass::Other(UNTAGGED_JAVA);
        }
        if names_vm_symbol(msg) {
            return LineClass::Other(UNTAGGED_VM);
        }
    }
    LineClass::MaybeGc
}

/// A JVM method descriptor's end: `()V`, `(I)Z`, `(Ljava/lang/Object;)J`.
fn names_method_descriptor(msg: &[u8]) -> bool {
    memchr::memchr_iter(b')', msg).any(|i| {
        let ret = msg.get(i + 1).copied();
        let after = msg.get(i + 2).copied();
        match ret {
            Some(b'V' | b'Z' | b'B' | b'C' | b'S' | b'I' | b'J' | b'F' | b'D') => {
                after.is_none_or(|b| !b.is_ascii_alphanumeric())
            }
            Some(b'L') => memchr::memchr(b';', &msg[i..]).is_some(),
            Some(b'[') => matches!(
                msg[i + 1..].iter().find(|&&b| b != b'['),
                Some(b'V' | b'Z' | b'B' | b'C' | b'S' | b'I' | b'J' | b'F' | b'D' | b'L')
            ),
            _ => false,
        }
    })
}

/// A C++ name of the JVM's own code (`ICache::flush_icache_stub`) or a
/// native address (`0x00007f0fb402fd40`): runtime internals. G1's lines
/// that print addresses (heap and metaspace layout) are known above.
fn names_vm_symbol(msg: &[u8]) -> bool {
    let cpp = memmem::find_iter(msg, b"::").any(|i| {
        i > 0
            && msg[i - 1].is_ascii_alphanumeric()
            && msg
                .get(i + 2)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    });
    cpp || memmem::find_iter(msg, b"0x").any(|i| {
        msg[i + 2..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count()
            >= 8
    })
}

/// Lines that may be a GC event the analysis reads, whatever their tags:
/// one naming a pause of any collector, in either format.
pub fn may_be_event(msg: &[u8]) -> bool {
    PAUSE_WORDS.iter().any(|f| f.find(msg).is_some())
}

/// Words of G1's and the safepoint log's lines: a line holding one is not
/// claimed by the loose Java-name rule.
fn names_gc_words(msg: &[u8]) -> bool {
    // Whole words as G1 writes them, so that class names such as
    // `ConcurrentHashMap` or `Collectors` do not count.
    const WORDS: &[&[u8]] = &[
        b"GC(",
        b"GC ",
        b"G1 ",
        b"Concurrent ",
        b"Humongous",
        b"Evacuation",
        b"To-space",
        b"Safepoint \"",
        b"safepoint",
        b"stopped",
        b"Heap ",
        b"heap ",
        b"garbage",
    ];
    WORDS.iter().any(|w| memmem::find(msg, w).is_some())
}

/// A fully qualified Java name: three or more identifier segments joined
/// by `.` or `/` (`java.lang.String`, `java/lang/Object`).
fn names_java_class(msg: &[u8]) -> bool {
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let mut i = 0;
    while i < msg.len() {
        // A token starts at a letter after a non-identifier byte.
        if msg[i].is_ascii_alphabetic() && (i == 0 || !(is_ident(msg[i - 1]) || msg[i - 1] == b'.'))
        {
            let mut segments = 1;
            let mut j = i;
            loop {
                while j < msg.len() && is_ident(msg[j]) {
                    j += 1;
                }
                if j + 1 < msg.len()
                    && (msg[j] == b'.' || msg[j] == b'/')
                    && (msg[j + 1].is_ascii_alphabetic() || msg[j + 1] == b'_')
                {
                    segments += 1;
                    j += 1;
                } else {
                    break;
                }
            }
            if segments >= 3 {
                return true;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    false
}

/// A `GC(N)` line without a level decorator could be an event summary the
/// parser failed to read when it has a summary's parts: a duration at its
/// end (`... 1.246ms`) or a heap transition (`12M->1M(256M)`). Every other
/// `GC(N)` line is G1 detail (`-Xlog:gc*=debug` writes hundreds of shapes:
/// PLAB and TLAB statistics, refinement, IHOP, ...), except that per-worker
/// statistics (`Min: 0.1, Avg: ...`) and indented sub-phase times
/// (`GC(3)   Post Evacuate Cleanup 1: 0.2ms`) are detail whatever they end
/// with: a summary is never indented and has no such fields.
fn looks_like_summary(msg: &[u8]) -> bool {
    let Some(close) = memchr::memchr(b')', msg) else {
        return true;
    };
    let rest = &msg[close + 1..];
    let indented = rest.starts_with(b"   ");
    let stats = memmem::find(rest, b"Min: ").is_some()
        && (memmem::find(rest, b"Avg: ").is_some() || memmem::find(rest, b"Max: ").is_some());
    if stats || indented {
        return false;
    }
    let t = trim_end(rest);
    let duration = t
        .strip_suffix(b"ms")
        .or_else(|| t.strip_suffix(b"s"))
        .and_then(|b| b.last())
        .is_some_and(u8::is_ascii_digit);
    let transition = memmem::find_iter(rest, b"->")
        .any(|i| i > 0 && matches!(rest[i - 1], b'B' | b'K' | b'M' | b'G' | b'T' | b'0'..=b'9'));
    duration || transition
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Safepoint statistics and cleanup lines (`safepoint,stats`,
/// `safepoint,cleanup`, `safepoint` at debug) seen without tags.
fn is_safepoint_detail(msg: &[u8]) -> bool {
    const PREFIXES: &[&[u8]] = &[
        b"safepoint cleanup tasks,",
        b"updating inline caches,",
        b"resizing system dictionaries,",
        b"purging class loader data graph,",
        b"deflating idle monitors,",
        b"compilation policy safepoint handler,",
        b"Safepoint synchronization initiated",
        b"Waiting for ",
        b"Maximum sync time",
        b"Maximum vm operation time",
        b"Maximum cleanup time",
        b"VM Operation ",
        // G1's service thread and allocation statistics (`gc,task`,
        // `gc,alloc,stats` at debug).
        b"G1 Service Thread",
        b"Old generation allocation in the last",
    ];
    PREFIXES.iter().any(|p| msg.starts_with(p)) || is_safepoint_stats_row(msg)
}

/// A row of the safepoint statistics table (`safepoint,stats`, JDK 11-21):
/// `G1CollectForAllocation   [   11   0 ][   7184   30250 ... ]   0`.
/// Or a row of its summary at exit: `G1CollectFull      1`.
fn is_safepoint_stats_row(msg: &[u8]) -> bool {
    let name_end = msg
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .unwrap_or(msg.len());
    let (name, rest) = msg.split_at(name_end);
    if name.is_empty() || !rest.starts_with(b"    ") {
        return false;
    }
    let rest = trim_start(rest);
    let table = rest.starts_with(b"[ ")
        && memmem::find(rest, b" ][ ").is_some()
        && rest
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'[' | b']'));
    table || (!rest.is_empty() && rest.iter().all(u8::is_ascii_digit))
}

/// A start-up timer (`startuptime`): `Genesis, 0.0286649 secs`,
/// `Initialize module system, 0.2203123 secs`.
fn is_startup_timer(msg: &[u8]) -> bool {
    let Some(body) = msg.strip_suffix(b" secs") else {
        return false;
    };
    let Some(comma) = memmem::rfind(body, b", ") else {
        return false;
    };
    let num = &body[comma + 2..];
    !num.is_empty() && num.iter().all(|b| b.is_ascii_digit() || *b == b'.')
}

/// Known message shapes of other JVM subsystems, by the tag that writes
/// them. Each is specific enough that no G1 or safepoint line has it.
const SHAPES: &[(&str, Shape)] = &[
    // Class loading, linking, initialisation and the loader's bookkeeping.
    ("class", Shape::Contains(b" source: ")),
    ("class", Shape::Contains(b"ThreadQ threads:")),
    ("class", Shape::Prefix(b"create loader data:")),
    ("class", Shape::Prefix(b"Checking package access")),
    ("class", Shape::Prefix(b"granted")),
    ("class", Shape::Contains(b" : find_and_")),
    ("class", Shape::Prefix(b"find_and_")),
    ("class", Shape::Contains(b" Initializing '")),
    ("class", Shape::Contains(b" initializing ")),
    ("class", Shape::Prefix(b"set_secondary_supers:")),
    ("class", Shape::Prefix(b"- positive_lookup:")),
    ("class", Shape::Prefix(b"- negative_lookup:")),
    ("class", Shape::Contains(b" elements; bitmap:")),
    ("class", Shape::Prefix(b"klass: 0x")),
    ("class", Shape::Prefix(b"LookupDefineClass:")),
    ("class", Shape::Prefix(b"adding new constraint")),
    ("class", Shape::Prefix(b"Dictionary start size:")),
    ("class", Shape::Prefix(b"Checking nest membership")),
    ("class", Shape::Prefix(b"Resolved ")),
    // Default methods of interfaces.
    (
        "defaultmethods",
        Shape::Prefix(b"Looking for default methods"),
    ),
    ("defaultmethods", Shape::Prefix(b"Slots that need filling")),
    (
        "defaultmethods",
        Shape::Prefix(b"Default method processing"),
    ),
    (
        "defaultmethods",
        Shape::Prefix(b"Creating defaults and overpasses"),
    ),
    ("defaultmethods", Shape::Prefix(b"Created ")),
    ("defaultmethods", Shape::Prefix(b"Selected method:")),
    (
        "defaultmethods",
        Shape::Contains(b"requires default method processing"),
    ),
    (
        "defaultmethods",
        Shape::Prefix(b"Generating overpass method"),
    ),
    // Method handles.
    ("methodhandles", Shape::Prefix(b"lookup_polymorphic_method")),
    (
        "methodhandles",
        Shape::Prefix(b"make_method_handle_intrinsic"),
    ),
    ("methodhandles", Shape::Prefix(b"resolve_invokehandle")),
    ("methodhandles", Shape::Prefix(b"{method}")),
    ("methodhandles", Shape::Prefix(b"- ---- fields")),
    ("methodhandles", Shape::Prefix(b"-------------")),
    ("membername", Shape::Prefix(b"ResolvedMethod entry")),
    // The bytecode verifier.
    ("verification", Shape::Prefix(b"bci: @")),
    ("verification", Shape::Prefix(b"flags: {")),
    ("verification", Shape::Prefix(b"locals: {")),
    ("verification", Shape::Prefix(b"stack: {")),
    ("verification", Shape::Prefix(b"offset = ")),
    ("verification", Shape::Prefix(b"Verifying ")),
    ("verification", Shape::Prefix(b"StackMapTable:")),
    ("verification", Shape::Prefix(b"End class verification")),
    ("verification", Shape::Prefix(b"Recursive verification")),
    ("verification", Shape::Prefix(b"table = {")),
    // The interpreter.
    ("interpreter", Shape::Contains(b"Computing oopmap at bci")),
    ("interpreter", Shape::Prefix(b"- found at hash")),
    // Performance counters (hsperfdata).
    ("perf", Shape::Contains(b", dtype = ")),
    ("perf", Shape::Prefix(b"PerfDataMemorySize")),
    ("perf", Shape::Prefix(b"PerfMemory ")),
    // The OS layer: memory reservations, threads, libraries, containers.
    ("os", Shape::Prefix(b"Reserved [0x")),
    ("os", Shape::Prefix(b"Committed [0x")),
    ("os", Shape::Prefix(b"Uncommitted [0x")),
    ("os", Shape::Prefix(b"Released [0x")),
    ("os", Shape::Prefix(b"Thread attached (")),
    ("os", Shape::Prefix(b"Thread started (")),
    ("os", Shape::Prefix(b"Thread finished (")),
    ("os", Shape::Prefix(b"Thread is alive (")),
    ("os", Shape::Contains(b"started (pthread id:")),
    ("os", Shape::Contains(b"stack guard pages")),
    ("os", Shape::Contains(b"shared library load")),
    ("os", Shape::Prefix(b"Use of ")),
    ("os", Shape::Prefix(b"HotSpot is running with")),
    ("os", Shape::Prefix(b"Lookup of __pthread")),
    ("os", Shape::Prefix(b"Glibc stack size")),
    ("os", Shape::Prefix(b"Relative timed-wait")),
    ("os", Shape::Prefix(b"Trying to open /")),
    ("os", Shape::Prefix(b"Successfully opened")),
    ("os", Shape::Prefix(b"Initial active processor count")),
    ("os", Shape::Prefix(b"container ")),
    ("os", Shape::Prefix(b"OSContainer::")),
    ("os", Shape::Prefix(b"Detected ")),
    ("os", Shape::Prefix(b"Explicit hugepage")),
    ("os", Shape::Prefix(b"hugepage size:")),
    ("os", Shape::Prefix(b"default hugepage size:")),
    ("os", Shape::Contains(b"hugepage (THP)")),
    ("os", Shape::Prefix(b"THP ")),
    ("os", Shape::Prefix(b"Shared memory THP")),
    ("os", Shape::Prefix(b"Large page support")),
    ("os", Shape::Prefix(b"SafePoint Polling address")),
    ("os", Shape::Prefix(b"Memory Serialize Page")),
    ("os", Shape::Prefix(b"active processor count")),
    // Command line and start-up.
    ("arguments", Shape::Prefix(b"VM Arguments:")),
    ("arguments", Shape::Prefix(b"jvm_args:")),
    ("arguments", Shape::Prefix(b"jvm_flags:")),
    ("arguments", Shape::Prefix(b"java_command:")),
    ("arguments", Shape::Prefix(b"java_class_path")),
    ("arguments", Shape::Prefix(b"Launcher Type:")),
    ("nmt", Shape::Prefix(b"NMT ")),
    ("nmt", Shape::Prefix(b"Preinit state")),
    ("nmt", Shape::Prefix(b"pre-init mallocs")),
    ("nmt", Shape::Prefix(b"MallocLimit")),
    // Class data sharing.
    ("cds", Shape::Prefix(b"Archived mirror is:")),
    ("cds", Shape::Prefix(b"Clearing root ")),
    ("cds", Shape::Prefix(b"Mapped static region")),
    ("cds", Shape::Prefix(b"Mapped dynamic region")),
    ("cds", Shape::Prefix(b"Opened shared archive")),
    ("cds", Shape::Prefix(b"Reserved archive_space_rs")),
    ("cds", Shape::Prefix(b"Reserved class_space_rs")),
    // The JIT and the code cache.
    ("codecache", Shape::Contains(b"CodeHeap '")),
    ("nmethod", Shape::Prefix(b"Installing method")),
    ("nmethod", Shape::Prefix(b"Installing osr method")),
    ("jni", Shape::Prefix(b"[Registering JNI native method")),
    ("jni", Shape::Prefix(b"[Dynamic-linking native method")),
    ("library", Shape::Prefix(b"Found JNI_OnLoad")),
    // Modules.
    ("module", Shape::Prefix(b"add_module_exports")),
    ("module", Shape::Prefix(b"define_module")),
    ("module", Shape::Prefix(b"set_bootloader_unnamed_module")),
    ("module", Shape::Prefix(b"add_reads")),
    ("module", Shape::Prefix(b"Setting package:")),
    // Metaspace's allocator.
    ("metaspace", Shape::Prefix(b"VsListNode @")),
    ("metaspace", Shape::Prefix(b"Chunk @")),
    ("metaspace", Shape::Prefix(b"Arena @")),
    ("metaspace", Shape::Prefix(b"ChunkManager @")),
    // Oop storages.
    ("oopstorage", Shape::Prefix(b"Parallel iteration on")),
    ("oopstorage", Shape::Contains(b": allocated 0x")),
    ("oopstorage", Shape::Contains(b": new block 0x")),
    ("oopstorage", Shape::Contains(b": released 0x")),
    // VM operations (the safepoint line is the event; these are not).
    ("vmoperation", Shape::Prefix(b"begin VM_Operation")),
    ("vmoperation", Shape::Prefix(b"end VM_Operation")),
    ("vmthread", Shape::Prefix(b"Adding VM operation:")),
    ("vmthread", Shape::Prefix(b"Evaluating ")),
    ("vmthread", Shape::Prefix(b"Executing ")),
    // Libraries, stubs, CPU and start-up facts, the logging set-up.
    ("library", Shape::Prefix(b"Failed to find ")),
    ("library", Shape::Prefix(b"Found Java_")),
    ("library", Shape::Prefix(b"Loaded library")),
    ("stubs", Shape::Prefix(b"StubRoutines")),
    ("startuptime", Shape::Prefix(b"Create VM,")),
    ("startuptime", Shape::Prefix(b"AOT initialization,")),
    ("os", Shape::Prefix(b"CPU:")),
    ("os", Shape::Prefix(b"CPU Model and flags")),
    ("os", Shape::Prefix(b"Available cpu frequencies")),
    ("os", Shape::Prefix(b"BIOS frequency limitation")),
    ("os", Shape::Prefix(b"Core performance/turbo boost")),
    ("os", Shape::Prefix(b"Current governor")),
    ("os", Shape::Prefix(b"<Not Available>")),
    ("os", Shape::Contains(b" stack dimensions: ")),
    ("logging", Shape::Prefix(b"Available log ")),
    ("logging", Shape::Prefix(b"Described tag sets")),
    ("logging", Shape::Prefix(b"Log output configuration")),
    ("cds", Shape::Prefix(b"Archive was created with")),
    ("cds", Shape::Prefix(b"ArchiveRelocationMode")),
    ("cds", Shape::Prefix(b"Core region alignment")),
    ("cds", Shape::Prefix(b"narrow_klass_base = ")),
    ("cds", Shape::Prefix(b"narrow_oop_mode = ")),
    ("cds", Shape::Prefix(b"heap range = ")),
    ("biasedlocking", Shape::Prefix(b"Aligned thread 0x")),
    ("biasedlocking", Shape::Prefix(b"Revoked bias")),
    ("biasedlocking", Shape::Prefix(b"Biased locking")),
    ("pagesize", Shape::Contains(b": req_size=")),
    ("metaspace", Shape::Prefix(b"ChkMgr @")),
    ("metaspace", Shape::Prefix(b"Enlarged chunk @")),
    ("metaspace", Shape::Prefix(b"- commit_granule_")),
    (
        "metaspace",
        Shape::Prefix(b"- virtual_space_node_default_size"),
    ),
    ("metaspace", Shape::Prefix(b"- enlarge_chunks_in_place")),
    (
        "metaspace",
        Shape::Prefix(b"- new_chunks_are_fully_committed"),
    ),
    ("metaspace", Shape::Prefix(b"- uncommit_free_chunks")),
    ("metaspace", Shape::Prefix(b"- use_allocation_guard")),
    ("metaspace", Shape::Prefix(b"- handle_deallocations")),
    ("os", Shape::Prefix(b"Frequency switch latency")),
    ("os", Shape::Prefix(b"Online cpus:")),
    ("os", Shape::Prefix(b"Offline cpus:")),
    ("os", Shape::Prefix(b"flags\t")),
    ("os", Shape::Prefix(b"Static hugepage support")),
    ("os", Shape::Prefix(b"Initialized VM with process ID")),
    ("os", Shape::Prefix(b"JavaThread ")),
    ("os", Shape::Prefix(b"Threads class SMR info")),
    ("os", Shape::Prefix(b"tid=")),
    ("os", Shape::Prefix(b"Computed disarmed for tid")),
    (
        "logging",
        Shape::Prefix(b"Log configuration fully initialized"),
    ),
    (
        "logging",
        Shape::Prefix(b"logging: Logging for the log framework"),
    ),
    ("logging", Shape::Contains(b": stdout all=")),
    ("logging", Shape::Contains(b": stderr all=")),
    ("cds", Shape::Prefix(b"UseSharedSpaces:")),
    ("cds", Shape::Prefix(b"Initialize static archive")),
    ("cds", Shape::Prefix(b"Initialize dynamic archive")),
    (
        "cds",
        Shape::Prefix(b"An error has occurred while processing the shared archive"),
    ),
    ("cds", Shape::Prefix(b"The current max heap size = ")),
    ("cds", Shape::Contains(b"has raw archived mirror")),
    ("class", Shape::Prefix(b"Start class verification")),
    ("class", Shape::Prefix(b"ClassLoader:")),
    ("class", Shape::Contains(b" events")),
    ("class", Shape::Prefix(b"java.base location:")),
    ("biasedlocking", Shape::Prefix(b"Revoking bias")),
    ("codecache", Shape::Prefix(b"Sweeper threshold")),
    ("metaspace", Shape::Prefix(b"Initialized with strategy")),
    ("metaspace", Shape::Prefix(b"Checking in_use_list")),
    (
        "metaspace",
        Shape::Prefix(b"No errors found in in_use_list"),
    ),
    ("metaspace", Shape::Prefix(b"in_use_")),
    (
        "monitorinflation",
        Shape::Prefix(b"Starting the final audit"),
    ),
    ("vmmutex", Shape::Prefix(b"VM Mutex/Monitor ranks")),
    ("vmmutex", Shape::Prefix(b"Only known in debug builds")),
    ("methodhandles", Shape::Prefix(b"set_method_handle ")),
    // Field and constant-pool cache dumps of method handles.
    ("methodhandles", Shape::Contains(b"' @")),
    ("methodhandles", Shape::Prefix(b"- bytecode ")),
    ("methodhandles", Shape::Prefix(b"- flag values:")),
    ("methodhandles", Shape::Prefix(b"- cp index:")),
    ("methodhandles", Shape::Prefix(b"- CP Index:")),
    ("methodhandles", Shape::Prefix(b"- tos:")),
    ("methodhandles", Shape::Prefix(b"- has appendix:")),
    ("methodhandles", Shape::Prefix(b"- Has Appendix:")),
    ("methodhandles", Shape::Prefix(b"- num parameters:")),
    ("methodhandles", Shape::Prefix(b"- Num Parameters:")),
    ("methodhandles", Shape::Prefix(b"- resolution failed:")),
    ("methodhandles", Shape::Prefix(b"- Resolution Failed")),
    ("methodhandles", Shape::Prefix(b"- Return type:")),
    (
        "methodhandles",
        Shape::Prefix(b"- Resolved References Index:"),
    ),
    ("methodhandles", Shape::Prefix(b"- final:")),
    ("methodhandles", Shape::Prefix(b"- forced virtual:")),
    ("methodhandles", Shape::Prefix(b"- local signature:")),
    ("methodhandles", Shape::Prefix(b"- virtual final:")),
    ("methodhandles", Shape::Prefix(b"argument indexes:")),
    ("monitorinflation", Shape::Prefix(b"count=")),
    ("oopstorage", Shape::Contains(b" weak: expand active array")),
    ("oopstorage", Shape::Contains(b" weak: block ")),
];

/// How a shape is matched against a message.
enum Shape {
    Prefix(&'static [u8]),
    Contains(&'static [u8]),
}

/// [`SHAPES`] split for speed (lines of a wide selection all come here):
/// prefixes compared after their first byte, substrings through searchers
/// built once.
struct CompiledShapes {
    prefixes: Vec<(OtherKind, &'static [u8])>,
    contains: Vec<(OtherKind, memmem::Finder<'static>)>,
}

static COMPILED: std::sync::LazyLock<CompiledShapes> = std::sync::LazyLock::new(|| {
    let mut c = CompiledShapes {
        prefixes: Vec::new(),
        contains: Vec::new(),
    };
    for (kind, shape) in SHAPES {
        match shape {
            Shape::Prefix(p) => c.prefixes.push((OtherKind(kind), p)),
            Shape::Contains(s) => c.contains.push((OtherKind(kind), memmem::Finder::new(s))),
        }
    }
    c
});

/// Searchers for the words of a pause header in either format: every one
/// of [`super::detect::names_a_pause`]'s headers holds one of them.
static PAUSE_WORDS: std::sync::LazyLock<[memmem::Finder<'static>; 3]> =
    std::sync::LazyLock::new(|| {
        [
            memmem::Finder::new(b"Pause "),
            memmem::Finder::new(b"[GC "),
            memmem::Finder::new(b"Full GC"),
        ]
    });

fn shape_kind(msg: &[u8]) -> Option<OtherKind> {
    let shapes = &*COMPILED;
    let first = *msg.first()?;
    if let Some((kind, _)) = shapes
        .prefixes
        .iter()
        .find(|(_, p)| p.first() == Some(&first) && msg.starts_with(p))
    {
        return Some(*kind);
    }
    shapes
        .contains
        .iter()
        .find(|(_, f)| f.find(msg).is_some())
        .map(|(kind, _)| *kind)
}

/// The JVM's log tags (those seen as a first tag, and common ones).
const TAGS: &[&str] = &[
    "aot",
    "arguments",
    "biasedlocking",
    "cds",
    "class",
    "codecache",
    "compilation",
    "constraints",
    "container",
    "continuations",
    "cpu",
    "datacreation",
    "defaultmethods",
    "deoptimization",
    "exceptions",
    "handshake",
    "inlinecache",
    "interpreter",
    "jfr",
    "jit",
    "jmethod",
    "jni",
    "jvmti",
    "library",
    "logging",
    "membername",
    "metaspace",
    "methodhandles",
    "module",
    "monitorinflation",
    "monitormismatch",
    "nmethod",
    "nmt",
    "oopstorage",
    "os",
    "pagesize",
    "perf",
    "protectiondomain",
    "redefine",
    "stackbarrier",
    "stacktrace",
    "startuptime",
    "stringtable",
    "stubs",
    "symboltable",
    "thread",
    "verification",
    "vmmutex",
    "vmoperation",
    "vmthread",
];

fn tag_kind(first: &[u8]) -> OtherKind {
    TAGS.iter()
        .find(|t| t.as_bytes() == first)
        .map_or(OTHER_TAGS, |t| OtherKind(t))
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(line: &str) -> LineClass {
        let d = Decorated::split(line.as_bytes());
        classify(&d, d.msg)
    }

    #[test]
    fn tags_decide_when_present() {
        assert_eq!(
            class("[0.1s][debug][class,load] java.lang.Object source: jrt:/java.base"),
            LineClass::Other(OtherKind("class"))
        );
        assert_eq!(
            class("[0.1s][info][os,thread] anything at all"),
            LineClass::Other(OtherKind("os"))
        );
        assert_eq!(
            class("[0.1s][debug][gc,phases] GC(3) Something new"),
            LineClass::GcDetail
        );
        assert_eq!(
            class("[0.1s][info][gc,phases] GC(3) Something new"),
            LineClass::MaybeGc
        );
        // A pause is never other output, whatever its tags say.
        assert_eq!(
            class("[0.1s][info][os] GC(3) Pause Young (Normal) (G1 Evacuation Pause) 1M->"),
            LineClass::MaybeGc
        );
    }

    #[test]
    fn untagged_lines_by_level_and_shape() {
        assert_eq!(
            class("[0.1s][debug] loadInstanceThreadQ threads:0x00007f0fb402fd40,"),
            LineClass::Other(OtherKind("class"))
        );
        assert_eq!(
            class("[0.1s][debug] some new debug message"),
            LineClass::Other(UNTAGGED_DEBUG)
        );
        assert_eq!(class("[0.1s][info] some new message"), LineClass::MaybeGc);
        assert_eq!(
            class("[0.1s] java.lang.String java.io.ObjectStreamField"),
            LineClass::Other(UNTAGGED_JAVA)
        );
        // GC words keep a line with a Java name unrecognised.
        assert_eq!(
            class("[0.1s] G1 did something with java.lang.String"),
            LineClass::MaybeGc
        );
        assert_eq!(
            class("[0.1s] GC(7)   Ext Root Scanning (ms): Min: 0.1, Avg: 0.2, Max: 0.3"),
            LineClass::GcDetail
        );
        assert_eq!(
            class("[0.1s][info] GC(7)   Ext Root Scanning (ms): Min: 0.1"),
            LineClass::MaybeGc
        );
        assert_eq!(class("[0.1s] GC(7) New event 3ms"), LineClass::MaybeGc);
        assert_eq!(class("random text"), LineClass::MaybeGc);
    }

    #[test]
    fn every_pause_header_may_be_an_event() {
        for h in [
            "[GC pause (G1 Evacuation Pause) (young)",
            "[Full GC (System.gc())",
            "[GC remark",
            "[GC cleanup 10M->9M(20M)",
            "Pause Young (Normal)",
            "Pause Full (System.gc())",
            "Pause Remark",
            "Pause Cleanup",
            "Pause Mixed (G1 Evacuation Pause)",
            "Pause Initial Mark (G1 Evacuation Pause)",
        ] {
            assert!(super::super::detect::names_a_pause(h.as_bytes()), "{h}");
            assert!(may_be_event(h.as_bytes()), "{h}");
        }
    }

    #[test]
    fn java_names() {
        assert!(names_java_class(b"x java/lang/Object y"));
        assert!(names_java_class(b"jdk.internal.misc.CDS"));
        assert!(!names_java_class(b"System.gc()"));
        assert!(!names_java_class(b"17.0.15+6 (release)"));
        assert!(!names_java_class(b"a.b"));
    }
}
