//! The latency monitor: per-event series of the last 160 spikes at or above
//! `latency-monitor-threshold` ms, one sample per second (latency.c's latencyAddSample), and
//! the text LATENCY GRAPH draws (sparkline.c with 80 columns, 4 rows, filled).

use std::collections::BTreeMap;

/// Redis's LATENCY_TS_LEN.
pub const TS_LEN: usize = 160;
const GRAPH_COLS: usize = 80;

/// One second's worst latency of an event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub time: i64,
    pub latency: u64,
}

/// One event's ring of samples.
#[derive(Debug, Clone)]
pub struct Series {
    pub idx: usize,
    pub samples: [Sample; TS_LEN],
    pub max: u64,
}

impl Default for Series {
    fn default() -> Self {
        Series { idx: 0, samples: [Sample::default(); TS_LEN], max: 0 }
    }
}

impl Series {
    /// Samples in time order, empty slots skipped.
    pub fn in_order(&self) -> impl Iterator<Item = &Sample> {
        (0..TS_LEN).map(move |j| &self.samples[(self.idx + j) % TS_LEN]).filter(|s| s.time != 0)
    }

    /// The newest sample.
    pub fn latest(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }
}

/// Every event's series, by name.
#[derive(Debug, Default)]
pub struct Monitor {
    pub events: BTreeMap<&'static str, Series>,
}

impl Monitor {
    /// latencyAddSample: a second already sampled keeps the worst of its latencies.
    pub fn add(&mut self, event: &'static str, latency_ms: u64, now_s: i64) {
        let ts = self.events.entry(event).or_default();
        ts.max = ts.max.max(latency_ms);
        let prev = (ts.idx + TS_LEN - 1) % TS_LEN;
        if ts.samples[prev].time == now_s {
            ts.samples[prev].latency = ts.samples[prev].latency.max(latency_ms);
            return;
        }
        ts.samples[ts.idx] = Sample { time: now_s, latency: latency_ms };
        ts.idx = (ts.idx + 1) % TS_LEN;
    }

    /// latencyAddSampleIfNeeded.
    pub fn add_if_needed(&mut self, threshold_ms: u64, event: &'static str, latency_ms: u64, now_s: i64) {
        if threshold_ms > 0 && latency_ms >= threshold_ms {
            self.add(event, latency_ms, now_s);
        }
    }

    /// LATENCY RESET: every event, or those named; returns how many were reset.
    pub fn reset(&mut self, names: &[&[u8]]) -> usize {
        if names.is_empty() {
            let n = self.events.len();
            self.events.clear();
            return n;
        }
        let mut n = 0;
        for name in names {
            let key = self.events.keys().find(|k| k.as_bytes() == *name).copied();
            if let Some(k) = key {
                self.events.remove(k);
                n += 1;
            }
        }
        n
    }
}

/// latencyCommandGenSparkeline: the header, a rule and the sparkline with age labels.
pub fn graph(event: &str, ts: &Series, now_s: i64) -> String {
    let samples: Vec<&Sample> = ts.in_order().collect();
    let (mut min, mut max) = (0u64, 0u64);
    let mut labels = Vec::new();
    for (n, s) in samples.iter().enumerate() {
        if n == 0 {
            (min, max) = (s.latency, s.latency);
        } else {
            min = min.min(s.latency);
            max = max.max(s.latency);
        }
        let elapsed = now_s - s.time;
        labels.push(match elapsed {
            e if e < 60 => format!("{e}s"),
            e if e < 3600 => format!("{}m", e / 60),
            e if e < 86400 => format!("{}h", e / 3600),
            e => format!("{}d", e / 86400),
        });
    }
    let mut out = format!("{event} - high {max} ms, low {min} ms (all time high {} ms)\n", ts.max);
    out.push_str(&"-".repeat(GRAPH_COLS));
    out.push('\n');
    let values: Vec<f64> = samples.iter().map(|s| s.latency as f64).collect();
    let mut offset = 0;
    while offset < values.len() {
        let len = GRAPH_COLS.min(values.len() - offset);
        render_range(&mut out, &values, &labels, min as f64, max as f64, offset, len);
        offset += GRAPH_COLS;
    }
    out
}

/// sparklineRenderRange with 4 rows and the filled charset.
fn render_range(out: &mut String, values: &[f64], labels: &[String], min: f64, max: f64, offset: usize, len: usize) {
    const FILL: &[u8] = b"_o#";
    const ROWS: i64 = 4;
    let steps = FILL.len() as i64 * ROWS;
    let relmax = if max - min == 0.0 { 1.0 } else { max - min };
    let mut row = 0i64;
    loop {
        let mut looped = false;
        let mut chars = vec![b' '; len];
        for (j, c) in chars.iter_mut().enumerate() {
            let relval = values[j + offset] - min;
            let step = (((relval * steps as f64) as i64) as f64 / relmax) as i64;
            let step = step.clamp(0, steps - 1);
            if row < ROWS {
                let charidx = step - (ROWS - row - 1) * FILL.len() as i64;
                looped = true;
                if (0..FILL.len() as i64).contains(&charidx) {
                    *c = FILL[charidx as usize];
                } else if charidx >= FILL.len() as i64 {
                    *c = b'|';
                }
            } else if row == ROWS {
                // One blank row between the graph and its labels.
                looped = true;
            } else {
                let label = labels[j + offset].as_bytes();
                let at = (row - ROWS - 1) as usize;
                if at < label.len() {
                    *c = label[at];
                    looped = true;
                }
            }
        }
        if !looped {
            break;
        }
        row += 1;
        out.push_str(&String::from_utf8_lossy(&chars));
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeps_the_worst() {
        let mut m = Monitor::default();
        m.add("command", 5, 100);
        m.add("command", 9, 100);
        m.add("command", 3, 101);
        let ts = &m.events["command"];
        let v: Vec<(i64, u64)> = ts.in_order().map(|s| (s.time, s.latency)).collect();
        assert_eq!(v, vec![(100, 9), (101, 3)]);
        assert_eq!(ts.max, 9);
        assert_eq!(ts.latest().latency, 3);
        for t in 0..200 {
            m.add("command", 1, 200 + t);
        }
        assert_eq!(m.events["command"].in_order().count(), TS_LEN);
        assert_eq!(m.reset(&[b"nosuch"]), 0);
        assert_eq!(m.reset(&[]), 1);
    }

    #[test]
    fn graph_shape() {
        let mut m = Monitor::default();
        m.add("command", 10, 100);
        m.add("command", 20, 101);
        let g = graph("command", &m.events["command"], 102);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(lines[0], "command - high 20 ms, low 10 ms (all time high 20 ms)");
        assert_eq!(lines[1].len(), 80);
        // 4 graph rows, a blank one, then the labels "2s"/"1s", one character per row.
        assert_eq!(&lines[2..], &[" #", " |", " |", "_|", "  ", "21", "ss"]);
    }
}
