//! Geo commands on sorted sets scored by 52-bit geohashes.

use super::Handler;

pub fn register(_h: &mut Vec<(&'static str, Handler)>) {}
