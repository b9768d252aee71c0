//! Medians and spreads of timing samples, and how to print them.

use std::time::Duration;

/// A summary of samples: the median and the 10th-90th percentile spread.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub n: usize,
}

impl Stats {
    /// Summarise `samples` (any unit). Panics on an empty slice: every
    /// figure is measured at least once.
    pub fn of(samples: &[f64]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((sorted.len() - 1) as f64 * q).round() as usize;
            sorted[i]
        };
        Stats {
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
            n: sorted.len(),
        }
    }

    pub fn of_durations(samples: &[Duration]) -> Stats {
        Stats::of(
            &samples
                .iter()
                .map(Duration::as_secs_f64)
                .collect::<Vec<_>>(),
        )
    }

    /// `47.1 µs (p10-p90 45.0-52.3 µs, n=2000)` for samples in seconds.
    pub fn time(&self) -> String {
        format!(
            "{} (p10-p90 {}-{}, n={})",
            secs(self.median),
            secs(self.p10),
            secs(self.p90),
            self.n
        )
    }

    /// Like [`Stats::time`], with `unit` after plain numbers.
    pub fn plain(&self, unit: &str) -> String {
        format!(
            "{} {unit} (p10-p90 {}-{}, n={})",
            thousands(self.median),
            thousands(self.p10),
            thousands(self.p90),
            self.n
        )
    }
}

/// A duration in seconds, in the unit that suits it.
pub fn secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// `15234.6` -> `15,235`.
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

/// Kibibytes (as the kernel reports RSS) in decimal megabytes, the unit
/// of the memory target.
pub fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}
