//! HyperLogLog commands on strings in Redis's `HYLL` format: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

use super::Handler;

pub fn register(_h: &mut Vec<(&'static str, Handler)>) {}
