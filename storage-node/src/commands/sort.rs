//! SORT and SORT_RO over lists, sets and sorted sets.

use super::Handler;

pub fn register(_h: &mut Vec<(&'static str, Handler)>) {}
