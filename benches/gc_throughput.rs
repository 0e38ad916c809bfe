//! Throughput of the full G1 analysis on a ≥75 MB unified log (a real log
//! repeated), beside `grep -E | awk` summing the same pauses.
//!
//! `cargo bench --bench gc_throughput` (set `GC_BENCH_LOG` to use another
//! file as the repeated unit; `GC_BENCH_MB` for the size).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use tunekeeper::gc::{AnalyseOptions, analyse};

fn unit_log() -> Vec<u8> {
    if let Ok(p) = std::env::var("GC_BENCH_LOG") {
        return std::fs::read(p).expect("GC_BENCH_LOG");
    }
    let corpus = Path::new("/work/shared/corpus/gc/jdk17/with-safepoints.log");
    if corpus.exists() {
        return std::fs::read(corpus).expect("corpus log");
    }
    // Without the shared corpus: the fixture with every decorator family.
    let gz = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gc/truth/jdk17/with-safepoints.log.gz");
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(gz).expect("fixture"))
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

fn build_big(dir: &Path, mb: usize) -> PathBuf {
    let unit = unit_log();
    let path = dir.join("big-gc.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut written = 0;
    while written < mb * 1_000_000 {
        f.write_all(&unit).expect("write");
        written += unit.len();
    }
    f.flush().expect("flush");
    path
}

/// CPU seconds (user + system) used so far by this process and by its
/// waited-for children, from /proc/self/stat (in USER_HZ = 100 ticks/s).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the `(comm)`, which may hold spaces: state is field 3.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // utime, stime, cutime, cstime are fields 14-17, i.e. 11-14 after state.
    ((f[11] + f[12]) / 100.0, (f[13] + f[14]) / 100.0)
}

/// Best wall time of `runs` runs, the mean CPU time per run (user +
/// system, own and children's: the ticks are 10 ms, so one run alone is too
/// coarse), and the last result.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    let (own0, kids0) = cpu_seconds();
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    let (own1, kids1) = cpu_seconds();
    let cpu = ((own1 - own0) + (kids1 - kids0)) / runs as f64;
    (best, cpu, last.expect("at least one run"))
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let mb: usize = std::env::var("GC_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = build_big(dir.path(), mb);
    let size = std::fs::metadata(&path).expect("meta").len() as f64 / 1e6;
    // Warm the page cache so both sides read from memory.
    let _ = std::fs::read(&path);

    let (secs, cpu, analysis) = best_of(5, || {
        analyse(std::slice::from_ref(&path), &AnalyseOptions::default()).expect("analyse")
    });
    println!(
        "tunekeeper analyse: {size:.1} MB in {secs:.3} s wall (best of 5), {cpu:.3} s CPU (user+sys, mean) = {:.0} MB/s ({} pauses, {:.1} ms total, {} lines, {} unrecognised)",
        size / secs,
        analysis.stats.overall.count,
        analysis.stats.overall.total_ms,
        analysis.files[0].lines,
        analysis.files[0].unrecognised_lines
    );

    let script = format!(
        "LC_ALL=C grep -E 'GC\\([0-9]+\\) Pause.*ms$' '{}' | awk '{{d=$NF; sub(/ms$/,\"\",d); s+=d; n++}} END {{printf \"%d %.3f\", n, s}}'",
        path.display()
    );
    let (gsecs, gcpu, out) = best_of(5, || {
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("grep | awk")
    });
    println!(
        "grep -E | awk:      {size:.1} MB in {gsecs:.3} s wall (best of 5), {gcpu:.3} s CPU (user+sys of sh+grep+awk, mean) = {:.0} MB/s (pauses, total ms: {})",
        size / gsecs,
        String::from_utf8_lossy(&out.stdout)
    );
    // grep and awk run in parallel on two cores, tunekeeper on one: wall
    // time and CPU time answer different questions, so both are printed.
    println!(
        "ratio: wall time, tunekeeper is {:.2}x the speed of grep|awk; CPU time, tunekeeper uses {:.2}x grep|awk's",
        gsecs / secs,
        cpu / gcpu.max(0.01)
    );
}
