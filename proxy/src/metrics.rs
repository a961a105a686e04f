//! Per-command counts and latency histograms, observed by the sessions and served by `admin` on
//! the admin port with the proxy's other counters.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// The label of per-command series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabel {
    pub command: String,
}

/// Everything the proxy measures.
pub struct Metrics {
    pub commands: Family<CommandLabel, Counter>,
    pub latency: Family<CommandLabel, Histogram>,
    /// Handles of every known command's series, in command-table order with "other" last, made
    /// once so the hot path neither allocates a label, hashes a name nor takes the family's lock.
    handles: Vec<(Counter, Histogram)>,
}

impl Default for Metrics {
    fn default() -> Self {
        let commands: Family<CommandLabel, Counter> = Family::default();
        let latency: Family<CommandLabel, Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.00005, 2.0, 16)));
        let names = protocol::command::COMMANDS.iter().map(|c| c.name).chain(std::iter::once("other"));
        let handles = names
            .map(|name| {
                let label = CommandLabel { command: name.to_string() };
                (commands.get_or_create(&label).clone(), latency.get_or_create(&label).clone())
            })
            .collect();
        Metrics { commands, latency, handles }
    }
}

impl Metrics {
    /// Records one command and how long its reply took.
    pub fn observe(&self, command: Option<&protocol::CommandSpec>, seconds: f64) {
        // Unknown names are folded together so a client cannot grow the series without bound.
        let i = command.and_then(protocol::command::position).unwrap_or(self.handles.len() - 1);
        let Some((count, hist)) = self.handles.get(i) else { return };
        count.inc();
        hist.observe(seconds);
    }
}
