//! A fixed-size log-linear histogram of millisecond values: constant memory,
//! at most ~0.8 % relative error on quantiles, exact count, total and max.

use serde::Serialize;

/// Values are stored in whole microseconds: the logs print milliseconds with
/// three decimals, so nothing finer exists in the input.
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above [`LINEAR`]: 64 gives a bucket width of
/// at most 1/64 of its value, so the midpoint is within 0.8 %.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Powers of two from 2^7 µs to 2^47 µs (about 4.5 years): any real duration.
const BUCKETS: usize = LINEAR as usize + 41 * SUB as usize;

/// Streaming histogram of durations (or any non-negative value) in ms.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    total_ms: f64,
    max_ms: f64,
    min_ms: f64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("total_ms", &self.total_ms)
            .field("max_ms", &self.max_ms)
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            total_ms: 0.0,
            max_ms: 0.0,
            min_ms: f64::INFINITY,
        }
    }
}

fn index_of(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let exp = 63 - us.leading_zeros(); // >= 7
    let sub = (us >> (exp - SUB_BITS)) & (SUB - 1);
    let idx = LINEAR as usize + (exp as usize - 7) * SUB as usize + sub as usize;
    idx.min(BUCKETS - 1)
}

/// The midpoint of a bucket, in µs.
fn value_of(idx: usize) -> f64 {
    if idx < LINEAR as usize {
        return idx as f64;
    }
    let rel = idx - LINEAR as usize;
    let exp = (rel / SUB as usize) as u32 + 7;
    let sub = (rel % SUB as usize) as u64;
    let width = 1u64 << (exp - SUB_BITS);
    let low = (1u64 << exp) + sub * width;
    low as f64 + width as f64 / 2.0
}

impl Histogram {
    /// Records one value in milliseconds; negative and NaN values count as 0.
    pub fn record(&mut self, ms: f64) {
        let ms = if ms.is_finite() && ms > 0.0 { ms } else { 0.0 };
        let us = (ms * 1000.0).round() as u64;
        self.counts[index_of(us)] += 1;
        self.count += 1;
        self.total_ms += ms;
        if ms > self.max_ms {
            self.max_ms = ms;
        }
        if ms < self.min_ms {
            self.min_ms = ms;
        }
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact sum of the values.
    pub fn total_ms(&self) -> f64 {
        self.total_ms
    }

    /// Exact maximum (0 when empty).
    pub fn max_ms(&self) -> f64 {
        self.max_ms
    }

    /// The value at quantile `q` (0..=1), or 0 when empty. Nearest-rank over
    /// bucket midpoints, clamped to the exact min and max.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        if rank >= self.count {
            return self.max_ms;
        }
        let mut seen = 0u64;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let v = value_of(idx) / 1000.0;
                return v.clamp(self.min_ms, self.max_ms);
            }
        }
        self.max_ms
    }

    /// Adds every value of `other` into this histogram.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.total_ms += other.total_ms;
        self.max_ms = self.max_ms.max(other.max_ms);
        self.min_ms = self.min_ms.min(other.min_ms);
    }

    /// The summary figures reported for a set of pauses.
    pub fn summary(&self) -> PauseSummary {
        let mean = if self.count == 0 {
            0.0
        } else {
            self.total_ms / self.count as f64
        };
        PauseSummary {
            count: self.count,
            total_ms: round3(self.total_ms),
            mean_ms: round3(mean),
            p50_ms: round3(self.quantile(0.50)),
            p90_ms: round3(self.quantile(0.90)),
            p99_ms: round3(self.quantile(0.99)),
            p999_ms: round3(self.quantile(0.999)),
            max_ms: round3(self.max_ms),
        }
    }
}

/// Rounds to microseconds: the input has no finer precision, and JSON stays readable.
pub(crate) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Count, total and distribution of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct PauseSummary {
    /// How many.
    pub count: u64,
    /// Sum of durations (exact).
    pub total_ms: f64,
    /// Mean duration (exact).
    pub mean_ms: f64,
    /// Median (within 1 %).
    pub p50_ms: f64,
    /// 90th percentile (within 1 %).
    pub p90_ms: f64,
    /// 99th percentile (within 1 %).
    pub p99_ms: f64,
    /// 99.9th percentile (within 1 %).
    pub p999_ms: f64,
    /// Maximum (exact).
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_one_percent() {
        let mut h = Histogram::default();
        let mut values: Vec<f64> = (1..=100_000).map(|i| i as f64 * 0.0137).collect();
        for v in &values {
            h.record(*v);
        }
        values.sort_by(f64::total_cmp);
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = values[((q * values.len() as f64).ceil() as usize) - 1];
            let got = h.quantile(q);
            assert!((got - exact).abs() / exact < 0.01, "q{q}: {got} vs {exact}");
        }
        assert_eq!(h.count(), 100_000);
        assert!((h.max_ms() - 1370.0).abs() < 1e-9);
    }

    #[test]
    fn empty_and_odd_values() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), 0.0);
        h.record(f64::NAN);
        h.record(-1.0);
        h.record(1e15);
        assert_eq!(h.count(), 3);
        assert_eq!(h.quantile(1.0), 1e15);
    }
}
