//! Bit logic on byte strings, as Redis's `bitops.c` defines it: bit 0 is the most significant
//! bit of the first byte. Counting (BITCOUNT), searching (BITPOS), bitwise combination (BITOP)
//! and integer fields of 1..64 bits with Redis's overflow rules (BITFIELD). No keyspace here.

/// Bit `offset` of `bytes` (bits past the end read as 0).
pub fn get_bit(bytes: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    bytes.get(byte).is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

/// Sets bit `offset` of `buf` (which must be long enough); returns the old bit.
pub fn set_bit(buf: &mut [u8], offset: u64, on: bool) -> bool {
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let old = buf[byte] & mask != 0;
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
    old
}

/// Unit of a BITCOUNT/BITPOS range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Byte,
    Bit,
}

/// Resolves Redis's `start`/`end` (negative counts from the end) against a string of `len`
/// bytes into an inclusive bit range; `None` when the range is empty. `end` is clamped to the
/// string, `start` is not (it may lie past the end, which makes the range empty).
fn bit_range(len: usize, mut start: i64, mut end: i64, unit: Unit) -> Option<(u64, u64)> {
    let total = match unit {
        Unit::Byte => len as i64,
        Unit::Bit => (len as i64) << 3,
    };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    Some(match unit {
        Unit::Byte => ((start as u64) << 3, ((end as u64) << 3) | 7),
        Unit::Bit => (start as u64, end as u64),
    })
}

/// Set bits of `bytes`, a word at a time.
fn popcount(bytes: &[u8]) -> u64 {
    let words = bytes.chunks_exact(8);
    let tail: u64 = words.remainder().iter().map(|b| b.count_ones() as u64).sum();
    words.map(|w| u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]).count_ones() as u64).sum::<u64>()
        + tail
}

/// Set bits of `bytes` in the inclusive bit range `[first, last]` (within the string).
fn count_bits(bytes: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let whole = popcount(&bytes[fb..=lb]);
    // Bits of the edge bytes that lie outside the range.
    let head = (bytes[fb] & !(0xffu8 >> (first & 7))).count_ones() as u64;
    let tail = (bytes[lb] & (0x7fu8 >> (last & 7))).count_ones() as u64;
    whole - head - tail
}

/// BITCOUNT: set bits in the whole string (`range` `None`) or in `start..=end`.
pub fn bitcount(bytes: &[u8], range: Option<(i64, i64, Unit)>) -> i64 {
    let (first, last) = match range {
        None if bytes.is_empty() => return 0,
        None => (0, ((bytes.len() as u64) << 3) - 1),
        // Both ends negative and reversed: empty before any clamping, as Redis checks.
        Some((start, end, _)) if start < 0 && end < 0 && start > end => return 0,
        Some((start, end, unit)) => match bit_range(bytes.len(), start, end, unit) {
            Some(r) => r,
            None => return 0,
        },
    };
    count_bits(bytes, first, last) as i64
}

/// BITPOS: the first bit equal to `bit` from `start` (default 0) to `end`. Redis's rules: an
/// empty range gives -1; a clear bit searched without an explicit `end` is found just past the
/// string when every bit in range is set (the string reads as zero-padded), but -1 with one.
pub fn bitpos(bytes: &[u8], bit: bool, start: Option<i64>, end: Option<i64>, unit: Unit) -> i64 {
    let start = start.unwrap_or(0);
    let end_given = end.is_some();
    let end = end.unwrap_or(match unit {
        Unit::Byte => bytes.len() as i64 - 1,
        // Clamped to the last bit anyway.
        Unit::Bit => i64::MAX,
    });
    let Some((first, last)) = bit_range(bytes.len(), start, end, unit) else {
        return -1;
    };
    if let Some(pos) = find_bit(bytes, bit, first, last) {
        return pos as i64;
    }
    if bit || end_given {
        -1
    } else {
        last as i64 + 1
    }
}

/// The first bit equal to `bit` in `[first, last]`, skipping whole bytes that cannot hold it.
fn find_bit(bytes: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let skip = if bit { 0x00 } else { 0xff };
    let mut pos = first;
    while pos <= last {
        let at = (pos >> 3) as usize;
        let byte = bytes[at];
        if pos & 7 == 0 && last - pos >= 63 && bytes[at..at + 8].iter().all(|&b| b == skip) {
            pos += 64;
            continue;
        }
        if pos & 7 == 0 && last - pos >= 7 && byte == skip {
            pos += 8;
            continue;
        }
        if (byte & (0x80 >> (pos & 7)) != 0) == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// A BITOP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP over `sources` (shorter ones read as zero-padded); the result is as long as the
/// longest source. NOT takes the first source only.
pub fn bitop(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let maxlen = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let byte_at = |s: &[u8], j: usize| s.get(j).copied().unwrap_or(0);
    (0..maxlen)
        .map(|j| {
            let first = sources.first().map_or(0, |s| byte_at(s, j));
            let rest = sources.iter().skip(1).map(|s| byte_at(s, j));
            match op {
                BitOp::Not => !first,
                BitOp::And => rest.fold(first, |acc, b| acc & b),
                BitOp::Or => rest.fold(first, |acc, b| acc | b),
                BitOp::Xor => rest.fold(first, |acc, b| acc ^ b),
            }
        })
        .collect()
}

/// The unsigned integer of `bits` (1..=64) bits at bit `offset` (bits past the end read 0).
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0u64, |acc, j| (acc << 1) | get_bit(bytes, offset + j) as u64)
}

/// The two's complement signed integer of `bits` (1..=64) bits at bit `offset`.
pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(bytes, offset, bits);
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset` of `buf` (long enough).
pub fn set_field(buf: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let on = value & (1u64 << (bits as u64 - 1 - j)) != 0;
        set_bit(buf, offset + j, on);
    }
}

/// What BITFIELD does when a SET or INCRBY does not fit the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wrap around (modulo arithmetic; two's complement for signed fields).
    Wrap,
    /// Saturate at the field's minimum or maximum.
    Sat,
    /// Leave the field alone and reply nil.
    Fail,
}

/// Checks `value + incr` against an unsigned field of `bits` (1..=63) bits, as Redis's
/// checkUnsignedBitfieldOverflow: `None` when it fits, else the value to store (`None` inside
/// for FAIL).
pub fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<Option<u64>> {
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let limit = if value > max || (incr > 0 && incr > max_incr) {
        max
    } else if incr < 0 && incr < min_incr {
        0
    } else {
        return None;
    };
    Some(match ow {
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0))),
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    })
}

/// Checks `value + incr` against a signed field of `bits` (1..=64) bits, as Redis's
/// checkSignedBitfieldOverflow: `None` when it fits, else the value to store (`None` inside
/// for FAIL).
pub fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<Option<i64>> {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    // Only used once `value` is known to be in range, so wrapping never shows.
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let limit = if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
        max
    } else if value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr) {
        min
    } else {
        return None;
    };
    Some(match ow {
        Overflow::Wrap => {
            let mut c = (value as u64).wrapping_add(incr as u64);
            if bits < 64 {
                let mask = u64::MAX << bits;
                if c & (1u64 << (bits - 1)) != 0 {
                    c |= mask;
                } else {
                    c &= !mask;
                }
            }
            Some(c as i64)
        }
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    })
}

/// A BITFIELD field type: `i1`..`i64` or `u1`..`u63`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldType {
    pub signed: bool,
    pub bits: u32,
}

/// A writing BITFIELD operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldWrite {
    /// SET: store the value, reply the old one.
    Set(i64),
    /// INCRBY: add, reply the new value.
    IncrBy(i64),
}

/// Runs one SET/INCRBY on `buf` (long enough for the field). Returns the reply (`None` for a
/// FAIL overflow, which writes nothing) and whether the field's value changed.
pub fn write_field(buf: &mut [u8], offset: u64, ty: FieldType, op: FieldWrite, ow: Overflow) -> (Option<i64>, bool) {
    let bits = ty.bits;
    if ty.signed {
        let old = get_signed(buf, offset, bits);
        let (new, reply) = match op {
            FieldWrite::IncrBy(by) => match signed_overflow(old, by, bits, ow) {
                None => (old.wrapping_add(by), old.wrapping_add(by)),
                Some(Some(v)) => (v, v),
                Some(None) => return (None, false),
            },
            FieldWrite::Set(v) => match signed_overflow(v, 0, bits, ow) {
                None => (v, old),
                Some(Some(w)) => (w, old),
                Some(None) => return (None, false),
            },
        };
        set_field(buf, offset, bits, new as u64);
        (Some(reply), old != new)
    } else {
        let old = get_unsigned(buf, offset, bits);
        let (new, reply) = match op {
            FieldWrite::IncrBy(by) => match unsigned_overflow(old, by, bits, ow) {
                None => (old.wrapping_add(by as u64), old.wrapping_add(by as u64)),
                Some(Some(v)) => (v, v),
                Some(None) => return (None, false),
            },
            FieldWrite::Set(v) => match unsigned_overflow(v as u64, 0, bits, ow) {
                None => (v as u64, old),
                Some(Some(w)) => (w, old),
                Some(None) => return (None, false),
            },
        };
        set_field(buf, offset, bits, new);
        (Some(reply as i64), old != new)
    }
}

/// Reads a field for BITFIELD GET (bits past the end read as 0).
pub fn read_field(bytes: &[u8], offset: u64, ty: FieldType) -> i64 {
    if ty.signed {
        get_signed(bytes, offset, ty.bits)
    } else {
        get_unsigned(bytes, offset, ty.bits) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-by-bit reference for BITPOS over an already resolved range.
    fn naive_find(bytes: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
        (first..=last).find(|&p| get_bit(bytes, p) == bit)
    }

    #[test]
    fn bits_and_counts() {
        let mut buf = vec![0u8; 2];
        assert!(!set_bit(&mut buf, 7, true));
        assert!(set_bit(&mut buf, 7, true));
        assert_eq!(buf, [0x01, 0x00]);
        assert!(get_bit(&buf, 7) && !get_bit(&buf, 6) && !get_bit(&buf, 100));
        let s = b"foobar";
        assert_eq!(bitcount(s, None), 26);
        assert_eq!(bitcount(s, Some((0, 0, Unit::Byte))), 4);
        assert_eq!(bitcount(s, Some((1, 1, Unit::Byte))), 6);
        assert_eq!(bitcount(s, Some((1, 1, Unit::Bit))), 1);
        assert_eq!(bitcount(s, Some((5, 30, Unit::Bit))), 17);
        assert_eq!(bitcount(s, Some((-1, -2, Unit::Byte))), 0);
        assert_eq!(bitcount(s, Some((-100, 100, Unit::Byte))), 26);
        assert_eq!(bitcount(s, Some((6, 10, Unit::Byte))), 0);
        assert_eq!(bitcount(b"", None), 0);
        assert_eq!(bitcount(b"", Some((0, -1, Unit::Bit))), 0);
    }

    #[test]
    fn bitcount_matches_a_naive_count() {
        let s: Vec<u8> = (0..13u32).map(|i| (i.wrapping_mul(0x9e) ^ 0x5a) as u8).collect();
        let total = (s.len() * 8) as i64;
        for start in -110..110 {
            for end in -110..110 {
                let (mut a, mut b) = (start, end);
                let want = if a < 0 && b < 0 && a > b {
                    0
                } else {
                    if a < 0 {
                        a += total;
                    }
                    if b < 0 {
                        b += total;
                    }
                    let (a, b) = (a.max(0), b.max(0).min(total - 1));
                    (a..=b).filter(|&p| get_bit(&s, p as u64)).count() as i64
                };
                assert_eq!(bitcount(&s, Some((start, end, Unit::Bit))), want, "{start} {end}");
            }
        }
    }

    #[test]
    fn bitpos_rules() {
        assert_eq!(bitpos(b"\xff\xf0\x00", false, None, None, Unit::Byte), 12);
        assert_eq!(bitpos(b"\x00\xff\xf0", true, Some(0), None, Unit::Byte), 8);
        assert_eq!(bitpos(b"\x00\x00\x00", true, None, None, Unit::Byte), -1);
        // Every bit set: without an end the string reads zero-padded, with one it does not.
        assert_eq!(bitpos(b"\xff\xff", false, None, None, Unit::Byte), 16);
        assert_eq!(bitpos(b"\xff\xff", false, Some(0), None, Unit::Byte), 16);
        assert_eq!(bitpos(b"\xff\xff", false, Some(0), Some(-1), Unit::Byte), -1);
        assert_eq!(bitpos(b"\xff\xff", false, Some(2), None, Unit::Bit), 16);
        assert_eq!(bitpos(b"\xff\xff", false, Some(2), Some(9), Unit::Bit), -1);
        assert_eq!(bitpos(b"\x00\xff", true, Some(7), Some(11), Unit::Bit), 8);
        assert_eq!(bitpos(b"\x01", true, Some(2), Some(6), Unit::Bit), -1);
        assert_eq!(bitpos(b"", false, None, None, Unit::Byte), -1);
        assert_eq!(bitpos(b"\x00", true, Some(3), Some(1), Unit::Byte), -1);
        let s: Vec<u8> = (0..11u32).map(|i| [0x00, 0xff, 0x10, 0xfe][(i * 7 % 4) as usize]).collect();
        for bit in [false, true] {
            for first in 0..88u64 {
                for last in first..88u64 {
                    assert_eq!(find_bit(&s, bit, first, last), naive_find(&s, bit, first, last));
                }
            }
        }
    }

    #[test]
    fn bitop_pads_and_combines() {
        assert_eq!(bitop(BitOp::And, &[b"\xff\x0f", b"\x0f"]), b"\x0f\x00");
        assert_eq!(bitop(BitOp::Or, &[b"\xf0", b"\x0f\x01"]), b"\xff\x01");
        assert_eq!(bitop(BitOp::Xor, &[b"\xff", b"\x0f", b"\x01"]), b"\xf1");
        assert_eq!(bitop(BitOp::Not, &[b"\x0f\x00"]), b"\xf0\xff");
        assert_eq!(bitop(BitOp::And, &[b"", b"\xff"]), b"\x00");
        assert!(bitop(BitOp::Or, &[b"", b""]).is_empty());
    }

    #[test]
    fn fields_read_and_write() {
        let mut buf = vec![0u8; 2];
        set_field(&mut buf, 7, 5, 23);
        assert_eq!(buf, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&buf, 7, 5), 23);
        assert_eq!(get_signed(&buf, 7, 5), 23 - 32);
        assert_eq!(get_signed(&buf, 0, 64), 0x0170_0000_0000_0000);
        let mut buf = vec![0u8; 8];
        set_field(&mut buf, 0, 64, u64::MAX);
        assert_eq!(get_signed(&buf, 0, 64), -1);
        assert_eq!(get_unsigned(&buf, 60, 8), 0xf0);
    }

    #[test]
    fn unsigned_overflow_modes() {
        assert_eq!(unsigned_overflow(250, 5, 8, Overflow::Wrap), None);
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(Some(4)));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), Some(Some(255)));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Fail), Some(None));
        assert_eq!(unsigned_overflow(3, -5, 8, Overflow::Wrap), Some(Some(254)));
        assert_eq!(unsigned_overflow(3, -5, 8, Overflow::Sat), Some(Some(0)));
        // A SET value out of range (a negative i64 is a huge u64).
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Overflow::Wrap), Some(Some(255)));
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Overflow::Sat), Some(Some(255)));
        assert_eq!(unsigned_overflow(256, 0, 8, Overflow::Wrap), Some(Some(0)));
        assert_eq!(unsigned_overflow(0, i64::MAX, 63, Overflow::Wrap), None);
        assert_eq!(unsigned_overflow(1, i64::MAX, 63, Overflow::Wrap), Some(Some(0)));
        assert_eq!(unsigned_overflow(5, i64::MIN, 63, Overflow::Sat), Some(Some(0)));
    }

    #[test]
    fn signed_overflow_modes() {
        assert_eq!(signed_overflow(100, 27, 8, Overflow::Wrap), None);
        assert_eq!(signed_overflow(100, 28, 8, Overflow::Wrap), Some(Some(-128)));
        assert_eq!(signed_overflow(100, 28, 8, Overflow::Sat), Some(Some(127)));
        assert_eq!(signed_overflow(-100, -29, 8, Overflow::Wrap), Some(Some(127)));
        assert_eq!(signed_overflow(-100, -29, 8, Overflow::Sat), Some(Some(-128)));
        assert_eq!(signed_overflow(-100, -29, 8, Overflow::Fail), Some(None));
        assert_eq!(signed_overflow(200, 0, 8, Overflow::Wrap), Some(Some(-56)));
        assert_eq!(signed_overflow(-1, 0, 1, Overflow::Wrap), None);
        assert_eq!(signed_overflow(1, 0, 1, Overflow::Wrap), Some(Some(-1)));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Wrap), Some(Some(i64::MIN)));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Sat), Some(Some(i64::MAX)));
        assert_eq!(signed_overflow(i64::MIN, -1, 64, Overflow::Sat), Some(Some(i64::MIN)));
        assert_eq!(signed_overflow(i64::MIN, i64::MAX, 64, Overflow::Sat), None);
        assert_eq!(signed_overflow(-5, i64::MIN, 63, Overflow::Sat), Some(Some(-(1 << 62))));
    }

    #[test]
    fn write_field_replies_and_changes() {
        let u8t = FieldType { signed: false, bits: 8 };
        let i8t = FieldType { signed: true, bits: 8 };
        let mut buf = vec![0u8; 2];
        assert_eq!(write_field(&mut buf, 0, u8t, FieldWrite::Set(200), Overflow::Wrap), (Some(0), true));
        assert_eq!(write_field(&mut buf, 0, u8t, FieldWrite::Set(200), Overflow::Wrap), (Some(200), false));
        assert_eq!(write_field(&mut buf, 0, u8t, FieldWrite::IncrBy(100), Overflow::Fail), (None, false));
        assert_eq!(write_field(&mut buf, 0, u8t, FieldWrite::IncrBy(100), Overflow::Wrap), (Some(44), true));
        assert_eq!(write_field(&mut buf, 0, i8t, FieldWrite::IncrBy(100), Overflow::Sat), (Some(127), true));
        assert_eq!(write_field(&mut buf, 4, i8t, FieldWrite::Set(-1), Overflow::Wrap), (Some(-16), true));
        assert_eq!(buf, [0x7f, 0xf0]);
        assert_eq!(read_field(&buf, 8, i8t), -16);
        assert_eq!(read_field(&buf, 12, u8t), 0);
    }
}
