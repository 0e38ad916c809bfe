//! Text output for people: the one table writer ([`columns`]), the
//! findings table, colour only when wanted.

use std::fmt::Write;

use crate::finding::{Finding, Status, Summary};
use crate::present::terminal;

/// Whether to colour output: only on a terminal, and never when `NO_COLOR`
/// is set (<https://no-color.org>).
pub fn want_colour(is_tty: bool) -> bool {
    is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn paint(text: &str, status: Status, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let code = match status {
        Status::Ok => "32",
        Status::Drift => "31;1",
        Status::Unreadable => "33",
        Status::NotApplicable => "2",
        Status::Waived => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Renders rows as columns separated by two spaces; the last column is not padded.
/// Every cell is shown through [`terminal::text`]: a cell holds foreign text.
pub fn columns(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| terminal::text(c).into_owned()).collect())
        .collect();
    let rows = &rows[..];
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; ncols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The findings table: check, key, expected, actual, status; details of
/// anything not ok below it.
pub fn findings_table(findings: &[Finding], colour: bool) -> String {
    let mut rows = vec![vec![
        "CHECK".to_string(),
        "KEY".into(),
        "EXPECTED".into(),
        "ACTUAL".into(),
        "STATUS".into(),
    ]];
    for f in findings {
        rows.push(vec![
            f.check.clone(),
            f.key.clone(),
            f.expected.clone(),
            f.actual.clone().unwrap_or_else(|| "-".into()),
            f.status.to_string(),
        ]);
    }
    let table = columns(&rows);
    let mut out = String::new();
    // Colour the status word after alignment so escape codes don't skew widths.
    for (i, line) in table.lines().enumerate() {
        if i == 0 || !colour {
            out.push_str(line);
        } else {
            let status = findings[i - 1].status;
            let word = status.as_str();
            let cut = line.len() - word.len();
            out.push_str(&line[..cut]);
            out.push_str(&paint(word, status, true));
        }
        out.push('\n');
    }
    // Every drift gets its reason (a plain sysctl drift has no detail, but
    // its source says why the value matters); other statuses their detail.
    let notes: Vec<&Finding> = findings
        .iter()
        .filter(|f| {
            f.status != Status::Ok
                && (f.detail.is_some()
                    || f.waiver.is_some()
                    || (f.status == Status::Drift && f.source.is_some()))
        })
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        for f in notes {
            let detail = waiver_text(f)
                .or_else(|| f.detail.clone())
                .unwrap_or_else(|| {
                    format!(
                        "{} where the profile expects {}",
                        f.actual.as_deref().unwrap_or("nothing"),
                        f.expected
                    )
                });
            let _ = writeln!(
                out,
                "{} {} {}: {}",
                paint(f.status.as_str(), f.status, colour),
                terminal::text(&f.check),
                terminal::text(&f.key),
                terminal::text(&detail),
            );
            if let (Status::Drift, Some(src)) = (f.status, &f.source) {
                let _ = writeln!(out, "    why {}", terminal::text(src));
            }
        }
    }
    out
}

/// The note a finding gets beside its row: what its waiver says, else its
/// detail.
pub fn finding_note(f: &Finding) -> Option<String> {
    waiver_text(f).or_else(|| f.detail.clone())
}

/// What a finding's waiver says: the justification of one in force, or
/// that it expired (and when); the finding's own detail follows.
fn waiver_text(f: &Finding) -> Option<String> {
    let w = f.waiver.as_ref()?;
    let own = f
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    Some(match (&w.expires, w.expired) {
        (Some(day), true) => format!(
            "{} where the profile expects {}; its waiver ({}) expired: it held until {day} ({}){own}",
            f.actual.as_deref().unwrap_or("nothing"),
            f.expected,
            w.from,
            w.justification
        ),
        (Some(day), false) => format!("{} (waiver {}, until {day}){own}", w.justification, w.from),
        (None, _) => format!("{} (waiver {}){own}", w.justification, w.from),
    })
}

/// One line: `N checks: a ok, b drift, w waived, c unreadable, d not applicable`.
pub fn summary_line(s: &Summary) -> String {
    format!(
        "{} checks: {} ok, {} drift, {} waived, {} unreadable, {} not applicable",
        s.total, s.ok, s.drift, s.waived, s.unreadable, s.not_applicable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_and_colours_only_when_asked() {
        let f = Finding {
            check: "sysctl".into(),
            key: "vm.swappiness".into(),
            expected: "1".into(),
            actual: Some("60".into()),
            status: Status::Drift,
            source: Some("kafka-broker: swapping is death".into()),
            detail: Some("x".into()),
            waiver: None,
        };
        let plain = findings_table(std::slice::from_ref(&f), false);
        assert!(!plain.contains('\x1b'));
        let lines: Vec<&str> = plain.lines().collect();
        assert_eq!(lines[0].find("KEY"), lines[1].find("vm.swappiness"));
        assert!(lines[1].ends_with("drift"));
        assert!(plain.contains("why kafka-broker: swapping is death"));
        assert!(findings_table(&[f], true).contains("\x1b[31;1mdrift\x1b[0m"));
    }

    #[test]
    fn a_sysctl_drift_without_detail_still_says_why() {
        let f = Finding {
            check: "sysctl".into(),
            key: "vm.swappiness".into(),
            expected: "1".into(),
            actual: Some("60".into()),
            status: Status::Drift,
            source: Some("base: swapping is death".into()),
            detail: None,
            waiver: None,
        };
        let text = findings_table(&[f], false);
        assert!(
            text.contains("drift sysctl vm.swappiness: 60 where the profile expects 1\n    why base: swapping is death"),
            "{text}"
        );
    }
}
