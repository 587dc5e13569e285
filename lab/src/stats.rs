//! Summaries of samples, histograms, and Amdahl's law.
//!
//! The lab reports the median of repeated batches (robust to the odd preempted batch on
//! a shared machine) with the min and max beside it to show the spread; latency goes into
//! an HdrHistogram so its tail is kept, not averaged away.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};

/// Lowest and highest values a lateness histogram records, in ns: 1 ns to 100 s.
const HIST_LOWEST_NS: u64 = 1;
const HIST_HIGHEST_NS: u64 = 100_000_000_000;
/// Three significant digits: 0.1% value error, HdrHistogram's customary precision.
const HIST_SIGFIG: u8 = 3;

/// Median, min and max of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Smallest sample.
    pub min: f64,
    /// Median (mean of the two middle samples for an even count).
    pub median: f64,
    /// Largest sample.
    pub max: f64,
}

/// Summarises `samples`; `None` when there are none (or any is NaN).
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() || samples.iter().any(|s| s.is_nan()) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    };
    Some(Summary {
        min: sorted[0],
        median,
        max: sorted[sorted.len() - 1],
    })
}

/// A new lateness histogram in ns.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that HdrHistogram accepts (low >= 1, high >= 2 * low).
    Histogram::new_with_bounds(HIST_LOWEST_NS, HIST_HIGHEST_NS, HIST_SIGFIG)
        .expect("valid histogram bounds")
}

/// Records `ns`, clamped into the histogram's range.
pub fn record(hist: &mut Histogram<u64>, ns: u64) {
    hist.saturating_record(ns.clamp(HIST_LOWEST_NS, HIST_HIGHEST_NS));
}

/// The histogram in HdrHistogram's V2 encoding, base64 (what the `hdr` field holds).
pub fn encode_histogram(hist: &Histogram<u64>) -> Option<String> {
    let mut bytes = Vec::new();
    V2Serializer::new().serialize(hist, &mut bytes).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Decodes an `hdr` field.
pub fn decode_histogram(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .ok()
}

/// Fits Amdahl's law `S(n) = 1 / ((1 - p) + p / n)` to measured speed-ups, returning the
/// parallel fraction `p` (least squares on `1/S = 1 - p (1 - 1/n)`, clamped to 0..=1).
///
/// `None` without at least one point with `n > 1`.
pub fn amdahl_fit(points: &[(u32, f64)]) -> Option<f64> {
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(n, speedup) in points {
        if n < 2 || speedup <= 0.0 {
            continue;
        }
        let x = 1.0 - 1.0 / f64::from(n);
        let y = 1.0 - 1.0 / speedup;
        sxy += x * y;
        sxx += x * x;
    }
    (sxx > 0.0).then(|| (sxy / sxx).clamp(0.0, 1.0))
}

/// Amdahl's law: the speed-up on `n` workers of work whose parallel fraction is `p`.
pub fn amdahl(p: f64, n: f64) -> f64 {
    1.0 / ((1.0 - p) + p / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_an_odd_count_takes_the_middle() {
        let s = summarize(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 3.0, 5.0));
    }

    #[test]
    fn summary_of_an_even_count_averages_the_middle_two() {
        let s = summarize(&[4.0, 1.0, 3.0, 10.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 3.5, 10.0));
    }

    #[test]
    fn summary_of_nothing_is_none() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn amdahl_fit_recovers_the_parallel_fraction_of_synthetic_data() {
        for p in [0.0, 0.5, 0.9, 0.99, 1.0] {
            let points: Vec<_> = (1..=16).map(|n| (n, amdahl(p, f64::from(n)))).collect();
            let fitted = amdahl_fit(&points).unwrap();
            assert!((fitted - p).abs() < 1e-9, "p {p} fitted {fitted}");
        }
    }

    #[test]
    fn amdahl_fit_needs_a_point_beyond_one_worker() {
        assert_eq!(amdahl_fit(&[(1, 1.0)]), None);
    }

    #[test]
    fn a_histogram_survives_encoding() {
        let mut h = new_histogram();
        for v in [100, 2_000, 97_000, 1_100_000] {
            record(&mut h, v);
        }
        let back = decode_histogram(&encode_histogram(&h).unwrap()).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
    }
}
