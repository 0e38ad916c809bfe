//! The JDK 7/8 G1 log parser (`-XX:+PrintGCDetails`, with or without
//! `-XX:+PrintGCDateStamps` / `-XX:+PrintGCTimeStamps`, adaptive-size
//! ergonomics, tenuring distribution, reference-processing and
//! `fine`/`finer`/`finest` detail).
//!
//! A JDK 8 pause is printed over many lines by the VM thread while other
//! threads keep writing into the same file, so the parser is a small state
//! machine rather than a line classifier:
//!
//! 1. the header (`[GC pause (G1 Evacuation Pause) (young)`, `[Full GC`,
//!    `[GC remark`, `[GC cleanup`) *opens* a pause;
//! 2. the pause's own `, 0.0029120 secs]` — on the same line, or lines later
//!    after tenuring or ergonomics output — *closes* it. The closing `]` is
//!    found by counting brackets, so nested records (`[GC ref-proc, ...]`,
//!    `[SoftReference, ...]`, `[G1Ergonomics ...]`) never end it early, and a
//!    `[GC concurrent-...]` record written into the middle of the header is
//!    reported as the concurrent phase it is;
//! 3. phase detail and the `[Eden: ... Heap: A(B)->C(D)]` line add the heap;
//! 4. `[Times: ...]` (or the next pause, a JVM restart, or the end of input)
//!    *emits* it.
//!
//! A line may also carry several records glued together (`[Times: ...]` directly
//! followed by `21306.667: [GC concurrent-root-region-scan-start]`): after a
//! record with a known end, the rest of the line is parsed as a new record.
//! A line is [`LineOutcome::Recognised`] only if every record on it is.
//!
//! Conventions (shared with the unified-logging parser through the event
//! model): a pause's [`Stamp`] is when it *ended* (JDK 8 prints the start, so
//! the duration is added); the cause is what the log prints in parentheses, or
//! [`UNKNOWN_CAUSE`] when it prints none (JDK 7 `[GC pause (young)`, remark,
//! cleanup, old-style `[Full GC 200M->...`); sizes are KiB; durations are the
//! pause's own total, never `[Times: real=...]` or a phase time.

mod lex;

use memchr::memchr;

use crate::gc::event::{
    ConcurrentPhase, GcEvent, HeapChange, JvmInfo, Pause, PauseCpu, PauseKind, Safepoint, Stamp,
};
use crate::gc::parser::{LineOutcome, LineParser};

/// The cause given to pauses whose log line names none.
pub use super::event::UNKNOWN_CAUSE;

/// Parser of JDK 7/8 G1 logs; feed it lines in file order (see the module
/// documentation for how multi-line events are assembled).
#[derive(Debug, Default)]
pub struct Jdk8Parser {
    /// A pause whose header was seen and whose own `secs]` was not yet.
    open: Option<Pending>,
    /// A pause whose duration is known, waiting for `[Eden:` and `[Times:`.
    closed: Option<Pending>,
    /// JVM header lines seen, not yet emitted (the `CommandLine flags:` line
    /// completes it, any GC line flushes it).
    jvm: Option<JvmInfo>,
    /// Inside the `/proc/meminfo:` dump some JVM headers carry.
    in_meminfo: bool,
    /// When the running concurrent mark started, to time an abort.
    mark_start: Option<Stamp>,
    /// Pauses dropped because their duration never arrived.
    dropped: u64,
    /// A JVM header that came after timed events: a restart if the uptime
    /// that follows goes back, the next file of a rotated set if it goes on.
    held_start: Option<JvmInfo>,
    /// The latest uptime seen, ms.
    last_uptime: Option<f64>,
    /// `GC log file created` was seen: the header that follows opens a
    /// rotated file of the same JVM.
    rotated: bool,
}

/// A pause being assembled.
#[derive(Debug)]
struct Pending {
    kind: PauseKind,
    cause: String,
    /// The header's stamp: when the pause started.
    start: Stamp,
    duration_ms: Option<f64>,
    heap: Option<HeapChange>,
    evacuation_failure: bool,
    /// `[Parallel Time: ..., GC Workers: N]`.
    workers: Option<u32>,
    /// Open `[` brackets, counting the pause's own.
    depth: u32,
}

/// What one record of a line turned out to be.
enum Step {
    /// Recognised; nothing after it on the line matters.
    Done,
    /// Recognised; another record may follow at this offset.
    Rest(usize),
    /// Not a JDK 8 G1 record.
    Unknown,
}

/// Which header opened a pause.
#[derive(Clone, Copy)]
enum Family {
    /// `[GC pause (...) (young|mixed) [(initial-mark)]`.
    Evacuation,
    /// `[GC remark`.
    Remark,
    /// `[GC cleanup`.
    Cleanup,
    /// `[Full GC`.
    Full,
}

impl Jdk8Parser {
    /// A parser in its initial state (before any header).
    pub fn new() -> Self {
        Self::default()
    }

    /// How many pauses were started but never got their duration (a header
    /// cut off by a crash or by the end of a rotated file, a corrupted line);
    /// they are not emitted.
    pub fn dropped_pauses(&self) -> u64 {
        self.dropped
    }

    /// One record starting at `t` (no leading whitespace).
    fn fragment(&mut self, t: &[u8], emit: &mut dyn FnMut(GcEvent)) -> Step {
        if let Some(step) = self.header_line(t, emit) {
            return step;
        }
        self.in_meminfo = false;
        if let Some(info) = self.jvm.take() {
            emit(GcEvent::JvmStart(info));
        }
        let (stamp, n) = lex::stamp(t);
        match self.record(&t[n..], stamp, true, emit) {
            Step::Rest(k) => return Step::Rest(n + k),
            Step::Unknown => {}
            done => return done,
        }
        // Two threads writing at once leave stamp debris before a record
        // (`132.743132.743: : Application time: ...`, `0.5: 0Total time ...`):
        // skip anything that could only be stamp characters and try again,
        // keeping a stamp only if one parsed cleanly (at the start, or right
        // before the record) rather than guessing from the debris.
        let p = stamp_debris_len(t);
        if p > 0 && p < t.len() {
            let stamp = if n > 0 {
                stamp
            } else {
                lex::stamp_before(t, p)
            };
            return match self.record(&t[p..], stamp, false, emit) {
                Step::Rest(k) => Step::Rest(p + k),
                other => other,
            };
        }
        Step::Unknown
    }

    /// JVM header lines; `None` when `t` is not one.
    fn header_line(&mut self, t: &[u8], emit: &mut dyn FnMut(GcEvent)) -> Option<Step> {
        if (t.starts_with(b"Java HotSpot")
            || t.starts_with(b"OpenJDK")
            || t.starts_with(b"Java(TM)"))
            && lex::contains(t, b" VM")
        {
            if lex::contains(t, b"VM warning:") {
                return Some(Step::Done);
            }
            // A new JVM: whatever was being assembled belongs to the old one.
            self.flush_closed(emit);
            if self.open.take().is_some() {
                self.dropped += 1;
            }
            self.mark_start = None;
            if let Some(info) = self.jvm.take() {
                emit(GcEvent::JvmStart(info));
            }
            self.jvm = Some(JvmInfo {
                version: jvm_version(t),
                ..JvmInfo::default()
            });
            return Some(Step::Done);
        }
        if t.starts_with(b"Memory: ") {
            return Some(Step::Done);
        }
        if t.starts_with(b"/proc/meminfo:") {
            self.in_meminfo = true;
            return Some(Step::Done);
        }
        if let Some(flags) = t.strip_prefix(b"CommandLine flags:") {
            self.in_meminfo = false;
            if self.jvm.is_none() {
                // Flags without a version line still mean a JVM started.
                self.flush_closed(emit);
                if self.open.take().is_some() {
                    self.dropped += 1;
                }
                self.mark_start = None;
            }
            let mut info = self.jvm.take().unwrap_or_default();
            fill_flags(&mut info, flags);
            emit(GcEvent::JvmStart(info));
            return Some(Step::Done);
        }
        if self.in_meminfo && is_meminfo_line(t) {
            return Some(Step::Done);
        }
        None
    }

    /// One record after its stamp. `continuation` allows a line to be read
    /// as the rest of an open pause.
    fn record(
        &mut self,
        r: &[u8],
        stamp: Stamp,
        continuation: bool,
        emit: &mut dyn FnMut(GcEvent),
    ) -> Step {
        let Some(&first) = r.first() else {
            // A stamp and nothing else: a line cut off right after its stamp.
            return Step::Unknown;
        };
        if first == b'[' {
            return self.bracket_record(r, stamp, continuation, emit);
        }
        if r.starts_with(b"Desired survivor size") || r.starts_with(b"- age") {
            return Step::Done;
        }
        if let Some(rest) = r.strip_prefix(b"Application time:") {
            return after_seconds(r, r.len() - rest.len(), false);
        }
        if let Some(rest) =
            r.strip_prefix(b"Total time for which application threads were stopped:")
        {
            if let Some(sp) = stopped(rest, stamp) {
                emit(GcEvent::Safepoint(sp));
            }
            return after_seconds(r, r.len() - rest.len(), true);
        }
        if continuation
            && self.open.is_some()
            && (first == b',' || first == b'(' || first.is_ascii_digit())
        {
            return self.continue_open(r, emit);
        }
        if is_known_text(r) {
            return Step::Done;
        }
        Step::Unknown
    }

    /// A record starting with `[`.
    fn bracket_record(
        &mut self,
        r: &[u8],
        stamp: Stamp,
        continuation: bool,
        emit: &mut dyn FnMut(GcEvent),
    ) -> Step {
        let header = if r.starts_with(b"[GC pause") {
            Some((Family::Evacuation, 9))
        } else if r.starts_with(b"[Full GC") {
            Some((Family::Full, 8))
        } else if r.starts_with(b"[GC remark") {
            Some((Family::Remark, 10))
        } else if r.starts_with(b"[GC cleanup") {
            Some((Family::Cleanup, 11))
        } else {
            None
        };
        if let Some((family, n)) = header {
            return match self.pause_header(&r[n..], stamp, family, emit) {
                Step::Rest(k) => Step::Rest(n + k),
                other => other,
            };
        }
        if r.starts_with(b"[GC concurrent-") {
            return match concurrent(r, stamp, &mut self.mark_start, emit) {
                Some(n) => Step::Rest(n),
                None => Step::Unknown,
            };
        }
        if r.starts_with(b"[G1Ergonomics") {
            let end = memchr(b']', r).map_or(r.len(), |e| e + 1);
            if is_humongous_ergonomics(&r[..end]) {
                emit(GcEvent::HumongousAllocation { at: stamp });
            }
            return Step::Rest(end);
        }
        if r.starts_with(b"[Eden:") {
            if let Some(at) = memchr::memmem::find(r, b"Heap: ") {
                if let Some((heap, _)) = lex::heap_transition(&r[at + 6..]) {
                    if let Some(p) = self.closed.as_mut().or(self.open.as_mut()) {
                        p.heap = Some(heap);
                    }
                }
            }
            return Step::Done;
        }
        if r.starts_with(b"[Parallel Time:") {
            if let Some(w) = gc_workers(r) {
                if let Some(p) = self.closed.as_mut().or(self.open.as_mut()) {
                    p.workers = Some(w);
                }
            }
            return Step::Done;
        }
        if r.starts_with(b"[Times:") {
            // The last line of every detailed pause printout.
            if self.open.take().is_some() {
                self.dropped += 1;
            }
            let had_pause = self.closed.is_some();
            self.flush_closed(emit);
            if had_pause {
                if let Some(cpu) = times(r) {
                    emit(GcEvent::PauseCpu(cpu));
                }
            }
            return match memchr(b']', r) {
                Some(end) => Step::Rest(end + 1),
                None => Step::Done,
            };
        }
        if r.starts_with(b"[Evacuation Failure") {
            if let Some(p) = self.closed.as_mut().or(self.open.as_mut()) {
                p.evacuation_failure = true;
            }
            return Step::Done;
        }
        if is_detail_line(r) || is_section_title(r) {
            return Step::Done;
        }
        if continuation && self.open.is_some() {
            // `100084.860: [SoftReference, 22 refs, ...] 510M->510M(512M), 4.33 secs]`
            return self.continue_open(r, emit);
        }
        Step::Unknown
    }

    /// A pause header; `s` is what follows the keyword.
    fn pause_header(
        &mut self,
        s: &[u8],
        stamp: Stamp,
        family: Family,
        emit: &mut dyn FnMut(GcEvent),
    ) -> Step {
        self.flush_closed(emit);
        if self.open.take().is_some() {
            self.dropped += 1;
        }
        let (mut mixed, mut initial_mark, mut evacuation_failure) = (false, false, false);
        let mut cause: Option<&[u8]> = None;
        let mut i = 0;
        if matches!(family, Family::Evacuation | Family::Full) {
            loop {
                let j = i + s[i..].iter().take_while(|&&b| b == b' ').count();
                if s.get(j) != Some(&b'(') {
                    break;
                }
                let Some(close) = lex::matching_paren(&s[j..]) else {
                    break;
                };
                match &s[j + 1..j + close] {
                    // Young is what an evacuation pause is unless told otherwise.
                    b"young" => {}
                    b"mixed" | b"partial" => mixed = true,
                    b"initial-mark" => initial_mark = true,
                    b"to-space exhausted" | b"to-space overflow" => evacuation_failure = true,
                    other if cause.is_none() => cause = Some(other),
                    _ => {}
                }
                i = j + close + 1;
            }
        }
        let kind = match family {
            Family::Evacuation if initial_mark => PauseKind::ConcurrentStart,
            Family::Evacuation if mixed => PauseKind::Mixed,
            Family::Evacuation => PauseKind::Young,
            Family::Remark => PauseKind::Remark,
            Family::Cleanup => PauseKind::Cleanup,
            Family::Full => PauseKind::Full,
        };
        let cause = match cause {
            Some(c) if !c.trim_ascii().is_empty() => String::from_utf8_lossy(c).into_owned(),
            // `[GC pause ()` names no cause either.
            _ => UNKNOWN_CAUSE.to_owned(),
        };
        if cause == "G1 Humongous Allocation" {
            emit(GcEvent::HumongousAllocation { at: stamp });
        }
        self.open = Some(Pending {
            kind,
            cause,
            start: stamp,
            duration_ms: None,
            heap: None,
            evacuation_failure,
            workers: None,
            depth: 1,
        });
        match self.scan_body(&s[i..], emit) {
            Some(k) => Step::Rest(i + k),
            None => Step::Done,
        }
    }

    /// A line read as more of the open pause.
    fn continue_open(&mut self, r: &[u8], emit: &mut dyn FnMut(GcEvent)) -> Step {
        match self.scan_body(r, emit) {
            Some(k) => Step::Rest(k),
            None => Step::Done,
        }
    }

    /// Scans text belonging to the open pause, up to and including its own
    /// closing `]`. Returns the offset after that `]` when the pause closed.
    fn scan_body(&mut self, s: &[u8], emit: &mut dyn FnMut(GcEvent)) -> Option<usize> {
        let p = self.open.as_mut()?;
        let mut closed_at = None;
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'[' => {
                    let sub = &s[i..];
                    if sub.starts_with(b"[GC concurrent-") {
                        let at = lex::stamp_before(s, i);
                        if let Some(n) = concurrent(sub, at, &mut self.mark_start, emit) {
                            i += n;
                            continue;
                        }
                    } else if sub.starts_with(b"[G1Ergonomics") {
                        let end = memchr(b']', sub).map_or(sub.len(), |e| e + 1);
                        if is_humongous_ergonomics(&sub[..end]) {
                            emit(GcEvent::HumongousAllocation {
                                at: lex::stamp_before(s, i),
                            });
                        }
                        i += end;
                        continue;
                    }
                    p.depth = p.depth.saturating_add(1);
                }
                b']' => {
                    p.depth = p.depth.saturating_sub(1);
                    if p.depth == 0 {
                        p.duration_ms = lex::secs_before(s, i);
                        closed_at = Some(i + 1);
                        break;
                    }
                }
                b'(' if p.depth == 1 && s[i..].starts_with(b"(to-space") => {
                    p.evacuation_failure = true
                }
                // `[GC pause (young)` ... lines of other threads ...
                // ` (initial-mark), 0.12 secs]`: the header's last part comes
                // after the interruption, and it decides the kind.
                b'(' if p.depth == 1
                    && p.kind == PauseKind::Young
                    && s[i..].starts_with(b"(initial-mark)") =>
                {
                    p.kind = PauseKind::ConcurrentStart
                }
                b'-' if p.depth == 1 && s.get(i + 1) == Some(&b'>') => {
                    if let Some(heap) = lex::heap_transition_at(s, i) {
                        p.heap = Some(heap);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if closed_at.is_some() {
            self.closed = self.open.take();
        }
        closed_at
    }

    /// Emits the closed pause, if any.
    fn flush_closed(&mut self, emit: &mut dyn FnMut(GcEvent)) {
        let Some(p) = self.closed.take() else { return };
        let Some(duration_ms) = p.duration_ms else {
            self.dropped += 1;
            return;
        };
        emit(GcEvent::Pause(Pause {
            kind: p.kind,
            cause: p.cause,
            at: lex::stamp_plus(p.start, duration_ms),
            duration_ms,
            heap: p.heap,
            gc_id: None,
            evacuation_failure: p.evacuation_failure,
            workers: p.workers,
        }));
    }
}

impl LineParser for Jdk8Parser {
    /// JDK 8 repeats the JVM header at the top of every rotated file, so a
    /// header alone does not mean a restart: it is held until the uptime
    /// that follows shows whether the clock started again.
    fn feed(&mut self, line: &[u8], emit: &mut dyn FnMut(GcEvent)) -> LineOutcome {
        if lex::contains(line, b"GC log file created") {
            self.rotated = true;
        }
        let mut held = self.held_start.take();
        let mut last = self.last_uptime;
        let mut rotated = self.rotated;
        let outcome = {
            let mut sort = |ev: GcEvent| match ev {
                GcEvent::JvmStart(info) if rotated => {
                    rotated = false;
                    drop(info);
                }
                GcEvent::JvmStart(info) if last.is_some() => held = Some(info),
                GcEvent::JvmStart(info) => emit(GcEvent::JvmStart(info)),
                other => {
                    let uptime = match &other {
                        GcEvent::Pause(p) => p.at.uptime_ms,
                        GcEvent::Concurrent(c) => c.at.uptime_ms,
                        GcEvent::HumongousAllocation { at } => at.uptime_ms,
                        GcEvent::Safepoint(sp) => sp.at.uptime_ms,
                        GcEvent::JvmStart(_) | GcEvent::PauseCpu(_) => None,
                    };
                    match (held.take(), uptime) {
                        // Back by more than a second: a new JVM (pauses end after
                        // the lines around them start, so small steps back are normal).
                        (Some(info), Some(u)) if last.is_some_and(|l| u + 1000.0 < l) => {
                            emit(GcEvent::JvmStart(info));
                            last = Some(u);
                        }
                        // Uptime goes on: the same JVM's next file.
                        (Some(_), Some(_)) => {}
                        // No uptime to tell by: count it as a start.
                        (Some(info), None) => emit(GcEvent::JvmStart(info)),
                        (None, _) => {}
                    }
                    if let Some(u) = uptime {
                        last = Some(last.map_or(u, |l| l.max(u)));
                    }
                    emit(other);
                }
            };
            self.feed_line(line, &mut sort)
        };
        self.held_start = held;
        self.last_uptime = last;
        self.rotated = rotated;
        outcome
    }

    fn finish(&mut self, emit: &mut dyn FnMut(GcEvent)) {
        self.finish_input(emit);
        if let Some(info) = self.held_start.take() {
            emit(GcEvent::JvmStart(info));
        }
    }
}

impl Jdk8Parser {
    fn feed_line(&mut self, line: &[u8], emit: &mut dyn FnMut(GcEvent)) -> LineOutcome {
        let mut s = lex::trim_end(line);
        loop {
            let t = lex::trim_start(s);
            if t.is_empty() {
                // Blank lines separate the JVM header and the RSet summaries.
                return LineOutcome::Recognised;
            }
            match self.fragment(t, emit) {
                Step::Done => return LineOutcome::Recognised,
                Step::Rest(n) if n > 0 && n <= t.len() => s = &t[n..],
                Step::Rest(_) => return LineOutcome::Recognised,
                Step::Unknown => return LineOutcome::Unrecognised,
            }
        }
    }

    fn finish_input(&mut self, emit: &mut dyn FnMut(GcEvent)) {
        if let Some(info) = self.jvm.take() {
            emit(GcEvent::JvmStart(info));
        }
        if self.open.take().is_some() {
            self.dropped += 1;
        }
        self.flush_closed(emit);
        // Ready for another input (the next file of a rotated set).
        self.mark_start = None;
        self.in_meminfo = false;
    }
}

/// A `[GC concurrent-...]` record at the start of `s`: emits the phase when
/// it is an end (or an abort) and returns the bytes consumed, or `None` when
/// the record is cut off before its `]`.
fn concurrent(
    s: &[u8],
    stamp: Stamp,
    mark_start: &mut Option<Stamp>,
    emit: &mut dyn FnMut(GcEvent),
) -> Option<usize> {
    const PREFIX: usize = b"[GC concurrent-".len();
    let body = &s[PREFIX..];
    let end = memchr(b']', body)?;
    let inner = &body[..end];
    let name = &inner[..memchr(b',', inner).unwrap_or(inner.len())];
    if let Some(phase) = name.strip_suffix(b"-end") {
        if phase == b"mark" {
            *mark_start = None;
        }
        if let Some(duration_ms) = lex::secs_before(s, PREFIX + end) {
            emit(GcEvent::Concurrent(ConcurrentPhase {
                name: phase_name(phase),
                at: stamp,
                duration_ms,
            }));
        }
    } else if name == b"mark-start" {
        *mark_start = Some(stamp);
    } else if name == b"mark-abort" {
        // The abort line carries no duration: time it from the mark's start.
        let duration_ms = match (mark_start.take(), stamp) {
            (
                Some(Stamp {
                    uptime_ms: Some(a), ..
                }),
                Stamp {
                    uptime_ms: Some(b), ..
                },
            ) => b - a,
            (
                Some(Stamp {
                    wall_ms: Some(a), ..
                }),
                Stamp {
                    wall_ms: Some(b), ..
                },
            ) => (b - a) as f64,
            _ => 0.0,
        };
        emit(GcEvent::Concurrent(ConcurrentPhase {
            name: "Concurrent Mark Abort".to_owned(),
            at: stamp,
            // A clock running backwards must not make a negative duration.
            duration_ms: duration_ms.max(0.0),
        }));
    } else if name.len() < inner.len() {
        // A one-line phase with its own time: `[GC concurrent-string-deduplication, ..., 0.0001 secs]`.
        if let Some(duration_ms) = lex::secs_before(s, PREFIX + end) {
            emit(GcEvent::Concurrent(ConcurrentPhase {
                name: phase_name(name),
                at: stamp,
                duration_ms,
            }));
        }
    }
    Some(PREFIX + end + 1)
}

/// The event name of a JDK 8 concurrent phase, spelled like unified logging
/// names the same phase where one exists.
fn phase_name(phase: &[u8]) -> String {
    match phase {
        b"mark" => "Concurrent Mark".to_owned(),
        b"root-region-scan" => "Concurrent Scan Root Regions".to_owned(),
        b"cleanup" => "Concurrent Cleanup".to_owned(),
        b"string-deduplication" => "Concurrent String Deduplication".to_owned(),
        other => {
            let mut name = String::from("Concurrent");
            for word in other.split(|&b| b == b'-').filter(|w| !w.is_empty()) {
                name.push(' ');
                let word = String::from_utf8_lossy(word);
                let mut chars = word.chars();
                if let Some(c) = chars.next() {
                    name.extend(c.to_uppercase());
                    name.push_str(chars.as_str());
                }
            }
            name
        }
    }
}

/// True when a G1Ergonomics record reports a humongous allocation
/// (`reason: humongous allocation request failed`, `source: concurrent
/// humongous allocation`).
fn is_humongous_ergonomics(r: &[u8]) -> bool {
    lex::contains(r, b"humongous allocation")
}

/// `Application time: N seconds` / `Total time ... stopped: N seconds[,
/// Stopping threads took: N seconds]`: recognised, with the offset after the
/// last `seconds` so that a record glued to it is parsed too.
fn after_seconds(r: &[u8], from: usize, stopping: bool) -> Step {
    let finder = memchr::memmem::Finder::new(b"seconds");
    let Some(at) = finder.find(&r[from..]) else {
        return Step::Done;
    };
    let mut end = from + at + b"seconds".len();
    if stopping {
        let rest = &r[end..];
        if rest.starts_with(b", Stopping threads took:") {
            if let Some(at) = finder.find(rest) {
                end += at + b"seconds".len();
            }
        }
    }
    Step::Rest(end)
}

/// `[Parallel Time: 2.5 ms, GC Workers: 8]`: the 8.
fn gc_workers(r: &[u8]) -> Option<u32> {
    let key = b"GC Workers: ";
    let at = memchr::memmem::find(r, key)? + key.len();
    lex::integer(&r[at..]).and_then(|(v, _)| u32::try_from(v).ok())
}

/// `[Times: user=0.01 sys=0.00, real=0.01 secs]` in ms (decimal point or comma).
fn times(r: &[u8]) -> Option<PauseCpu> {
    let field = |key: &[u8]| {
        let at = memchr::memmem::find(r, key)? + key.len();
        lex::decimal_scaled(&r[at..], 3).map(|(v, _)| v)
    };
    Some(PauseCpu {
        gc_id: None,
        user_ms: field(b"user=")?,
        sys_ms: field(b"sys=")?,
        real_ms: field(b"real=")?,
    })
}

/// What follows `Total time for which application threads were stopped:`:
/// ` 0.0061060 seconds, Stopping threads took: 0.0000280 seconds` (JDK 7
/// prints the first part only; then the time to reach it is unknown, and
/// no safepoint is reported rather than one with a made-up figure).
fn stopped(rest: &[u8], at: Stamp) -> Option<Safepoint> {
    let (total_ms, _) = lex::decimal_scaled(lex::trim_start(rest), 3)?;
    let key = b"Stopping threads took: ";
    let k = memchr::memmem::find(rest, key)? + key.len();
    let (reaching_ms, _) = lex::decimal_scaled(&rest[k..], 3)?;
    Some(Safepoint {
        at,
        operation: None,
        reaching_ms,
        total_ms,
    })
}

/// The length of the run of stamp characters (dates, uptimes, separators) at
/// the start of `t`. A `T` counts only inside a date (`2014-06-16T07:57`),
/// so `652.538Total time` stops before `Total`.
fn stamp_debris_len(t: &[u8]) -> usize {
    let mut i = 0;
    while i < t.len() {
        let b = t[i];
        let stamp_byte = b.is_ascii_digit()
            || matches!(b, b'.' | b',' | b':' | b' ' | b'-' | b'+')
            || (b == b'T' && t.get(i + 1).is_some_and(u8::is_ascii_digit));
        if !stamp_byte {
            break;
        }
        i += 1;
    }
    i
}

/// Phase detail lines: `[Parallel Time: 2.5 ms, GC Workers: 8]`,
/// `[Ext Root Scanning (ms): Min: ...]`, `[Code Root Fixup: 0.0 ms]`. HotSpot
/// updates added and renamed phases, so the shape `[Name:` or `[Name (ms):` is
/// what is recognised, not a list of names.
fn is_detail_line(r: &[u8]) -> bool {
    let name = &r[1..];
    let n = name
        .iter()
        .take_while(|&&b| {
            b.is_ascii_alphanumeric() || matches!(b, b' ' | b'(' | b')' | b'-' | b'/' | b'_')
        })
        .count();
    n >= 2 && name.get(n) == Some(&b':') && name[0].is_ascii_alphabetic()
}

/// A section title inside a detail block: `[Table]` and `[Queue]` of the
/// `-XX:+PrintStringDeduplicationStatistics` block (its other rows are
/// detail lines). A word or two in brackets and nothing else.
fn is_section_title(r: &[u8]) -> bool {
    let Some(inner) = r.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) else {
        return false;
    };
    inner.first().is_some_and(u8::is_ascii_alphabetic)
        && inner.len() <= 32
        && inner.iter().all(|&b| b.is_ascii_alphabetic() || b == b' ')
}

/// Known lines that carry nothing the statistics need: heap printouts at
/// exit and around pauses (`-XX:+PrintHeapAtGC`), remembered-set summaries
/// (`-XX:+G1SummarizeRSetStats`), `finest` detail rows, log rotation notes.
fn is_known_text(r: &[u8]) -> bool {
    const PREFIXES: &[&[u8]] = &[
        // Heap printouts.
        b"{Heap before GC",
        b"Heap after GC",
        b"garbage-first heap",
        b"region size ",
        b"compacting perm gen",
        b"the space ",
        b"ro space ",
        b"rw space ",
        b"No shared spaces configured.",
        b"Metaspace ",
        b"class space ",
        // `finest` detail: the per-worker summary below a row of values.
        b"Min: ",
        // G1SummarizeRSetStats (JDK 7/8u20 and later layouts).
        b"Concurrent RS processed",
        b"Of ",
        b"Conc RS threads times",
        b"Total heap region rem set sizes",
        b"Static structures",
        b"Max size region",
        b"Did ",
        b"After GC RS summary",
        b"Before GC RS summary",
        b"Recent concurrent refinement statistics",
        b"Processed ",
        b"Current rem set statistics",
        b"Total per region rem sets sizes",
        b"Total static structures",
        b"Total code root sets sizes",
        b"Total code root entries",
        b"Young regions",
        b"Humonguous regions",
        b"Humongous regions",
        b"Free regions",
        b"Old regions",
        b"All regions",
        b"Region with largest",
    ];
    if r == b"Heap" || r == b"}" {
        return true;
    }
    // JDK 6/7 `fine` detail: the per-worker summary under a row of values,
    // `Avg: 456553.5, Min: 456553.4, Max: 456553.6, Diff:   0.3]` (with a
    // leading `Sum: 3, ` for counts).
    if (r.starts_with(b"Avg: ") || r.starts_with(b"Sum: "))
        && lex::contains(r, b"Min: ")
        && lex::contains(r, b"Max: ")
    {
        return true;
    }
    // Concurrent marking ran out of mark stack (JDK 7/8); marking restarts,
    // which the `concurrent-mark-reset-for-overflow` record reports.
    if r == b"Mark stack is full." {
        return true;
    }
    if PREFIXES.iter().any(|p| r.starts_with(p)) {
        return true;
    }
    const INFIXES: &[&[u8]] = &[
        b" by conc RS threads.",
        b" by mutator threads.",
        b" occupied cards represented.",
        b"GC log file created",
        b"GC log file has reached the maximum size",
    ];
    if INFIXES.iter().any(|p| lex::contains(r, p)) {
        return true;
    }
    // The row of per-thread times under `Conc RS threads times(s)`.
    r.iter().any(|&b| b == b'.' || b == b',')
        && r.iter()
            .all(|&b| b.is_ascii_digit() || b == b'.' || b == b',' || b == b' ')
}

/// `MemTotal:       16333852 kB` inside a header's `/proc/meminfo:` dump.
fn is_meminfo_line(t: &[u8]) -> bool {
    let Some(colon) = memchr(b':', t) else {
        return false;
    };
    colon > 0
        && t[..colon]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'(' | b')'))
        && lex::trim_start(&t[colon + 1..])
            .first()
            .is_some_and(u8::is_ascii_digit)
}

/// The version a JVM header line names: the JRE's (`1.8.0_65-b17`), else the
/// VM's (`25.65-b01`).
fn jvm_version(t: &[u8]) -> Option<String> {
    let paren = |from: usize| -> Option<String> {
        let close = memchr(b')', &t[from..])?;
        let v = &t[from..from + close];
        (!v.is_empty()).then(|| String::from_utf8_lossy(v).into_owned())
    };
    if let Some(at) = memchr::memmem::find(t, b" JRE (") {
        if let Some(v) = paren(at + 6) {
            return Some(v);
        }
    }
    let at = memchr::memmem::find(t, b" VM (")?;
    paren(at + 5)
}

/// Fills a [`JvmInfo`] from the text after `CommandLine flags:`.
fn fill_flags(info: &mut JvmInfo, flags: &[u8]) {
    for flag in flags
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty())
    {
        let bytes_kb = |prefix: &[u8]| {
            flag.strip_prefix(prefix)
                .and_then(lex::integer)
                .map(|(v, _)| v / 1024)
        };
        if let Some(n) = flag
            .strip_prefix(b"-XX:ParallelGCThreads=")
            .and_then(lex::integer)
            .and_then(|(v, _)| u32::try_from(v).ok())
        {
            info.parallel_workers = Some(n);
        }
        if let Some(kb) = bytes_kb(b"-XX:InitialHeapSize=") {
            info.initial_heap_kb = Some(kb);
        } else if let Some(kb) = bytes_kb(b"-XX:MaxHeapSize=") {
            info.max_heap_kb = Some(kb);
        }
        let collector = match flag {
            b"-XX:+UseG1GC" => Some("G1"),
            b"-XX:+UseConcMarkSweepGC" => Some("ConcurrentMarkSweep"),
            b"-XX:+UseParallelGC" | b"-XX:+UseParallelOldGC" => Some("Parallel"),
            b"-XX:+UseSerialGC" => Some("Serial"),
            _ => None,
        };
        if let Some(c) = collector {
            // G1 wins over anything else listed; it is what a G1 log is about.
            if info.collector.as_deref() != Some("G1") {
                info.collector = Some(c.to_owned());
            }
        }
        info.flags.push(String::from_utf8_lossy(flag).into_owned());
    }
}
