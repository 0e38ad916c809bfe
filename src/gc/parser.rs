//! The interface every G1 log format parser implements: fed one line at a
//! time, in file order, it emits [`GcEvent`]s and says whether it understood
//! the line, so every line of every file is accounted for.

use super::event::GcEvent;

/// What a parser made of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    /// The line was understood (it produced an event, or it is a known line
    /// that carries nothing the statistics need, or it is part of a
    /// multi-line event).
    Recognised,
    /// The line matched nothing the parser knows and may hold a GC event
    /// it could not read; it is counted and shown.
    Unrecognised,
    /// The line is known to be output of another part of the JVM (class
    /// loading, the JIT, the OS layer, ... in a log written with a wide
    /// `-Xlog` selection): it holds no GC event. Counted apart, by kind.
    Other(super::other::OtherKind),
}

/// A line-driven parser of one log format.
pub trait LineParser {
    /// Feeds one line without its line terminator. The bytes may be invalid
    /// UTF-8 or cut off mid-write; a parser never panics on any input.
    fn feed(&mut self, line: &[u8], emit: &mut dyn FnMut(GcEvent)) -> LineOutcome;

    /// Signals the end of the input: emits any event still being assembled
    /// if it is complete enough to count, and drops it otherwise.
    fn finish(&mut self, emit: &mut dyn FnMut(GcEvent));
}
