//! Stream commands: entries, ranges, trimming, reads and consumer groups.

use super::Handler;

pub fn register(_h: &mut Vec<(&'static str, Handler)>) {}
