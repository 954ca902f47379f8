//! The EWMA baseline of `AVG_DEVIATION_PCT` (docs/rules.md). Pure arithmetic, no keys or storage.

/// A running baseline: an arithmetic mean over the warm-up, then an exponential average.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ewma {
    /// Measurements folded in so far (saturating).
    pub n: u32,
    /// The current average, meaningful when `n > 0`.
    pub avg: f64,
}

impl Ewma {
    /// The baseline the next measurement is compared with: `None` during warm-up.
    /// Warm-up 0 acts as 1, since there is no baseline before the first measurement.
    pub fn baseline(&self, warmup: u32) -> Option<f64> {
        (self.n >= warmup.max(1)).then_some(self.avg)
    }

    /// Folds a measurement in, after the check against the earlier ones.
    pub fn fold(&mut self, x: f64, warmup: u32, alpha: f64) {
        if self.n < warmup.max(1) {
            self.avg = (self.avg * f64::from(self.n) + x) / f64::from(self.n + 1);
        } else {
            self.avg += alpha * (x - self.avg);
        }
        self.n = self.n.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_is_a_mean_then_exponential() {
        let mut e = Ewma::default();
        for x in [100.0, 100.0, 100.0] {
            assert_eq!(e.baseline(3), None);
            e.fold(x, 3, 0.5);
        }
        assert_eq!(e.baseline(3), Some(100.0));
        e.fold(100.0, 3, 0.5);
        e.fold(110.0, 3, 0.5);
        assert_eq!(e.baseline(3), Some(105.0));
    }

    #[test]
    fn warmup_zero_acts_as_one() {
        let mut e = Ewma::default();
        assert_eq!(e.baseline(0), None);
        e.fold(7.0, 0, 0.1);
        assert_eq!(e.baseline(0), Some(7.0));
    }
}
