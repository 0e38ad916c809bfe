//! What one JVM's life has counted so far, by each event's own identity:
//! whatever the log files do (a file read twice, a header met again), an
//! event already counted is never counted again. Unified logs name every
//! collection `GC(N)` (N from 0, one JVM life); JDK 8 logs have none, and
//! their events are known by their uptime (else their wall-clock time).
//! The GC ids seen also tell how many collections were never read at all:
//! lines the JVM deleted (its rotation wrapped) before the agent got to them.

use std::collections::{BTreeMap, BTreeSet};

use crate::gc::event::{GcEvent, Stamp};

/// Identities kept per GC id below the highest seen: a concurrent cycle's
/// remark and cleanup come after the young pauses that ran during it, so a
/// few thousand ids back is plenty; anything older is settled.
const ID_WINDOW: u64 = 4096;

/// Stamped identities (events without a GC id) kept; anything older is settled.
const STAMP_WINDOW: usize = 8192;

/// What tells two events with the same GC id apart: the kind and its time.
type Detail = (u8, Option<i64>, Option<u64>);

/// A time as an ordered key: uptime first (JDK 8 always has it), else wall time.
type StampKey = (u8, i64);

/// One JVM life's counted events and the GC ids its read lines named.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Identities counted per GC id, for ids at or above `floor`.
    by_id: BTreeMap<u64, Vec<Detail>>,
    /// Ids below this are settled: seen, or lost for good.
    floor: u64,
    /// Identities of events without a GC id, by time, kind and what else
    /// tells them apart ([`detail_of`]).
    by_stamp: BTreeSet<(StampKey, u8, (u64, u64))>,
    /// GC ids named by any line read, as disjoint ranges `start..=end`.
    ids: BTreeMap<u64, u64>,
    /// The latest wall-clock time of an event counted.
    max_wall_ms: Option<i64>,
    /// Events counted.
    counted: u64,
}

/// A code per event kind: pause kinds by their order, phases by name.
fn kind_code(ev: &GcEvent) -> Option<u8> {
    match ev {
        GcEvent::Pause(p) => crate::gc::event::PauseKind::ALL
            .iter()
            .position(|k| *k == p.kind)
            .and_then(|i| u8::try_from(i).ok()),
        GcEvent::Concurrent(c) => Some(match c.name.as_str() {
            "Concurrent Cycle" => 16,
            "Concurrent Mark Cycle" => 17,
            "Concurrent Undo Cycle" => 18,
            "Concurrent Mark" => 19,
            _ => 20,
        }),
        // Known by their time: a re-read file must not count a stop twice.
        GcEvent::Safepoint(_) => Some(24),
        _ => None,
    }
}

fn stamp_of(ev: &GcEvent) -> Option<&Stamp> {
    match ev {
        GcEvent::Pause(p) => Some(&p.at),
        GcEvent::Concurrent(c) => Some(&c.at),
        GcEvent::HumongousAllocation { at } => Some(at),
        GcEvent::Safepoint(s) => Some(&s.at),
        GcEvent::JvmStart(_) | GcEvent::PauseCpu(_) => None,
    }
}

/// What tells two events of one kind at one time apart: a safepoint's
/// durations (the JVM stops several times within the millisecond its
/// decorators print; the same line read twice has the same durations).
fn detail_of(ev: &GcEvent) -> (u64, u64) {
    match ev {
        GcEvent::Safepoint(s) => (s.reaching_ms.to_bits(), s.total_ms.to_bits()),
        _ => (0, 0),
    }
}

fn stamp_key(s: &Stamp) -> Option<StampKey> {
    if let Some(u) = s.uptime_ms {
        // Microseconds: finer than any decorator prints, so equal text is equal key.
        return Some((0, (u * 1000.0).round() as i64));
    }
    s.wall_ms.map(|w| (1, w.saturating_mul(1000)))
}

fn gc_id(ev: &GcEvent) -> Option<u64> {
    match ev {
        GcEvent::Pause(p) => p.gc_id,
        _ => None,
    }
}

impl Ledger {
    /// An empty ledger (a JVM life not yet seen).
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// True before any event was counted.
    pub fn is_empty(&self) -> bool {
        self.counted == 0
    }

    /// True when `ev` (a pause or a concurrent phase) was counted already,
    /// or is older than anything this ledger still remembers.
    pub fn is_repeat(&self, ev: &GcEvent) -> bool {
        let Some(code) = kind_code(ev) else {
            return false;
        };
        let stamp = stamp_of(ev).copied().unwrap_or_default();
        if let Some(id) = gc_id(ev) {
            if id < self.floor {
                return true;
            }
            let detail = (code, stamp.wall_ms, stamp.uptime_ms.map(f64::to_bits));
            return self.by_id.get(&id).is_some_and(|d| d.contains(&detail));
        }
        // No id and no time: nothing tells a repeat from a new event.
        let Some(key) = stamp_key(&stamp) else {
            return false;
        };
        if self
            .by_stamp
            .first()
            .is_some_and(|(oldest, ..)| self.by_stamp.len() >= STAMP_WINDOW && key < *oldest)
        {
            return true;
        }
        self.by_stamp.contains(&(key, code, detail_of(ev)))
    }

    /// After a JVM header met again: does `ev` belong to a new JVM life
    /// (true) or is the header an old one read again (false)? Wall-clock
    /// time decides when the log has it: a new life's events come after
    /// everything counted. Without it an event already counted means a
    /// re-read; anything else trusts the header.
    pub fn starts_new_life(&self, ev: &GcEvent) -> bool {
        let wall = stamp_of(ev).and_then(|s| s.wall_ms);
        match (wall, self.max_wall_ms) {
            (Some(w), Some(max)) => w > max,
            _ => !self.is_repeat(ev),
        }
    }

    /// Counts `ev` as seen (call only when [`Ledger::is_repeat`] said no).
    pub fn record(&mut self, ev: &GcEvent) {
        let Some(code) = kind_code(ev) else {
            return;
        };
        self.counted += 1;
        let stamp = stamp_of(ev).copied().unwrap_or_default();
        if let Some(w) = stamp.wall_ms {
            self.max_wall_ms = Some(self.max_wall_ms.map_or(w, |m| m.max(w)));
        }
        if let Some(id) = gc_id(ev) {
            self.note_id(id);
            let detail = (code, stamp.wall_ms, stamp.uptime_ms.map(f64::to_bits));
            self.by_id.entry(id).or_default().push(detail);
            // Settled ids are dropped in batches, not on every new id.
            let floor = id.saturating_sub(ID_WINDOW);
            if floor >= self.floor + 256 {
                self.floor = floor;
                self.by_id = self.by_id.split_off(&floor);
            }
            return;
        }
        if let Some(key) = stamp_key(&stamp) {
            self.by_stamp.insert((key, code, detail_of(ev)));
            while self.by_stamp.len() > STAMP_WINDOW {
                self.by_stamp.pop_first();
            }
        }
    }

    /// Notes that a line read named GC id `id`.
    pub fn note_id(&mut self, id: u64) {
        // The range starting at or before `id`, and the one right after it.
        let below = self.ids.range(..=id).next_back().map(|(s, e)| (*s, *e));
        if below.is_some_and(|(_, e)| e >= id) {
            return;
        }
        let joins_below = below.filter(|(_, e)| e + 1 == id).map(|(s, _)| s);
        let above_end = self.ids.remove(&(id + 1));
        let start = joins_below.unwrap_or(id);
        let end = above_end.unwrap_or(id);
        self.ids.insert(start, end);
    }

    /// GC ids from 0 to the highest seen that no line read named: whole
    /// collections deleted before they could be read. `None` when no line
    /// named a GC id (a JDK 8 log, or nothing logged yet).
    pub fn ids_missing(&self) -> Option<u64> {
        let (_, max) = self.ids.last_key_value()?;
        let seen: u64 = self.ids.iter().map(|(s, e)| e - s + 1).sum();
        Some(max + 1 - seen)
    }
}

/// The `GC(N)` id a unified-logging line names, if any.
pub fn line_gc_id(line: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(line, b"GC(")?;
    let digits = &line[at + 3..];
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    if end == 0 || digits[end] != b')' {
        return None;
    }
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::event::{ConcurrentPhase, Pause, PauseKind};

    fn pause(id: Option<u64>, kind: PauseKind, wall: Option<i64>, up: Option<f64>) -> GcEvent {
        GcEvent::Pause(Pause {
            kind,
            cause: "x".into(),
            at: Stamp {
                wall_ms: wall,
                uptime_ms: up,
            },
            duration_ms: 1.0,
            heap: None,
            gc_id: id,
            evacuation_failure: false,
            workers: None,
        })
    }

    #[test]
    fn an_event_is_counted_once_by_its_gc_id_kind_and_time() {
        let mut l = Ledger::new();
        let young = pause(Some(7), PauseKind::Young, Some(1000), None);
        assert!(!l.is_repeat(&young));
        l.record(&young);
        assert!(l.is_repeat(&young));
        // The same id's remark and cleanup are other events.
        let remark = pause(Some(7), PauseKind::Remark, Some(1001), None);
        assert!(!l.is_repeat(&remark));
        l.record(&remark);
        // Far past the window, an old id is settled.
        l.record(&pause(
            Some(7 + 2 * ID_WINDOW),
            PauseKind::Young,
            Some(2000),
            None,
        ));
        assert!(l.is_repeat(&pause(Some(8), PauseKind::Young, Some(1002), None)));
    }

    #[test]
    fn jdk8_events_are_known_by_uptime() {
        let mut l = Ledger::new();
        let a = pause(None, PauseKind::Young, None, Some(1234.5));
        l.record(&a);
        assert!(l.is_repeat(&a));
        assert!(!l.is_repeat(&pause(None, PauseKind::Young, None, Some(1300.0))));
        let phase = GcEvent::Concurrent(ConcurrentPhase {
            name: "Concurrent Mark".into(),
            at: Stamp {
                wall_ms: None,
                uptime_ms: Some(1234.5),
            },
            duration_ms: 3.0,
        });
        assert!(!l.is_repeat(&phase), "another kind at the same time");
        // No id, no time: nothing to know it by, so it counts.
        let bare = pause(None, PauseKind::Young, None, None);
        l.record(&bare);
        assert!(!l.is_repeat(&bare));
        assert_eq!(l.ids_missing(), None, "no GC ids in a JDK 8 log");
    }

    /// Two safepoints within one millisecond (a decorator that prints
    /// milliseconds, as Kafka's `time` and `uptime` do) are two stops, not
    /// one read twice: their durations tell them apart. Found by checking
    /// the agent's count against the JVM's own counters (JDK 11 and 21
    /// logged 46 and 73 safepoints, the agent counted 2 and 3 fewer).
    #[test]
    fn safepoints_in_the_same_millisecond_are_two() {
        let sp = |reaching_ms: f64, total_ms: f64| {
            GcEvent::Safepoint(crate::gc::event::Safepoint {
                at: Stamp {
                    wall_ms: None,
                    uptime_ms: Some(1234.0),
                },
                operation: None,
                reaching_ms,
                total_ms,
            })
        };
        let mut l = Ledger::new();
        let a = sp(0.012, 0.105);
        l.record(&a);
        let b = sp(0.009, 0.031);
        assert!(!l.is_repeat(&b), "another stop in the same millisecond");
        l.record(&b);
        assert!(
            l.is_repeat(&a) && l.is_repeat(&b),
            "each read again is a repeat"
        );
    }

    #[test]
    fn missing_ids_are_the_gaps_from_zero() {
        let mut l = Ledger::new();
        assert_eq!(l.ids_missing(), None);
        for id in [3, 4, 5, 9, 7, 8, 12, 4] {
            l.note_id(id);
        }
        // 0..=12 is 13 ids; seen 3,4,5,7,8,9,12.
        assert_eq!(l.ids_missing(), Some(6));
        assert_eq!(l.ids.len(), 3, "{:?}", l.ids);
        for id in [0, 1, 2, 6, 10, 11] {
            l.note_id(id);
        }
        assert_eq!(l.ids_missing(), Some(0));
        assert_eq!(l.ids.len(), 1, "{:?}", l.ids);
    }

    #[test]
    fn a_header_read_again_is_told_from_a_new_life_by_time() {
        let mut l = Ledger::new();
        l.record(&pause(Some(5000), PauseKind::Young, Some(10_000), None));
        assert!(!l.starts_new_life(&pause(Some(0), PauseKind::Young, Some(1_000), None)));
        assert!(l.starts_new_life(&pause(Some(0), PauseKind::Young, Some(20_000), None)));
    }

    #[test]
    fn gc_ids_in_lines() {
        assert_eq!(
            line_gc_id(b"[2026-11-25T10:14:28.592+0000][gc,heap] GC(4375) Eden regions: 33->0(33)"),
            Some(4375)
        );
        assert_eq!(line_gc_id(b"[gc] Using G1"), None);
        assert_eq!(line_gc_id(b"[gc] GC(12"), None);
        assert_eq!(line_gc_id(b"[gc] GC() x"), None);
    }
}
