//! INFO's instantaneous_input_kbps / instantaneous_output_kbps: Redis's trackInstantaneousMetric
//! over the network byte counters, sampled by the cron (at least 100 ms apart) and reported
//! as the mean of the last 16 samples.

use std::time::Instant;

const SAMPLES: usize = 16;

/// One rate: bytes per second between samples.
#[derive(Debug, Default)]
pub struct Rate {
    samples: [f64; SAMPLES],
    idx: usize,
    last_value: u64,
    last_at: Option<Instant>,
}

impl Rate {
    /// Samples the counter's `value` now (no more often than every 100 ms).
    pub fn sample(&mut self, value: u64, now: Instant) {
        if let Some(at) = self.last_at {
            let ms = now.duration_since(at).as_millis() as u64;
            if ms < 100 {
                return;
            }
            self.samples[self.idx] = value.saturating_sub(self.last_value) as f64 * 1000.0 / ms as f64;
            self.idx = (self.idx + 1) % SAMPLES;
        }
        self.last_at = Some(now);
        self.last_value = value;
    }

    /// The mean rate in kilobytes per second, as INFO prints it.
    pub fn kbps(&self) -> f64 {
        self.samples.iter().sum::<f64>() / SAMPLES as f64 / 1024.0
    }
}

/// The network rates INFO reports.
#[derive(Debug, Default)]
pub struct NetRates {
    pub input: Rate,
    pub output: Rate,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn mean_of_recent_samples() {
        let mut r = Rate::default();
        let t = Instant::now();
        r.sample(0, t);
        r.sample(1024 * 16, t + Duration::from_millis(1000));
        // One sample of 16 KB/s among 16 slots.
        assert!((r.kbps() - 1.0).abs() < 1e-9);
        // Too soon: ignored.
        r.sample(1 << 30, t + Duration::from_millis(1050));
        assert!((r.kbps() - 1.0).abs() < 1e-9);
    }
}
