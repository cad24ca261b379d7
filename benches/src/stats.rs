//! Summaries of timing samples: medians, quartiles, and a readable duration format.

use std::time::Duration;

/// Quartiles of a set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The lowest sample.
    pub min: Duration,
    /// The 25th percentile.
    pub p25: Duration,
    /// The median.
    pub median: Duration,
    /// The 75th percentile.
    pub p75: Duration,
    /// The highest sample.
    pub max: Duration,
}

impl Summary {
    /// Summarizes `samples`; `None` if there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Some(Summary {
            min: sorted[0],
            p25: percentile(&sorted, 0.25),
            median: percentile(&sorted, 0.5),
            p75: percentile(&sorted, 0.75),
            max: sorted[sorted.len() - 1],
        })
    }

    /// The interquartile range relative to the median, in percent: how noisy the samples were.
    pub fn spread_percent(&self) -> f64 {
        let median = self.median.as_secs_f64();
        if median == 0.0 {
            return 0.0;
        }
        100.0 * (self.p75.as_secs_f64() - self.p25.as_secs_f64()) / median
    }
}

/// The `q` quantile of sorted, non-empty samples, interpolating between neighbours.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let position = q * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let fraction = position - low as f64;
    let low_s = sorted[low].as_secs_f64();
    let high_s = sorted[high].as_secs_f64();
    Duration::from_secs_f64(low_s + (high_s - low_s) * fraction)
}

/// A duration with three significant digits and a unit that fits (`812 µs`, `3.41 ms`).
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    let (value, unit) = if secs >= 1.0 {
        (secs, "s")
    } else if secs >= 1e-3 {
        (secs * 1e3, "ms")
    } else {
        (secs * 1e6, "µs")
    };
    if value >= 100.0 {
        format!("{value:.0} {unit}")
    } else if value >= 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.2} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_odd_set_is_its_middle_sample() {
        let ms = |n| Duration::from_millis(n);
        let summary = Summary::of(&[ms(5), ms(1), ms(3)]).expect("non-empty");
        assert_eq!(summary.median, ms(3));
        assert_eq!(summary.min, ms(1));
        assert_eq!(summary.max, ms(5));
    }

    #[test]
    fn the_median_of_an_even_set_is_between_the_middle_two() {
        let ms = |n| Duration::from_millis(n);
        let summary = Summary::of(&[ms(1), ms(2), ms(4), ms(10)]).expect("non-empty");
        assert_eq!(summary.median, ms(3));
    }

    #[test]
    fn durations_print_with_a_fitting_unit() {
        assert_eq!(format_duration(Duration::from_micros(812)), "812 µs");
        assert_eq!(format_duration(Duration::from_micros(3_410)), "3.41 ms");
        assert_eq!(format_duration(Duration::from_millis(1_500)), "1.50 s");
    }
}
