//! Metric points → metric samples for threshold rules: gauges as they are, cumulative monotonic
//! sums as per-second rates (from the series' previous point, kept in `Rates`), delta monotonic
//! sums as their rate over their interval, other sums as they are; histograms and summaries as
//! their count, their sum and the configured quantiles. Resource and point attributes are the
//! labels, the point's winning.

use std::collections::HashMap;
use std::hash::BuildHasher;

use klaxon_engine::{Body, Labels, Metric as Sample, Signal};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, HistogramDataPoint, Metric,
    NumberDataPoint,
};
use prost::Message;

use super::{millis, text, Mapped, Settings};

/// The last point of each cumulative monotonic sum, to turn the next one into a rate. Bounded:
/// a new series beyond `[otlp] max_rate_series` is refused.
#[derive(Debug)]
pub(crate) struct Rates {
    last: HashMap<u64, (u64, f64)>,
    hasher: foldhash::quality::RandomState,
    max: usize,
}

impl Rates {
    pub(crate) fn new(max: usize) -> Rates {
        Rates {
            last: HashMap::new(),
            hasher: foldhash::quality::RandomState::default(),
            max,
        }
    }

    /// The rate since the series' previous point; `Ok(None)` for its first point or one not
    /// newer than the previous. A decrease is a reset: the rate counts from zero.
    fn rate(
        &mut self,
        name: &str,
        labels: &Labels,
        start: u64,
        time: u64,
        value: f64,
    ) -> Result<Option<f64>, String> {
        let key = self.hasher.hash_one((name, labels, start));
        let Some(prev) = self.last.get_mut(&key) else {
            if self.last.len() >= self.max {
                return Err(format!("over {} series of cumulative sums", self.max));
            }
            self.last.insert(key, (time, value));
            return Ok(None);
        };
        if time <= prev.0 {
            return Ok(None);
        }
        let seconds = (time - prev.0) as f64 / 1e9;
        let increase = if value >= prev.1 {
            value - prev.1
        } else {
            value
        };
        *prev = (time, value);
        Ok(Some(increase / seconds))
    }
}

/// Maps every data point of an export.
pub(crate) fn map_metrics(
    req: &ExportMetricsServiceRequest,
    set: Settings<'_>,
    rates: &mut Rates,
) -> Mapped {
    let mut m = Mapped::default();
    for rm in &req.resource_metrics {
        let resource = rm.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let base = labels(&Labels::new(), resource);
        for sm in &rm.scope_metrics {
            for metric in &sm.metrics {
                one_metric(metric, &base, set, rates, &mut m);
            }
        }
    }
    m.sort();
    m
}

/// `base` with `attrs` added over it.
fn labels(base: &Labels, attrs: &[KeyValue]) -> Labels {
    let mut l = base.clone();
    for kv in attrs {
        if let Some(v) = kv.value.as_ref().and_then(text).filter(|v| !v.is_empty()) {
            l.insert(kv.key.clone(), v);
        }
    }
    l
}

fn sample(m: &mut Mapped, name: String, labels: Labels, time: u64, value: f64) {
    m.bytes += std::mem::size_of::<Signal>()
        + name.len()
        + labels.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    m.signals.push(Signal {
        ts: millis(time),
        process: String::new(),
        name: None,
        group: None,
        baseline_scope: None,
        body: Body::Metric(Sample {
            name,
            labels,
            value,
        }),
        attrs: None,
    });
}

fn number(p: &NumberDataPoint) -> Option<f64> {
    match p.value? {
        number_data_point::Value::AsDouble(d) => Some(d),
        number_data_point::Value::AsInt(i) => Some(i as f64),
    }
}

/// A quantile's name: `0.95` is `p95`, `0.999` is `p99.9`.
fn quantile_name(q: f64) -> String {
    let s = format!("{:.6}", q * 100.0);
    format!("p{}", s.trim_end_matches('0').trim_end_matches('.'))
}

/// The `q` quantile of an explicit-bucket histogram, interpolated linearly within its bucket
/// (the first bucket from 0, or its min; the last, unbounded one at its lower bound, or max).
fn bucket_quantile(p: &HistogramDataPoint, q: f64) -> Option<f64> {
    if p.count == 0 || p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
        return None;
    }
    let rank = q * p.count as f64;
    let mut below = 0u64;
    for (i, &n) in p.bucket_counts.iter().enumerate() {
        if n > 0 && below.saturating_add(n) as f64 >= rank {
            let upper = p.explicit_bounds.get(i).copied().or(p.max)?;
            let lower = if i == 0 {
                p.min.unwrap_or(0.0_f64.min(upper))
            } else {
                p.explicit_bounds[i - 1]
            };
            let upper = if i == p.explicit_bounds.len() {
                upper.max(lower)
            } else {
                upper
            };
            let within = (rank - below as f64) / n as f64;
            return Some(lower + (upper - lower) * within.clamp(0.0, 1.0));
        }
        below = below.saturating_add(n);
    }
    p.explicit_bounds.last().copied()
}

fn one_metric(
    metric: &Metric,
    base: &Labels,
    set: Settings<'_>,
    rates: &mut Rates,
    m: &mut Mapped,
) {
    let size = metric.encoded_len();
    let name = &metric.name;
    let who = || -> String { name.chars().take(64).collect() };
    let Some(data) = &metric.data else {
        return;
    };
    let points = match data {
        Data::Gauge(g) => g.data_points.len(),
        Data::Sum(s) => s.data_points.len(),
        Data::Histogram(h) => h.data_points.len(),
        Data::ExponentialHistogram(h) => h.data_points.len(),
        Data::Summary(s) => s.data_points.len(),
    };
    if name.is_empty() {
        for _ in 0..points {
            m.reject(|| "metric without a name".to_owned());
        }
        return;
    }
    if size > set.max_item_bytes.saturating_mul(points.max(1)) {
        for _ in 0..points {
            m.reject(|| {
                format!(
                    "metric `{}`: over {} bytes a point",
                    who(),
                    set.max_item_bytes
                )
            });
        }
        return;
    }
    match data {
        Data::Gauge(g) => {
            for p in &g.data_points {
                match number(p).filter(|v| v.is_finite()) {
                    Some(v) => sample(
                        m,
                        name.clone(),
                        labels(base, &p.attributes),
                        p.time_unix_nano,
                        v,
                    ),
                    None => {
                        m.reject(|| format!("metric `{}`: a point without a finite value", who()))
                    }
                }
            }
        }
        Data::Sum(s) => {
            let cumulative = s.aggregation_temporality == AggregationTemporality::Cumulative as i32;
            for p in &s.data_points {
                let Some(v) = number(p).filter(|v| v.is_finite()) else {
                    m.reject(|| format!("metric `{}`: a point without a finite value", who()));
                    continue;
                };
                let l = labels(base, &p.attributes);
                if !s.is_monotonic {
                    sample(m, name.clone(), l, p.time_unix_nano, v);
                } else if cumulative {
                    match rates.rate(name, &l, p.start_time_unix_nano, p.time_unix_nano, v) {
                        Ok(Some(r)) => sample(m, name.clone(), l, p.time_unix_nano, r),
                        Ok(None) => {}
                        Err(why) => m.reject(|| format!("metric `{}`: {why}", who())),
                    }
                } else if p.time_unix_nano > p.start_time_unix_nano && p.start_time_unix_nano > 0 {
                    let seconds = (p.time_unix_nano - p.start_time_unix_nano) as f64 / 1e9;
                    sample(m, name.clone(), l, p.time_unix_nano, v / seconds);
                } else {
                    m.reject(|| format!("metric `{}`: a delta point needs its start time", who()));
                }
            }
        }
        Data::Histogram(h) => {
            for p in &h.data_points {
                let l = labels(base, &p.attributes);
                sample(
                    m,
                    format!("{name}.count"),
                    l.clone(),
                    p.time_unix_nano,
                    p.count as f64,
                );
                if let Some(sum) = p.sum.filter(|s| s.is_finite()) {
                    sample(m, format!("{name}.sum"), l.clone(), p.time_unix_nano, sum);
                }
                for &q in &set.config.quantiles {
                    if let Some(v) = bucket_quantile(p, q).filter(|v| v.is_finite()) {
                        sample(
                            m,
                            format!("{name}.{}", quantile_name(q)),
                            l.clone(),
                            p.time_unix_nano,
                            v,
                        );
                    }
                }
            }
        }
        Data::ExponentialHistogram(h) => {
            for p in &h.data_points {
                let l = labels(base, &p.attributes);
                sample(
                    m,
                    format!("{name}.count"),
                    l.clone(),
                    p.time_unix_nano,
                    p.count as f64,
                );
                if let Some(sum) = p.sum.filter(|s| s.is_finite()) {
                    sample(m, format!("{name}.sum"), l, p.time_unix_nano, sum);
                }
            }
        }
        Data::Summary(s) => {
            for p in &s.data_points {
                let l = labels(base, &p.attributes);
                sample(
                    m,
                    format!("{name}.count"),
                    l.clone(),
                    p.time_unix_nano,
                    p.count as f64,
                );
                if p.sum.is_finite() {
                    sample(m, format!("{name}.sum"), l.clone(), p.time_unix_nano, p.sum);
                }
                for qv in &p.quantile_values {
                    if set.config.quantiles.contains(&qv.quantile) && qv.value.is_finite() {
                        sample(
                            m,
                            format!("{name}.{}", quantile_name(qv.quantile)),
                            l.clone(),
                            p.time_unix_nano,
                            qv.value,
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_names_drop_trailing_zeros() {
        assert_eq!(quantile_name(0.95), "p95");
        assert_eq!(quantile_name(0.5), "p50");
        assert_eq!(quantile_name(0.999), "p99.9");
    }

    #[test]
    fn bucket_quantiles_interpolate_within_the_bucket() {
        let p = HistogramDataPoint {
            count: 10,
            bucket_counts: vec![0, 10, 0],
            explicit_bounds: vec![100.0, 200.0],
            ..HistogramDataPoint::default()
        };
        assert_eq!(bucket_quantile(&p, 0.5), Some(150.0));
        assert_eq!(bucket_quantile(&p, 0.9), Some(190.0));
    }

    #[test]
    fn bucket_counts_that_overflow_when_added_do_not_panic() {
        let p = HistogramDataPoint {
            count: 10,
            bucket_counts: vec![u64::MAX, u64::MAX, 1],
            explicit_bounds: vec![100.0, 200.0],
            ..HistogramDataPoint::default()
        };
        assert_eq!(
            bucket_quantile(&p, 0.5),
            Some(100.0 * (5.0 / u64::MAX as f64))
        );
        assert!(bucket_quantile(&p, 1e30).is_some());
    }

    #[test]
    fn a_cumulative_sum_gives_its_rate_from_its_second_point_and_resets_count_from_zero() {
        let mut r = Rates::new(1);
        let l = Labels::new();
        assert_eq!(r.rate("c", &l, 1, 1_000_000_000, 10.0), Ok(None));
        assert_eq!(r.rate("c", &l, 1, 3_000_000_000, 30.0), Ok(Some(10.0)));
        assert_eq!(r.rate("c", &l, 1, 4_000_000_000, 5.0), Ok(Some(5.0)));
        assert!(
            r.rate("other", &l, 1, 1, 1.0).is_err(),
            "over the series limit"
        );
    }
}
