//! `tunekeeper gc --format text`: the analysis as a plain-text report
//! for a terminal.

use std::io::{self, Write};

use crate::jvm::perfdata::crosscheck::CheckStatus;
use crate::jvm::perfdata::report::CountersReport;

use crate::gc::event::PauseKind;
use crate::gc::hist::PauseSummary;
use crate::gc::report::Analysis;
use crate::gc::stats::StatsSnapshot;

fn opt(v: Option<f64>, unit: &str) -> String {
    match v {
        Some(v) => format!("{v:.2}{unit}"),
        None => "n/a (see below)".into(),
    }
}

fn row(out: &mut dyn Write, name: &str, s: &PauseSummary) -> io::Result<()> {
    writeln!(
        out,
        "{name:<17}{:>8}{:>12.1}{:>9.2}{:>9.2}{:>9.2}{:>9.2}{:>9.2}{:>9.2}",
        s.count, s.total_ms, s.mean_ms, s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms
    )
}

/// When a pause happened, as precisely as the log says.
fn when(wall_ms: Option<i64>, uptime_ms: Option<f64>) -> String {
    match (wall_ms, uptime_ms) {
        (_, Some(u)) => format!("uptime {:.3}s", u / 1000.0),
        (Some(w), None) => {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(w) * 1_000_000)
                .ok()
                .and_then(|d| {
                    d.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| format!("epoch ms {w}"))
        }
        (None, None) => "time unknown".into(),
    }
}

/// Stalled pauses and safepoints: where pause time went.
fn render_where_time_went(s: &StatsSnapshot, out: &mut dyn Write) -> io::Result<()> {
    let st = &s.stalls;
    match (st.stalled_pauses, &st.null_because) {
        (Some(n), _) => {
            writeln!(
                out,
                "stalled pauses                       {n} of {} with CPU times, {:.1} ms, {:.1} % of their pause time",
                st.pauses_with_cpu,
                st.stalled_ms.unwrap_or(0.0),
                st.stalled_share_percent.unwrap_or(0.0)
            )?;
            writeln!(
                out,
                "  (wall >= {} x CPU / GC threads and >= {} ms waited; threads: {})",
                st.rule.ratio,
                st.rule.min_wait_ms,
                st.threads_from.join(", ")
            )?;
            for w in &st.worst {
                writeln!(
                    out,
                    "  {:<22}{:>10.3} ms  {} ({}), CPU {:.0} ms on {} threads, waited {:.1} ms",
                    when(w.wall_ms, w.uptime_ms),
                    w.duration_ms,
                    w.kind.as_str(),
                    w.cause,
                    w.cpu_ms,
                    w.threads,
                    w.waited_ms
                )?;
            }
        }
        (None, why) => writeln!(
            out,
            "stalled pauses                       n/a: {}",
            why.as_deref().unwrap_or("unknown")
        )?,
    }
    let sp = &s.safepoints;
    match (&sp.time_to_safepoint, &sp.null_because) {
        (Some(t), _) => {
            writeln!(
                out,
                "time to safepoint                    p99 {:.3} ms, max {:.3} ms ({} safepoints)",
                t.p99_ms, t.max_ms, sp.count
            )?;
            writeln!(
                out,
                "stopped, not for GC                  {} stops, {:.1} ms, max {:.1} ms",
                sp.non_gc_count.unwrap_or(0),
                sp.non_gc_stopped_ms.unwrap_or(0.0),
                sp.non_gc_max_ms.unwrap_or(0.0)
            )?;
            writeln!(
                out,
                "stopped in all                       {:.1} ms, max {:.1} ms, worst minute {}",
                sp.stopped_ms.unwrap_or(0.0),
                sp.max_stopped_ms.unwrap_or(0.0),
                sp.worst_minute_stopped_ms
                    .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1} ms"))
            )?;
        }
        (None, why) => writeln!(
            out,
            "time to safepoint                    n/a: {}",
            why.as_deref().unwrap_or("unknown")
        )?,
    }
    Ok(())
}

/// Writes the analysis as a human-readable report.
pub fn render_text(a: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    let s = &a.stats;
    writeln!(out, "G1 pauses (ms)")?;
    writeln!(
        out,
        "{:<17}{:>8}{:>12}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}",
        "kind", "count", "total", "mean", "p50", "p90", "p99", "p99.9", "max"
    )?;
    for kind in PauseKind::ALL {
        row(out, kind.as_str(), s.pauses.get(kind))?;
    }
    row(out, "overall", &s.overall)?;
    writeln!(out)?;
    writeln!(
        out,
        "GC pause per second of running time  {}",
        opt(s.gc_ms_per_second, " ms/s")
    )?;
    writeln!(
        out,
        "worst minute                         {}",
        opt(s.worst_minute_gc_ms_per_second, " ms/s")
    )?;
    writeln!(
        out,
        "young GCs per second                 {}",
        opt(s.young_gcs_per_second, "")
    )?;
    writeln!(
        out,
        "allocation rate                      {}",
        opt(s.allocation_rate_mb_per_s, " MB/s")
    )?;
    if let Some(iv) = &s.pause_interval {
        writeln!(
            out,
            "time between pauses                  p50 {:.1} ms, p99 {:.1} ms",
            iv.p50_ms, iv.p99_ms
        )?;
    }
    writeln!(
        out,
        "running time covered                 {}",
        opt(s.span_s, " s")
    )?;
    writeln!(
        out,
        "evacuation failures                  {}",
        s.evacuation_failures
    )?;
    writeln!(
        out,
        "humongous allocations                {} ({} pauses caused by one)",
        s.humongous_allocations, s.humongous_allocation_pauses
    )?;
    writeln!(out, "JVM starts seen                      {}", s.jvm_starts)?;
    render_where_time_went(s, out)?;
    if let Some(c) = &a.jvm_counters {
        render_counters(c, out)?;
    }
    if !a.timeout_budget.is_empty() {
        writeln!(
            out,
            "\ntimeout budget (worst pause / worst stop against each timeout)"
        )?;
        let pct = |v: Option<f64>, p: Option<f64>| match (v, p) {
            (Some(v), Some(p)) => format!("{v:.1} ms ({p:.1} %)"),
            _ => "n/a".to_owned(),
        };
        // Wide enough for the longest key (the quorum's are 37 characters).
        let kw = a
            .timeout_budget
            .iter()
            .map(|t| t.limit.key.chars().count())
            .max()
            .unwrap_or(0);
        for t in &a.timeout_budget {
            writeln!(
                out,
                "  {:<kw$}  {:>8} ms  pause {:<22} stop {:<22} from {}",
                t.limit.key,
                t.limit.value_ms,
                pct(t.worst_pause_ms, t.worst_pause_percent),
                pct(t.worst_stop_ms, t.worst_stop_percent),
                t.limit.from
            )?;
        }
    }
    for c in &s.concurrent {
        writeln!(
            out,
            "{:<37}{} runs, p50 {:.1} ms, max {:.1} ms",
            c.name, c.durations.count, c.durations.p50_ms, c.durations.max_ms
        )?;
    }
    if !s.full_gcs.is_empty() {
        writeln!(out, "\nfull GCs")?;
        for f in &s.full_gcs {
            let when = match (f.t_s, f.uptime_ms) {
                (_, Some(u)) => format!("uptime {:.3}s", u / 1000.0),
                (Some(t), None) => format!("at {t:.3}s"),
                _ => "time unknown".into(),
            };
            writeln!(out, "  {when:<22}{:>10.3} ms  {}", f.duration_ms, f.cause)?;
        }
    }
    if !s.not_computable.is_empty() {
        writeln!(
            out,
            "\nnot computable from this log: {}",
            s.not_computable.join(", ")
        )?;
        if let Some(why) = &s.rates_null_because {
            writeln!(out, "  rates are null: {why}")?;
        }
    }
    if !a.findings.is_empty() {
        let sm = &a.summary;
        writeln!(
            out,
            "\nfindings: {} ok, {} drift, {} not applicable",
            sm.ok, sm.drift, sm.not_applicable
        )?;
        // Columns as wide as their longest cell, two spaces apart (fixed
        // widths ran `stall` into `gc_log_off_data_disk`).
        let width = |cell: fn(&crate::finding::Finding) -> &str| {
            a.findings
                .iter()
                .map(|f| cell(f).chars().count())
                .max()
                .unwrap_or(0)
        };
        let (sw, cw, kw, ew) = (
            width(|f| f.status.as_str()),
            width(|f| &f.check),
            width(|f| &f.key),
            width(|f| &f.expected),
        );
        for f in &a.findings {
            writeln!(
                out,
                "  {:<sw$}  {:<cw$}  {:<kw$}  expected {:<ew$}  actual {}",
                f.status.as_str(),
                f.check,
                f.key,
                f.expected,
                f.actual.as_deref().unwrap_or("-")
            )?;
            if let Some(d) = &f.detail {
                writeln!(out, "  {:<20}{d}", "")?;
            }
        }
    }
    writeln!(out, "\nfiles")?;
    for f in &a.files {
        write!(
            out,
            "  {}  ({}, {} lines, {} unrecognised",
            f.path,
            f.format.describe(),
            f.lines,
            f.unrecognised_lines
        )?;
        if f.other_lines > 0 {
            // Kind names are the analyser's own words, never the file's.
            let kinds: Vec<String> = f
                .other_kinds
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            write!(
                out,
                ", {} other JVM output: {}",
                f.other_lines,
                kinds.join(", ")
            )?;
        }
        writeln!(out, ")")?;
    }
    Ok(())
}

/// `12,345`.
fn grouped(n: f64) -> String {
    crate::jvm::perfdata::crosscheck::thousands(n.round() as u64)
}

/// A figure of the cross-check: a count grouped, a time in ms.
fn figure(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if unit == "ms" => format!("{v:.3} ms"),
        Some(v) => grouped(v),
    }
}

/// The JVM's own counters beside the log's figures (`gc --pid`).
fn render_counters(c: &CountersReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    let (path, counters, safepoints, check) = match c {
        CountersReport::Disabled { flag } => {
            return writeln!(
                out,
                "JVM counters                         switched off ({flag}): nothing to check the log against"
            );
        }
        CountersReport::Unavailable { reason } => {
            return writeln!(
                out,
                "JVM counters                         not read: {reason}"
            );
        }
        CountersReport::Read {
            path,
            counters,
            safepoints,
            cross_check,
            ..
        } => (path, counters, safepoints, cross_check),
    };
    let jdk = counters
        .jdk
        .map(|j| format!("JDK {j}"))
        .unwrap_or_else(|| "JDK unknown".into());
    let up = counters
        .uptime_s
        .map(|u| format!(", up {u:.0} s"))
        .unwrap_or_default();
    writeln!(out, "JVM counters ({path}, {jdk}{up})")?;
    match &check.not_comparable {
        Some(why) => writeln!(out, "  not compared with the log: {why}")?,
        None => {
            writeln!(out, "  {:<30}{:>16}{:>16}  verdict", "", "log", "JVM")?;
            for f in &check.checks {
                let verdict = match f.status {
                    CheckStatus::Verified => "verified".to_string(),
                    CheckStatus::Differs => {
                        format!("differs: {}", f.detail.as_deref().unwrap_or(""))
                    }
                    CheckStatus::NotCompared => {
                        format!("not compared: {}", f.detail.as_deref().unwrap_or(""))
                    }
                };
                writeln!(
                    out,
                    "  {:<30}{:>16}{:>16}  {verdict}",
                    f.figure,
                    figure(Some(f.log), f.unit),
                    figure(f.jvm, f.unit)
                )?;
            }
            writeln!(
                out,
                "  {}",
                if check.verified {
                    "verified against the JVM's counters"
                } else {
                    "the log differs from the JVM's counters"
                }
            )?;
        }
    }
    let mean = |v: Option<f64>| {
        v.map(|v| format!("{v:.3} ms"))
            .unwrap_or_else(|| "n/a".into())
    };
    writeln!(
        out,
        "  safepoints (JVM life)              {} safepoints, {:.3} ms to reach (mean {}), {} stopped (mean {} at safepoint)",
        grouped(safepoints.count as f64),
        safepoints.reaching_ms,
        mean(safepoints.mean_reaching_ms),
        safepoints
            .stopped_ms
            .map(|v| format!("{v:.3} ms"))
            .unwrap_or_else(|| "n/a".into()),
        mean(safepoints.mean_at_safepoint_ms)
    )?;
    match (&counters.current_cause, &counters.last_cause) {
        (Some(now), _) if now != "No GC" => {
            writeln!(out, "  GC running at the read             {now}")?
        }
        (_, Some(cause)) => writeln!(out, "  last GC cause                      {cause}")?,
        _ => {}
    }
    if let (Some(used), Some(cap)) = (counters.heap.used(), counters.heap.capacity()) {
        writeln!(
            out,
            "  heap                               {:.1} MB used of {:.1} MB committed",
            used as f64 / 1048576.0,
            cap as f64 / 1048576.0
        )?;
    }
    Ok(())
}
