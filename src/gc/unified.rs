//! The parser of JDK 9–25 unified-logging (`-Xlog:gc...`) G1 logs, with any
//! decorator set. Byte-level and allocation-free per line: only a pause or
//! concurrent-phase event allocates (its cause or name string).

use super::decorators::{Decorated, parse_decimal, parse_uint};
use super::event::{
    ConcurrentPhase, GcEvent, HeapChange, JvmInfo, Pause, PauseCpu, PauseKind, Safepoint, Stamp,
    UNKNOWN_CAUSE,
};
use super::other::{self, LineClass, OtherKind};
use super::parser::{LineOutcome, LineParser};

/// Uptime falling back by more than this between events means a new JVM
/// (threads' lines can be a little out of order, never by this much).
const UPTIME_RESTART_MS: f64 = 100.0;

/// Parser state for one stream of unified-logging lines (one file, or a
/// rotated set fed in time order).
#[derive(Debug, Default)]
pub struct UnifiedParser {
    /// `JvmStart` waiting for the `gc,init` lines that follow `Using G1`.
    pending_start: Option<JvmInfo>,
    /// Largest GC id seen since the last JVM start.
    max_gc_id: Option<u64>,
    /// Uptime of the last event line, to notice a restart without a header.
    last_uptime_ms: Option<f64>,
    /// `To-space exhausted` seen for this GC id (printed before its summary).
    to_space_exhausted: Option<u64>,
    /// Humongous regions grew before this GC id (humongous objects were allocated).
    humongous_grew: Option<u64>,
    /// Humongous regions after the last GC.
    humongous_after: Option<u64>,
    /// `GC(N) Using W workers of M ...`: the workers of GC id N.
    workers: Option<(u64, u32)>,
    /// JDK 9-12 `Entering safepoint region: NAME`: the operation of the
    /// safepoint whose `Total time ... stopped` line comes next.
    safepoint_op: Option<String>,
    /// The last decorated line was other JVM output: the undecorated
    /// lines after it are the rest of its multi-line message.
    continues_other: Option<OtherKind>,
}

impl UnifiedParser {
    /// A parser expecting the start of a log (or of any rotated file).
    pub fn new() -> Self {
        Self::default()
    }

    fn flush_start(&mut self, emit: &mut dyn FnMut(GcEvent)) {
        if let Some(info) = self.pending_start.take() {
            emit(GcEvent::JvmStart(info));
        }
    }

    /// Starts a new JVM: emits any pending start and resets per-JVM state.
    fn begin_jvm(&mut self, info: JvmInfo, emit: &mut dyn FnMut(GcEvent)) {
        self.flush_start(emit);
        self.pending_start = Some(info);
        self.max_gc_id = None;
        self.last_uptime_ms = None;
        self.to_space_exhausted = None;
        self.humongous_grew = None;
        self.humongous_after = None;
        self.workers = None;
        self.safepoint_op = None;
    }

    /// Notices a JVM restart that has no `Using G1` line of its own (the
    /// header was rotated away or not logged): uptime going back, or GC ids
    /// starting again at 0.
    fn check_restart(&mut self, at: &Stamp, gc_id: Option<u64>, emit: &mut dyn FnMut(GcEvent)) {
        let uptime_back = match (self.last_uptime_ms, at.uptime_ms) {
            (Some(last), Some(now)) => last - now > UPTIME_RESTART_MS,
            _ => false,
        };
        let id_back = gc_id == Some(0) && self.max_gc_id.is_some_and(|m| m > 0);
        if self.pending_start.is_none() && (uptime_back || id_back) {
            self.begin_jvm(JvmInfo::default(), emit);
        }
        self.flush_start(emit);
        if let Some(u) = at.uptime_ms {
            self.last_uptime_ms = Some(u);
        }
        if let Some(id) = gc_id {
            self.max_gc_id = Some(self.max_gc_id.map_or(id, |m| m.max(id)));
        }
    }

    fn pause(
        &mut self,
        d: &Decorated<'_>,
        gc_id: Option<u64>,
        rest: &[u8],
        emit: &mut dyn FnMut(GcEvent),
    ) -> LineOutcome {
        let Some(parsed) = parse_pause(rest) else {
            return LineOutcome::Unrecognised;
        };
        let Some((duration_ms, heap)) = parsed.tail else {
            // The `gc,start` line of a pause: no duration, nothing to count.
            return LineOutcome::Recognised;
        };
        // Only the `gc`-tagged summary counts; other tag sets never print a
        // duration here today, but a future one must not double count.
        if d.tags().is_some_and(|t| t != b"gc") {
            return LineOutcome::Recognised;
        }
        let at = d.stamp();
        self.check_restart(&at, gc_id, emit);
        let evac =
            parsed.evacuation_failure || (gc_id.is_some() && self.to_space_exhausted == gc_id);
        let humongous_cause = parsed.cause == b"G1 Humongous Allocation";
        let humongous = humongous_cause || (gc_id.is_some() && self.humongous_grew == gc_id);
        emit(GcEvent::Pause(Pause {
            kind: parsed.kind,
            cause: if parsed.cause.is_empty() {
                UNKNOWN_CAUSE.to_owned()
            } else {
                String::from_utf8_lossy(parsed.cause).into_owned()
            },
            at,
            duration_ms,
            heap,
            gc_id,
            evacuation_failure: evac,
            workers: self
                .workers
                .filter(|(id, _)| Some(*id) == gc_id)
                .map(|(_, w)| w),
        }));
        if humongous {
            emit(GcEvent::HumongousAllocation { at });
        }
        LineOutcome::Recognised
    }

    fn concurrent(
        &mut self,
        d: &Decorated<'_>,
        gc_id: Option<u64>,
        rest: &[u8],
        emit: &mut dyn FnMut(GcEvent),
    ) -> LineOutcome {
        let Some((name, dur)) = split_duration(rest) else {
            return LineOutcome::Recognised; // the start line of a phase
        };
        // `Concurrent Mark (0.101s, 0.112s) 11.2ms` (JDK 11) names the span.
        let name = match memchr::memchr(b'(', name) {
            Some(i) => trim(&name[..i]),
            None => trim(name),
        };
        const REPORTED: &[&[u8]] = &[
            b"Concurrent Cycle",
            b"Concurrent Mark Cycle",
            b"Concurrent Undo Cycle",
            b"Concurrent Mark",
        ];
        if REPORTED.contains(&name) {
            let at = d.stamp();
            self.check_restart(&at, gc_id, emit);
            emit(GcEvent::Concurrent(ConcurrentPhase {
                name: String::from_utf8_lossy(name).into_owned(),
                at,
                duration_ms: dur,
            }));
        }
        LineOutcome::Recognised
    }

    fn init_line(&mut self, rest: &[u8]) {
        let Some(info) = self.pending_start.as_mut() else {
            return;
        };
        if let Some(v) = rest.strip_prefix(b"Version: ") {
            info.version = Some(String::from_utf8_lossy(trim(v)).into_owned());
        } else if let Some(v) = rest.strip_prefix(b"Heap Initial Capacity: ") {
            info.initial_heap_kb = parse_size_kb(trim(v));
        } else if let Some(v) = rest.strip_prefix(b"Heap Min Capacity: ") {
            info.min_heap_kb = parse_size_kb(trim(v));
        } else if let Some(v) = rest.strip_prefix(b"Heap Max Capacity: ") {
            info.max_heap_kb = parse_size_kb(trim(v));
        } else if let Some(v) = rest.strip_prefix(b"Parallel Workers: ") {
            info.parallel_workers = parse_uint(trim(v)).and_then(|n| u32::try_from(n).ok());
        }
    }

    /// `JDK 13+ `Safepoint "NAME", ..., Reaching safepoint: N ns, ..., Total: N ns`.
    fn safepoint(&mut self, d: &Decorated<'_>, rest: &[u8], emit: &mut dyn FnMut(GcEvent)) {
        let body = &rest[b"Safepoint \"".len()..];
        let Some(q) = memchr::memchr(b'"', body) else {
            return;
        };
        let op = String::from_utf8_lossy(&body[..q]).into_owned();
        let (Some(reaching), Some(total)) = (
            field_ns(body, b"Reaching safepoint: "),
            field_ns(body, b"Total: "),
        ) else {
            return;
        };
        // A stop belongs to the life whose start is pending (JDK 11 stops
        // for biased locking before its first collection).
        let at = d.stamp();
        self.check_restart(&at, None, emit);
        emit(GcEvent::Safepoint(Safepoint {
            at,
            operation: Some(op),
            reaching_ms: reaching as f64 / 1e6,
            total_ms: total as f64 / 1e6,
        }));
    }

    /// JDK 9-12 `Total time for which application threads were stopped:
    /// X seconds, Stopping threads took: Y seconds`.
    fn stopped(&mut self, d: &Decorated<'_>, rest: &[u8], emit: &mut dyn FnMut(GcEvent)) {
        let op = self.safepoint_op.take();
        let (Some(total), Some(reaching)) = (
            field_secs(rest, b"stopped: "),
            field_secs(rest, b"Stopping threads took: "),
        ) else {
            return;
        };
        let at = d.stamp();
        self.check_restart(&at, None, emit);
        emit(GcEvent::Safepoint(Safepoint {
            at,
            operation: op,
            reaching_ms: reaching * 1000.0,
            total_ms: total * 1000.0,
        }));
    }
}

/// The integer after `key` up to ` ns`.
fn field_ns(s: &[u8], key: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(s, key)? + key.len();
    let v = &s[at..];
    let end = v
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(v.len());
    if !v[end..].starts_with(b" ns") {
        return None;
    }
    parse_uint(&v[..end])
}

/// The decimal after `key` up to ` seconds`.
fn field_secs(s: &[u8], key: &[u8]) -> Option<f64> {
    let at = memchr::memmem::find(s, key)? + key.len();
    let v = &s[at..];
    let end = memchr::memmem::find(v, b" seconds")?;
    parse_decimal(trim(&v[..end])).filter(|x| x.is_finite() && *x >= 0.0)
}

/// `User=0.01s Sys=0.00s Real=0.02s` in ms.
fn parse_cpu_line(s: &[u8]) -> Option<(f64, f64, f64)> {
    let mut vals = [None; 3];
    for (i, key) in [&b"User="[..], b"Sys=", b"Real="].iter().enumerate() {
        let at = memchr::memmem::find(s, key)? + key.len();
        let v = &s[at..];
        let end = memchr::memchr(b's', v)?;
        vals[i] = parse_decimal(&v[..end])
            .filter(|x| x.is_finite() && *x >= 0.0)
            .map(|x| x * 1000.0);
    }
    Some((vals[0]?, vals[1]?, vals[2]?))
}

/// `Using 2 workers of 8 for evacuation`: the 2.
fn parse_workers(s: &[u8]) -> Option<u32> {
    let v = s.strip_prefix(b"Using ")?;
    let end = v.iter().position(|b| !b.is_ascii_digit())?;
    if !v[end..].starts_with(b" workers of ") {
        return None;
    }
    parse_uint(&v[..end]).and_then(|n| u32::try_from(n).ok())
}

impl LineParser for UnifiedParser {
    fn feed(&mut self, line: &[u8], emit: &mut dyn FnMut(GcEvent)) -> LineOutcome {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let d = Decorated::split(line);
        let msg = d.msg;
        let outcome = self.feed_decorated(&d, emit);
        if d.is_empty() {
            if let (Some(kind), LineOutcome::Unrecognised) = (self.continues_other, outcome) {
                if !other::may_be_event(msg) {
                    return LineOutcome::Other(kind);
                }
            }
        } else {
            self.continues_other = match outcome {
                LineOutcome::Other(kind) => Some(kind),
                _ => None,
            };
        }
        outcome
    }

    fn finish(&mut self, emit: &mut dyn FnMut(GcEvent)) {
        self.flush_start(emit);
    }
}

impl UnifiedParser {
    fn feed_decorated(&mut self, d: &Decorated<'_>, emit: &mut dyn FnMut(GcEvent)) -> LineOutcome {
        let msg = d.msg;
        let (gc_id, rest) = split_gc_id(msg);
        let rest = trim_start(rest);
        if rest.is_empty() {
            // A blank line, or decorators only: nothing the JVM wrote for us.
            return LineOutcome::Recognised;
        }
        match rest[0] {
            b'P' if rest.starts_with(b"Pause ") => return self.pause(d, gc_id, &rest[6..], emit),
            b'C' if rest.starts_with(b"Concurrent ") => {
                return self.concurrent(d, gc_id, rest, emit);
            }
            b'U' if rest.starts_with(b"Using G1") && gc_id.is_none() => {
                let info = JvmInfo {
                    collector: Some("G1".to_owned()),
                    ..JvmInfo::default()
                };
                self.begin_jvm(info, emit);
                self.last_uptime_ms = d.stamp().uptime_ms;
                return LineOutcome::Recognised;
            }
            b'T' if rest == b"To-space exhausted" => {
                self.to_space_exhausted = gc_id;
                return LineOutcome::Recognised;
            }
            b'H' if rest.starts_with(b"Humongous regions: ") => {
                if let Some((before, after)) = parse_arrow(&rest[19..]) {
                    if self.humongous_after.is_some_and(|prev| before > prev) {
                        self.humongous_grew = gc_id;
                    }
                    self.humongous_after = Some(after);
                }
                return LineOutcome::Recognised;
            }
            b'U' if rest.starts_with(b"User=") => {
                if let Some((user_ms, sys_ms, real_ms)) = parse_cpu_line(rest) {
                    emit(GcEvent::PauseCpu(PauseCpu {
                        gc_id,
                        user_ms,
                        sys_ms,
                        real_ms,
                    }));
                }
                return LineOutcome::Recognised;
            }
            b'U' if gc_id.is_some() => {
                if let (Some(id), Some(w)) = (gc_id, parse_workers(rest)) {
                    self.workers = Some((id, w));
                }
            }
            b'S' if rest.starts_with(b"Safepoint \"") => {
                self.safepoint(d, rest, emit);
                return LineOutcome::Recognised;
            }
            b'E' if rest.starts_with(b"Entering safepoint region: ") => {
                let op = trim(&rest[b"Entering safepoint region: ".len()..]);
                self.safepoint_op = Some(String::from_utf8_lossy(op).into_owned());
                return LineOutcome::Recognised;
            }
            b'T' if rest.starts_with(b"Total time for which application threads were stopped") => {
                self.stopped(d, rest, emit);
                return LineOutcome::Recognised;
            }
            b'V' | b'H' | b'P' if gc_id.is_none() => self.init_line(rest),
            _ => {}
        }
        // Another subsystem's tags say so before any of G1's message
        // prefixes can claim the line (`Using `, `Heap`, ... are words of
        // other subsystems too).
        if let Some(kind) = other::other_by_tags(d, msg) {
            if !is_quiet_tag_set(d) {
                return LineOutcome::Other(kind);
            }
        }
        if is_known(rest) || is_debug_detail(d) || is_quiet_tag_set(d) {
            return LineOutcome::Recognised;
        }
        match other::classify(d, msg) {
            LineClass::GcDetail => LineOutcome::Recognised,
            LineClass::Other(kind) => LineOutcome::Other(kind),
            LineClass::MaybeGc => LineOutcome::Unrecognised,
        }
    }
}

/// Splits `GC(123) rest` into the id and the rest.
fn split_gc_id(msg: &[u8]) -> (Option<u64>, &[u8]) {
    let Some(after) = msg.strip_prefix(b"GC(") else {
        return (None, msg);
    };
    let Some(close) = memchr::memchr(b')', after) else {
        return (None, msg);
    };
    let Some(id) = parse_uint(&after[..close]) else {
        return (None, msg);
    };
    let rest = &after[close + 1..];
    (Some(id), rest.strip_prefix(b" ").unwrap_or(rest))
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

fn trim(s: &[u8]) -> &[u8] {
    let mut s = trim_start(s);
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// What a `Pause ...` line says, borrowing the line.
struct ParsedPause<'a> {
    kind: PauseKind,
    cause: &'a [u8],
    evacuation_failure: bool,
    /// Duration and heap change: present on the summary line only.
    tail: Option<(f64, Option<HeapChange>)>,
}

/// Reads a balanced `( ... )` group at the start of `s` (causes contain
/// parentheses: `System.gc()`); returns its content and the rest.
fn paren_group(s: &[u8]) -> Option<(&[u8], &[u8])> {
    if s.first() != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    for (i, &b) in s.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[1..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// Parses what follows `Pause `: the kind, the cause, extra flags such as
/// `(Evacuation Failure)`, and — on summary lines — `12M->1M(256M) 1.333ms`.
fn parse_pause(s: &[u8]) -> Option<ParsedPause<'_>> {
    let (kind, mut rest) = if let Some(r) = s.strip_prefix(b"Young") {
        (PauseKind::Young, trim_start(r))
    } else if let Some(r) = s.strip_prefix(b"Remark") {
        (PauseKind::Remark, trim_start(r))
    } else if let Some(r) = s.strip_prefix(b"Cleanup") {
        (PauseKind::Cleanup, trim_start(r))
    } else if let Some(r) = s.strip_prefix(b"Full") {
        (PauseKind::Full, trim_start(r))
    } else if let Some(r) = s.strip_prefix(b"Initial Mark") {
        // JDK 9/10 name of the concurrent-start pause.
        (PauseKind::ConcurrentStart, trim_start(r))
    } else if let Some(r) = s.strip_prefix(b"Mixed") {
        // JDK 9/10 name of the mixed pause.
        (PauseKind::Mixed, trim_start(r))
    } else {
        return None;
    };
    let mut kind = kind;
    let mut cause: &[u8] = b"";
    let mut evacuation_failure = false;
    let mut first = true;
    while let Some((group, after)) = paren_group(rest) {
        if first && kind == PauseKind::Young {
            // JDK 11+ prints the young pause's type first; JDK 9/10 go
            // straight to the cause.
            let sub = match group {
                b"Normal" => Some(PauseKind::Young),
                b"Concurrent Start" => Some(PauseKind::ConcurrentStart),
                b"Prepare Mixed" => Some(PauseKind::PrepareMixed),
                b"Mixed" => Some(PauseKind::Mixed),
                _ => None,
            };
            if let Some(k) = sub {
                kind = k;
            } else {
                cause = group;
            }
        } else if cause.is_empty() && !group.starts_with(b"Evacuation Failure") {
            cause = group;
        } else if group.starts_with(b"Evacuation Failure") || group.starts_with(b"To-space") {
            evacuation_failure = true;
        }
        first = false;
        rest = trim_start(after);
    }
    let tail = if rest.is_empty() {
        None
    } else {
        let (head, dur) = split_duration(rest)?;
        let head = trim(head);
        let heap = if head.is_empty() {
            None
        } else {
            Some(parse_heap(head)?)
        };
        Some((dur, heap))
    };
    Some(ParsedPause {
        kind,
        cause,
        evacuation_failure,
        tail,
    })
}

/// Splits `... 1.333ms` into the text before and the duration.
fn split_duration(s: &[u8]) -> Option<(&[u8], f64)> {
    let s = trim(s);
    let num_end = s.len().checked_sub(2)?;
    if &s[num_end..] != b"ms" {
        return None;
    }
    let start = memchr::memrchr(b' ', &s[..num_end]).map_or(0, |i| i + 1);
    let v = parse_decimal(&s[start..num_end])?;
    Some((&s[..start], v))
}

/// Parses `12M->1M(256M)` into KiB.
fn parse_heap(s: &[u8]) -> Option<HeapChange> {
    let arrow = memchr::memmem::find(s, b"->")?;
    let before = parse_size_kb(&s[..arrow])?;
    let rest = &s[arrow + 2..];
    let open = memchr::memchr(b'(', rest)?;
    let after = parse_size_kb(&rest[..open])?;
    let cap = rest[open + 1..].strip_suffix(b")")?;
    Some(HeapChange {
        before_kb: before,
        after_kb: after,
        capacity_kb: parse_size_kb(cap)?,
    })
}

/// Parses `256M`, `1024K`, `2G`, `512B` into KiB.
fn parse_size_kb(s: &[u8]) -> Option<u64> {
    let (&unit, num) = s.split_last()?;
    let v = parse_decimal(num)?;
    let kb = match unit {
        b'B' => v / 1024.0,
        b'K' => v,
        b'M' => v * 1024.0,
        b'G' => v * 1024.0 * 1024.0,
        b'T' => v * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(kb.round() as u64)
}

/// Parses `a->b` (region counts).
fn parse_arrow(s: &[u8]) -> Option<(u64, u64)> {
    let arrow = memchr::memmem::find(s, b"->")?;
    let b = &s[arrow + 2..];
    let b_end = b
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(b.len());
    Some((parse_uint(&s[..arrow])?, parse_uint(&b[..b_end])?))
}

/// Messages the JVM's G1 (and safepoint) logging writes that carry nothing
/// the statistics need. Matched as prefixes after leading spaces.
const KNOWN: &[&[u8]] = &[
    b"Eden regions:",
    b"Survivor regions:",
    b"Old regions:",
    b"Archive regions:",
    b"Humongous regions:",
    b"Using ",
    b"User=",
    b"Pre Evacuate Collection Set:",
    b"Post Evacuate Collection Set:",
    b"Evacuate Collection Set:",
    b"Evacuate Optional Collection Set:",
    b"Merge Heap Roots:",
    b"Merge Optional Heap Roots:",
    b"Other:",
    b"Metaspace",
    b"Safepoint \"",
    b"Total time for which application threads were stopped",
    b"Application time:",
    b"Entering safepoint region",
    b"Leaving safepoint region",
    b"Cleaned string and symbol table",
    b"Phase ",
    b"Attempting ",
    b"Discovered:",
    b"Cleared:",
    b"Heap",
    b"garbage-first heap",
    b"region size",
    b"class space",
    b"Skipped phase",
    b"Pre-touch:",
    b"Periodic GC:",
    b"Parallel Workers:",
    b"NUMA ",
    b"Memory:",
    b"Large Page Support:",
    b"Concurrent Workers:",
    b"Concurrent Refinement Workers:",
    b"Compressed Oops:",
    b"CPUs:",
    b"FinalRef",
    b"SoftRef",
    b"WeakRef",
    b"PhantomRef",
    b"JNI Weak",
    b"Total (ms):",
    b"WeakReference:",
    b"SoftReference:",
    b"PhantomReference:",
    b"FinalReference:",
    b"Reference Processing:",
    b"Reconsider SoftReferences:",
    b"Notify ",
    b"CardTable entry size:",
    b"CDS ",
    b"Desired survivor size",
    b"Balance queues:",
    b"Age table with threshold",
    b"- age",
    b"Compressed class space",
    b"UseCompressedClassPointers",
    b"No protection zone",
    // JDK 24+ with a CDS archive mapped: the guard page below the classes.
    b"Protection zone:",
    b"Narrow klass",
    b"Klass ID Range:",
    b"Encoding Range:",
    b"Klass Range:",
    b"MMU target violated",
    // IHOP's value updates (`gc,ihop` at debug; they end in `ms` like a summary).
    b"Basic information (value update)",
    b"Adaptive IHOP information (value update)",
    b"Preclean ",
    b"Version:",
    b"Pause ",
    b"To-space exhausted",
    b"Concurrent ",
    b"Periodic",
    b"Soft Max Capacity",
    b"Expand the heap",
    b"Shrink the heap",
    b"Mark Closed Regions",
    b"Mark closed archive regions",
    b"Mark open archive regions",
    b"Min Capacity",
    b"Initial Capacity",
    b"Max Capacity",
    b"String Dedup",
    b"Trim ",
    b"Uncommit",
    b"Code ",
];

/// `debug` and `trace` lines of the `gc` tags (`-Xlog:gc*=debug`) are
/// worker, remembered-set and sizing detail: hundreds of shapes, none
/// needed here. Only `info`-level messages must match [`KNOWN`] — those are
/// the summary lines this parser claims to understand.
fn is_debug_detail(d: &Decorated<'_>) -> bool {
    matches!(d.level(), Some(b"debug" | b"trace"))
        && d.tags()
            .is_some_and(|t| t.starts_with(b"gc") || t.starts_with(b"safepoint"))
}

/// Tag sets whose every line is bookkeeping, never a GC event: string
/// deduplication statistics (`gc,stringdedup`: `Last Exec:`, `Table`,
/// `Memory Usage:`, ... at any level) and the CDS archive regions G1 maps
/// at start (`gc,cds`, JDK 14+). The `cds` tag alone is class data
/// sharing's own output: other JVM output.
fn is_quiet_tag_set(d: &Decorated<'_>) -> bool {
    d.tags().is_some_and(|t| {
        let mut tags = t.split(|&b| b == b',');
        tags.clone().any(|tag| tag == b"stringdedup")
            || (tags.clone().any(|tag| tag == b"gc") && tags.any(|tag| tag == b"cds"))
    })
}

fn is_known(s: &[u8]) -> bool {
    // Comparing the first byte inline first skips almost every `memcmp`.
    let Some(&first) = s.first() else {
        return false;
    };
    KNOWN
        .iter()
        .any(|p| p.first() == Some(&first) && s.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> (Vec<GcEvent>, usize) {
        let mut p = UnifiedParser::new();
        let mut evs = Vec::new();
        let mut unknown = 0;
        for l in lines {
            if p.feed(l.as_bytes(), &mut |e| evs.push(e)) == LineOutcome::Unrecognised {
                unknown += 1;
            }
        }
        p.finish(&mut |e| evs.push(e));
        (evs, unknown)
    }

    fn pauses(evs: &[GcEvent]) -> Vec<&Pause> {
        evs.iter()
            .filter_map(|e| match e {
                GcEvent::Pause(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// JDK 11 stops for biased locking before its first collection: those
    /// safepoints belong to the JVM life whose header came before them, so
    /// its start comes first (the agent begins a life at a start met after
    /// events, and counted two safepoints fewer than the JVM's counters).
    #[test]
    fn safepoints_before_the_first_pause_follow_the_jvm_start() {
        let (evs, unknown) = run(&[
            "[0.040s][info][gc,heap] Heap region size: 1M",
            "[0.052s][info][gc     ] Using G1",
            "[0.730s][info][safepoint    ] Entering safepoint region: EnableBiasedLocking",
            "[0.759s][info][safepoint    ] Leaving safepoint region",
            "[0.759s][info][safepoint    ] Total time for which application threads were stopped: 0.0292808 seconds, Stopping threads took: 0.0000487 seconds",
            "[0.807s][info][gc,start     ] GC(0) Pause Young (Normal) (G1 Evacuation Pause)",
            "[0.829s][info][gc           ] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 6M->1M(128M) 21.889ms",
        ]);
        assert_eq!(unknown, 0);
        assert!(matches!(evs[0], GcEvent::JvmStart(_)), "{evs:?}");
        assert!(matches!(evs[1], GcEvent::Safepoint(_)), "{evs:?}");
        assert_eq!(evs.len(), 3);
        // JDK 13+'s one-line form alike.
        let (evs, _) = run(&[
            "[0.005s][info][gc] Using G1",
            "[0.100s][info][safepoint] Safepoint \"ICBufferFull\", Time since last: 1000 ns, Reaching safepoint: 2000 ns, At safepoint: 3000 ns, Total: 5000 ns",
        ]);
        assert!(matches!(evs[0], GcEvent::JvmStart(_)), "{evs:?}");
        assert!(matches!(evs[1], GcEvent::Safepoint(_)), "{evs:?}");
    }

    #[test]
    fn start_line_is_not_a_pause() {
        let (evs, unknown) = run(&[
            "[0.005s][info][gc] Using G1",
            "[0.006s][info][gc,init] Version: 17.0.15+6 (release)",
            "[0.006s][info][gc,init] Heap Initial Capacity: 256M",
            "[0.006s][info][gc,init] Heap Max Capacity: 1G",
            "[0.025s][info][gc,start    ] GC(0) Pause Young (Normal) (G1 Evacuation Pause)",
            "[0.026s][info][gc          ] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 12M->1M(256M) 1.246ms",
        ]);
        assert_eq!(unknown, 0);
        let GcEvent::JvmStart(info) = &evs[0] else {
            panic!("{evs:?}")
        };
        assert_eq!(info.initial_heap_kb, Some(256 * 1024));
        assert_eq!(info.max_heap_kb, Some(1024 * 1024));
        assert_eq!(info.version.as_deref(), Some("17.0.15+6 (release)"));
        let p = pauses(&evs);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind, PauseKind::Young);
        assert_eq!(p[0].cause, "G1 Evacuation Pause");
        assert_eq!(p[0].duration_ms, 1.246);
        assert_eq!(p[0].gc_id, Some(0));
        assert_eq!(p[0].heap.map(|h| h.after_kb), Some(1024));
    }

    #[test]
    fn kinds_causes_and_failures() {
        let (evs, unknown) = run(&[
            "GC(1) Pause Young (Concurrent Start) (G1 Humongous Allocation) 48M->46M(96M) 0.479ms",
            "GC(2) Pause Young (Mixed) (G1 Evacuation Pause) (Evacuation Failure: Allocation) 85M->45M(96M) 1.593ms",
            "GC(3) Pause Full (System.gc()) 95M->34M(96M) 4.871ms",
            "GC(1) Pause Remark 81M->81M(96M) 0.409ms",
            "GC(1) Pause Cleanup 77M->77M(96M) 0.025ms",
            "GC(4) Pause Young (G1 Evacuation Pause) 24M->11M(256M) 7.965ms",
            "GC(5) Pause Initial Mark (G1 Evacuation Pause) 23M->14M(143M) 3.771ms",
            "GC(6) Pause Young (Prepare Mixed) (G1 Evacuation Pause) 23M->14M(143M) 3.771ms",
            "GC(7) To-space exhausted",
            "GC(7) Pause Young (Normal) (G1 Preventive Collection) 23M->14M(143M) 1ms",
            "GC(8) Pause Mixed (G1 Evacuation Pause) 23M->14M(143M) 2.5ms",
            "GC(1) Concurrent Mark (0.101s, 0.112s) 11.2ms",
            "GC(1) Concurrent Cycle 20.5ms",
        ]);
        assert_eq!(unknown, 0);
        let p = pauses(&evs);
        let kinds: Vec<_> = p.iter().map(|p| p.kind).collect();
        use PauseKind::*;
        assert_eq!(
            kinds,
            [
                ConcurrentStart,
                Mixed,
                Full,
                Remark,
                Cleanup,
                Young,
                ConcurrentStart,
                PrepareMixed,
                Young,
                Mixed
            ]
        );
        assert_eq!(p[2].cause, "System.gc()");
        assert!(p[1].evacuation_failure && p[8].evacuation_failure && !p[0].evacuation_failure);
        assert_eq!(p[5].cause, "G1 Evacuation Pause");
        let humongous = evs
            .iter()
            .filter(|e| matches!(e, GcEvent::HumongousAllocation { .. }))
            .count();
        assert_eq!(humongous, 1);
        let conc: Vec<_> = evs
            .iter()
            .filter_map(|e| match e {
                GcEvent::Concurrent(c) => Some((c.name.as_str(), c.duration_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(
            conc,
            [("Concurrent Mark", 11.2), ("Concurrent Cycle", 20.5)]
        );
    }

    #[test]
    fn restarts() {
        let (evs, _) = run(&[
            "[10ms] Using G1",
            "[900ms] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 12M->1M(256M) 1ms",
            "[1900ms] GC(1) Pause Young (Normal) (G1 Evacuation Pause) 12M->1M(256M) 1ms",
            // No header: uptime went back.
            "[500ms] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 12M->1M(256M) 1ms",
            "[8ms] Using G1",
            "[50ms] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 12M->1M(256M) 1ms",
        ]);
        let starts = evs
            .iter()
            .filter(|e| matches!(e, GcEvent::JvmStart(_)))
            .count();
        assert_eq!(starts, 3);
        assert!(matches!(evs[0], GcEvent::JvmStart(_)));
    }

    #[test]
    fn debug_detail_is_recognised_only_when_tagged_debug() {
        let (_, unknown) = run(&[
            "[0.1s][debug][gc,phases] GC(3) Ext Root Scanning (ms): Min: 0.1",
            "[0.1s][trace][gc,heap] GC(3) Something new",
        ]);
        assert_eq!(unknown, 0);
        let (_, unknown) = run(&[
            "[0.1s][info][gc,phases] GC(3) Something new",
            "[0.1s][info][gc] Something else",
        ]);
        assert_eq!(unknown, 2);
    }

    #[test]
    fn wide_selection_lines_are_other_output_and_events_stay_read() {
        let mut p = UnifiedParser::new();
        let mut pauses = 0;
        let outcomes: Vec<LineOutcome> = [
            "[0.001s][info ] jvm_args: -XX:+UseG1GC -Xmx256m",
            "[0.002s][debug] loadInstanceThreadQ threads:0x00007f0fb402fd40,",
            "[0.003s][info ] Using G1",
            "[0.003s][info ] Protection zone: [0x000000003f000000 - 0x000000003f001000), (4096 bytes)",
            "[0.1s][info ] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 12M->1M(256M) 1.246ms",
            "[0.1s][debug] GC(0) Young PLAB allocation: allocated: 294912B, wasted: 4384B",
            "[0.2s][info ] Thread attached (tid: 1, pthread id: 2).",
            "[0.3s][info ] lookup_polymorphic_method => intrinsic {method} {0x00007f0f803a84b0}",
            // The undecorated rest of that multi-line message.
            " - final: 1",
            // Could be a G1 event: stays unrecognised.
            "[0.4s][info ] GC(1) Some new summary 12M->1M(256M) 3.0ms",
            "[0.4s][info ] A line of no known shape",
            // A pause that cannot be read is never other output.
            "[0.5s][debug] GC(2) Pause Young (Normal) (G1 Evacuation Pause) 12M->",
        ]
        .iter()
        .map(|l| {
            p.feed(l.as_bytes(), &mut |e| {
                if matches!(e, GcEvent::Pause(_)) {
                    pauses += 1;
                }
            })
        })
        .collect();
        use LineOutcome::*;
        let kind = |o: &LineOutcome| match o {
            Other(k) => k.name(),
            Recognised => "recognised",
            Unrecognised => "unrecognised",
        };
        let got: Vec<&str> = outcomes.iter().map(kind).collect();
        assert_eq!(
            got,
            [
                "arguments",
                "class",
                "recognised",
                "recognised",
                "recognised",
                "recognised",
                "os",
                "methodhandles",
                "methodhandles",
                "unrecognised",
                "unrecognised",
                "unrecognised",
            ]
        );
        assert_eq!(pauses, 1);
    }

    #[test]
    fn garbage_never_panics() {
        let (_, unknown) = run(&[
            "",
            "[",
            "]]]",
            "GC(",
            "GC(99999999999999999999999) Pause Young (",
            "Pause Young (Normal) (G1 Evacuation Pause) 12M->",
            "Pause Young (Normal) (G1 Evacuation Pause) x ms",
            "Pause ((((",
            "[0.1s][info][gc] GC(1) Pause Full (System.gc()) 95M->34M(96M) 4.8",
            "\u{1F600} random text",
        ]);
        assert!(unknown >= 5);
    }
}
