//! Per-command latency histograms, laid out as the hdr_histogram Redis 7.0 keeps for each
//! command (`hdr_init(1, 1e9, 2)`, values in nanoseconds): unit magnitude 0, 256 sub-buckets,
//! so LATENCY HISTOGRAM's power-of-two buckets (`hdr_iter_log_init(.., 1024, 2)`) and INFO
//! latencystats' percentiles (`hdr_value_at_percentile`) come out as redis-server's.

/// Redis's LATENCY_HISTOGRAM_MIN_VALUE / MAX_VALUE (ns).
const MIN_VALUE: u64 = 1;
const MAX_VALUE: u64 = 1_000_000_000;
/// Two significant digits: 256 sub-buckets, half of them (128) per bucket after the first.
const SUB_BUCKET_COUNT: u64 = 256;
const SUB_BUCKET_HALF: u64 = 128;
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 7;
/// Buckets needed to reach MAX_VALUE (hdr's buckets_needed_to_cover_value).
const BUCKETS: usize = 23;
const COUNTS_LEN: usize = (BUCKETS + 1) * SUB_BUCKET_HALF as usize;

/// One command's histogram.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    pub total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; COUNTS_LEN].into_boxed_slice(), total: 0 }
    }
}

fn bucket_index(v: u64) -> u32 {
    // hdr's get_bucket_index with unit magnitude 0.
    let pow2ceiling = 64 - (v | (SUB_BUCKET_COUNT - 1)).leading_zeros();
    pow2ceiling - (SUB_BUCKET_HALF_MAGNITUDE + 1)
}

fn sub_bucket_index(v: u64, bucket: u32) -> u64 {
    v >> bucket
}

fn counts_index(v: u64) -> usize {
    let b = bucket_index(v);
    let sub = sub_bucket_index(v, b);
    ((b as u64 + 1) * SUB_BUCKET_HALF + sub - SUB_BUCKET_HALF) as usize
}

fn value_at_index(idx: usize) -> u64 {
    let mut bucket = (idx as i64 >> SUB_BUCKET_HALF_MAGNITUDE) - 1;
    let mut sub = (idx as u64 & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    if bucket < 0 {
        sub -= SUB_BUCKET_HALF;
        bucket = 0;
    }
    sub << bucket
}

fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    sub_bucket_index(v, b) << b
}

fn equivalent_range(v: u64) -> u64 {
    let b = bucket_index(v);
    let adjusted = if sub_bucket_index(v, b) >= SUB_BUCKET_COUNT { b + 1 } else { b };
    1 << adjusted
}

fn highest_equivalent(v: u64) -> u64 {
    lowest_equivalent(v) + equivalent_range(v) - 1
}

impl Histogram {
    /// Records one call of `ns` nanoseconds, clamped to the histogram's range as Redis does.
    pub fn record(&mut self, ns: u64) {
        let v = ns.clamp(MIN_VALUE, MAX_VALUE);
        self.counts[counts_index(v)] += 1;
        self.total += 1;
    }

    /// `hdr_value_at_percentile`, in nanoseconds.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let p = percentile.min(100.0);
        let wanted = (((p / 100.0) * self.total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        let mut value = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                value = value_at_index(i);
                break;
            }
        }
        if percentile == 0.0 {
            lowest_equivalent(value)
        } else {
            highest_equivalent(value)
        }
    }

    /// LATENCY HISTOGRAM's buckets: (µs, cumulative calls) at the 1024 ns·2^k reporting levels
    /// of hdr's log iterator, only where the cumulative count grew (fillCommandCDF). A level's
    /// count includes every sub-bucket up to the one holding the level itself.
    pub fn cdf(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let (mut level, mut idx, mut cumulative, mut previous) = (1024u64, 0usize, 0u64, 0u64);
        while self.total > 0 && previous < self.total {
            let upto = counts_index(level).min(COUNTS_LEN - 1);
            while idx <= upto {
                cumulative += self.counts[idx];
                idx += 1;
            }
            if cumulative > previous {
                out.push((highest_equivalent(level) / 1000, cumulative));
            }
            previous = cumulative;
            if upto == COUNTS_LEN - 1 {
                break;
            }
            level *= 2;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_ranges() {
        assert_eq!(counts_index(1), 1);
        assert_eq!(value_at_index(counts_index(255)), 255);
        assert_eq!(lowest_equivalent(1024), 1024);
        assert_eq!(highest_equivalent(1024), 1031);
        assert_eq!(highest_equivalent(32768), 33023);
        assert!(counts_index(MAX_VALUE) < COUNTS_LEN);
    }

    #[test]
    fn reporting_levels_match_redis_bucket_names() {
        // redis.io's LATENCY HISTOGRAM example: 1, 2, 4, 8, 16, 33 ... µs.
        let names: Vec<u64> = (0..8).map(|k| highest_equivalent(1024 << k) / 1000).collect();
        assert_eq!(names, vec![1, 2, 4, 8, 16, 33, 66, 132]);
    }

    #[test]
    fn cdf_is_cumulative_and_skips_flat_levels() {
        let mut h = Histogram::default();
        for ns in [500, 900, 3000, 3000, 40_000] {
            h.record(ns);
        }
        // 500 and 900 ns are at or below the 1 µs level, 3000 ns falls in 4 µs, 40 µs in 66.
        assert_eq!(h.cdf(), vec![(1, 2), (4, 4), (66, 5)]);
        assert_eq!(h.total, 5);
    }

    #[test]
    fn percentiles() {
        let mut h = Histogram::default();
        for i in 1..=100u64 {
            h.record(i * 1000);
        }
        let p50 = h.value_at_percentile(50.0);
        assert!((50_000..=50_300).contains(&p50), "{p50}");
        let p100 = h.value_at_percentile(100.0);
        assert!((100_000..=100_600).contains(&p100), "{p100}");
        // Values past the range are clamped.
        h.record(u64::MAX);
        assert!(h.value_at_percentile(100.0) >= MAX_VALUE);
    }
}
