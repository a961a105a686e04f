//! Consumer groups of a stream: the group's last delivered ID and read counter, its pending
//! entries list (PEL) and its consumers, each with the IDs delivered to it and not yet acked.

use std::collections::{BTreeMap, BTreeSet};

use super::stream::StreamId;

/// A delivered, unacknowledged entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: Box<[u8]>,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consumer {
    /// Unix ms the consumer was last active.
    pub seen_time: i64,
    /// IDs pending for this consumer (the group's PEL holds their details).
    pub pel: BTreeSet<StreamId>,
}

/// `entries_read` when unknown (SCG_INVALID_ENTRIES_READ).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

/// A consumer group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Pending>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    /// A group starting after `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }
}
