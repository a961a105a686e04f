//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD.

use super::Handler;

pub fn register(_h: &mut Vec<(&'static str, Handler)>) {}
