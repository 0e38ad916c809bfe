//! What is written and how a host's reports are listed, the same for every
//! backend: a [`Submission`] to store and its [`Outcome`], and the pages of
//! a listing ([`Cursor`], [`ReportPage`], filled by one [`PageBuilder`]).

use crate::collector::storage::health::Derived;

/// A validated report ready to store.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The report id.
    pub id: String,
    /// The host name as sent.
    pub hostname: String,
    /// The report's time, Unix ms.
    pub time_ms: i64,
    /// The report's time as sent.
    pub time_text: String,
    /// When it arrived, Unix ms.
    pub received_ms: i64,
    /// The agent's interval.
    pub interval_seconds: u64,
    /// The profile name.
    pub profile: String,
    /// Figures derived from it.
    pub derived: Derived,
    /// The document as received.
    pub body: String,
    /// `body` deflated ([`super::compact::pack`]): packed by the request's task, in
    /// parallel, so the writer (one thread on SQLite) only stores bytes.
    pub packed: Vec<u8>,
}

/// What storing one submission did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Newly stored.
    Stored,
    /// A report with this id was already stored; nothing changed.
    Duplicate,
    /// A report with this id was already stored for ANOTHER host: not a
    /// retry of the same report, so not delivered (409).
    Conflict,
}

impl Submission {
    /// The report's time as far as the collector can trust it: never later
    /// than its receipt. A clock that runs ahead (or a forged date) cannot
    /// make a report newer than the moment it arrived.
    pub fn effective_ms(&self) -> i64 {
        self.time_ms.min(self.received_ms)
    }
}

/// Where a listing of a host's reports goes on: the last (time, id) sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Report time of the last document sent, Unix ms.
    pub time_ms: i64,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The cursor as a URL-safe token: `time` `.` hex of the id.
    pub fn encode(&self) -> String {
        let mut s = format!("{}.", self.time_ms);
        for b in self.id.bytes() {
            let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{b:02x}"));
        }
        s
    }

    /// Reads a token made by [`Cursor::encode`]; `None` if it is not one.
    pub fn decode(text: &str) -> Option<Cursor> {
        let (time, hex) = text.split_once('.')?;
        if hex.len() % 2 != 0 {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Cursor {
            time_ms: time.parse().ok()?,
            id: String::from_utf8(bytes).ok()?,
        })
    }
}

/// One page of a listing: the ids to send, in order, and where the next
/// page starts (`None`: this was the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPage {
    /// The report ids of this page, newest first.
    pub ids: Vec<String>,
    /// Their total size in bytes.
    pub bytes: usize,
    /// The cursor of the next page.
    pub next: Option<Cursor>,
}

/// Fills a [`ReportPage`] from rows of (id, time, size), newest first, one
/// rule for both backends: at most `limit` documents and `budget` bytes,
/// never fewer than one.
pub struct PageBuilder {
    page: ReportPage,
    last: Option<Cursor>,
    limit: usize,
    budget: usize,
}

impl PageBuilder {
    /// An empty page with its bounds.
    pub fn new(limit: u32, budget: usize) -> PageBuilder {
        PageBuilder {
            page: ReportPage {
                ids: Vec::new(),
                bytes: 0,
                next: None,
            },
            last: None,
            limit: limit as usize,
            budget,
        }
    }

    /// Adds a row; false when the page is full (the cursor then points at
    /// the last row taken, and the caller stops reading).
    pub fn push(&mut self, id: String, time_ms: i64, len: usize) -> bool {
        let p = &mut self.page;
        let full = p.ids.len() >= self.limit
            || (!p.ids.is_empty() && p.bytes.saturating_add(len) > self.budget);
        if full {
            p.next = self.last.take();
            return false;
        }
        p.bytes = p.bytes.saturating_add(len);
        p.ids.push(id.clone());
        self.last = Some(Cursor { time_ms, id });
        true
    }

    /// The page.
    pub fn finish(self) -> ReportPage {
        self.page
    }
}
