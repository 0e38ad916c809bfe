//! How log lines look. On a terminal or in a file: tracing's usual lines
//! (time, level, module, message, fields). Under systemd's journal (the
//! service's standard error is the stream `JOURNAL_STREAM` names), the
//! journal's conventions: no timestamp (the journal stamps every line), the
//! priority as a `<N>` prefix as sd-daemon(3) describes (`<3>` error, `<4>`
//! warning, `<6>` info, `<7>` debug), no Rust module path, one line per
//! event (a line break inside a field would split it into two entries, the
//! second without its priority).

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// True when standard error is the journal's stream: `JOURNAL_STREAM`
/// (`DEVICE:INODE`, set by systemd for a unit whose output goes to the
/// journal) names the file standard error is. A child that inherited the
/// variable but writes elsewhere (a pipe, a file) keeps the usual lines.
pub fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    nix::sys::stat::fstat(2).is_ok_and(|st| st.st_dev == dev && st.st_ino == ino)
}

/// sd-daemon(3)'s priority of a tracing level.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Journald's line: `<6>message key=value ...`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JournalFormat;

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut text = String::new();
        ctx.field_format()
            .format_fields(Writer::new(&mut text), event)?;
        let one_line: String = text
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        writeln!(
            writer,
            "<{}>{}",
            priority(event.metadata().level()),
            one_line
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_follow_sd_daemon() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
    }
}
