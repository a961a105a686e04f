//! The sparse HyperLogLog encoding: a run-length code of the 16384 registers with three
//! opcodes, as Redis's `hyperloglog.c` defines it (`hllSparseSet`, `hllSparseToDense`,
//! `hllSparseRegHisto`, the sparse half of `hllMerge`).
//!
//! - ZERO  `00xxxxxx`: 1..=64 registers at 0.
//! - XZERO `01xxxxxx yyyyyyyy`: 1..=16384 registers at 0 (14-bit length, high bits first).
//! - VAL   `1vvvvvxx`: 1..=4 registers at value 1..=32.
//!
//! Corrupt input must behave as in Redis, byte for byte: an XZERO cut short by the end of the
//! string reads its second byte as 0 (Redis reads the string's terminating NUL there), and a
//! code is valid when its runs add up to exactly 16384 registers, none running past the last
//! (the rule since the fix for CVE-2025-32023, which the reference redis-server 7.0 carries).

use super::{dense_set, Corrupt, DENSE, DENSE_SIZE, HDR, REGISTERS};

/// Longest run a ZERO opcode holds.
const ZERO_MAX: usize = 64;
/// Largest value a VAL opcode holds.
pub const VAL_MAX: u8 = 32;
/// Longest run a VAL opcode holds.
const VAL_MAX_LEN: usize = 4;

/// One decoded opcode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `n` registers at 0, in `bytes` opcode bytes (1 for ZERO, 2 for XZERO).
    Zeros { n: usize, bytes: usize },
    /// `n` registers at `value`.
    Val { value: u8, n: usize },
}

impl Op {
    /// Registers covered.
    pub fn span(self) -> usize {
        match self {
            Op::Zeros { n, .. } | Op::Val { n, .. } => n,
        }
    }

    /// Bytes taken.
    pub fn len(self) -> usize {
        match self {
            Op::Zeros { bytes, .. } => bytes,
            Op::Val { .. } => 1,
        }
    }
}

/// The value and run length of a VAL opcode byte.
fn val_parts(b: u8) -> (u8, usize) {
    (((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1)
}

/// Decodes the opcode at `p` (which must be inside `s`).
pub fn op_at(s: &[u8], p: usize) -> Op {
    let b = s[p];
    if b & 0x80 != 0 {
        let (value, n) = val_parts(b);
        Op::Val { value, n }
    } else if b & 0x40 == 0 {
        Op::Zeros { n: (b & 0x3f) as usize + 1, bytes: 1 }
    } else {
        let low = s.get(p + 1).copied().unwrap_or(0) as usize;
        Op::Zeros { n: (((b & 0x3f) as usize) << 8 | low) + 1, bytes: 2 }
    }
}

fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}

fn val_byte(value: u8, n: usize) -> u8 {
    0x80 | (value - 1) << 2 | (n - 1) as u8
}

/// Appends the shortest opcode for `n` (1..=16384) zero registers.
fn push_zeros(seq: &mut Vec<u8>, n: usize) {
    if n > ZERO_MAX {
        let l = n - 1;
        seq.push(0x40 | (l >> 8) as u8);
        seq.push((l & 0xff) as u8);
    } else {
        seq.push((n - 1) as u8);
    }
}

/// An empty HLL: the header and XZERO opcodes covering every register.
pub fn empty() -> Vec<u8> {
    let mut s = Vec::with_capacity(HDR + 2);
    s.extend_from_slice(b"HYLL");
    s.push(super::SPARSE);
    s.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(16384);
        push_zeros(&mut s, n);
        left -= n;
    }
    s
}

/// What a register update did to a sparse HLL.
#[derive(Debug, PartialEq)]
pub enum SetResult {
    /// The register already held as much.
    Unchanged,
    /// The opcodes were rewritten (and the cached cardinality invalidated).
    Updated,
    /// The value does not fit the sparse encoding, or the string would pass `max_bytes`:
    /// the caller converts to dense and sets the register there.
    Promote,
}

/// Raises register `index` to `count` in place (`hllSparseSet` without its promotion step).
pub fn set(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<SetResult, Corrupt> {
    if count > VAL_MAX {
        return Ok(SetResult::Promote);
    }
    // Step 1: find the opcode covering `index`, and the one before it.
    let end = s.len();
    let (mut p, mut first, mut span, mut prev) = (HDR, 0usize, 0usize, None);
    while p < end {
        let op = op_at(s, p);
        span = op.span();
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += op.len();
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let op = op_at(s, p);
    let last = first + span - 1;
    // Step 2: the cases that rewrite one byte in place.
    match op {
        Op::Val { value, .. } if value >= count => return Ok(SetResult::Unchanged),
        Op::Val { n: 1, .. } | Op::Zeros { n: 1, bytes: 1 } => {
            s[p] = val_byte(count, 1);
            merge_vals(s, prev.unwrap_or(HDR));
            return Ok(SetResult::Updated);
        }
        _ => {}
    }
    // Otherwise the opcode splits in up to three (at most 5 bytes: XZERO VAL XZERO).
    let mut seq = Vec::with_capacity(5);
    match op {
        Op::Zeros { .. } => {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        }
        Op::Val { value, .. } => {
            if index != first {
                seq.push(val_byte(value, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(value, last - index));
            }
        }
    }
    // Step 3: put the new opcodes in place of the old one, unless the string grows too long.
    let new_len = end + seq.len() - op.len();
    if seq.len() > op.len() && new_len > max_bytes {
        return Ok(SetResult::Promote);
    }
    let old_end = (p + op.len()).min(end);
    s.splice(p..old_end, seq);
    // An XZERO cut short by the end of the string loses the byte it never had.
    s.truncate(new_len);
    merge_vals(s, prev.unwrap_or(HDR));
    Ok(SetResult::Updated)
}

/// Step 4 of Redis's update: joins adjacent VAL opcodes of equal value, looking at up to five
/// opcodes from `p`, then invalidates the cached cardinality.
fn merge_vals(s: &mut Vec<u8>, mut p: usize) {
    let mut scans = 5;
    while p < s.len() && scans > 0 {
        scans -= 1;
        let b = s[p];
        if !is_val(b) {
            p += if b & 0x40 != 0 { 2 } else { 1 };
            continue;
        }
        if p + 1 < s.len() && is_val(s[p + 1]) {
            let ((v1, n1), (v2, n2)) = (val_parts(b), val_parts(s[p + 1]));
            if v1 == v2 && n1 + n2 <= VAL_MAX_LEN {
                s[p + 1] = val_byte(v1, n1 + n2);
                s.remove(p);
                // Look at the merged opcode again: it may join the next one too.
                continue;
            }
        }
        p += 1;
    }
    super::invalidate_cache(s);
}

/// Converts to the dense encoding, keeping the header (magic and cached cardinality).
pub fn to_dense(s: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR].copy_from_slice(&s[..HDR]);
    d[4] = DENSE;
    let (mut p, mut idx) = (HDR, 0usize);
    while p < s.len() {
        let op = op_at(s, p);
        if idx + op.span() > REGISTERS {
            return Err(Corrupt);
        }
        if let Op::Val { value, n } = op {
            for i in idx..idx + n {
                dense_set(&mut d[HDR..], i, value);
            }
        }
        idx += op.span();
        p += op.len();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(d)
}

/// Adds the register values to `histo`; false when the opcodes do not cover exactly
/// 16384 registers.
pub fn histogram(s: &[u8], histo: &mut [u64; 64]) -> bool {
    let (mut p, mut idx) = (HDR, 0usize);
    while p < s.len() {
        let op = op_at(s, p);
        if idx + op.span() > REGISTERS {
            return false;
        }
        match op {
            Op::Zeros { n, .. } => histo[0] += n as u64,
            Op::Val { value, n } => histo[value as usize] += n as u64,
        }
        idx += op.span();
        p += op.len();
    }
    idx == REGISTERS
}

/// Raises `max[i]` to every register's value.
pub fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), Corrupt> {
    let (mut p, mut idx) = (HDR, 0usize);
    while p < s.len() {
        let op = op_at(s, p);
        if idx + op.span() > REGISTERS {
            return Err(Corrupt);
        }
        if let Op::Val { value, n } = op {
            for m in &mut max[idx..idx + n] {
                *m = (*m).max(value);
            }
        }
        idx += op.span();
        p += op.len();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// The opcodes as PFDEBUG DECODE prints them: `z:N`, `Z:N`, `v:VALUE,N`.
pub fn decode(s: &[u8]) -> String {
    let mut words = Vec::new();
    let mut p = HDR;
    while p < s.len() {
        let op = op_at(s, p);
        words.push(match op {
            Op::Zeros { n, bytes: 1 } => format!("z:{n}"),
            Op::Zeros { n, .. } => format!("Z:{n}"),
            Op::Val { value, n } => format!("v:{value},{n}"),
        });
        p += op.len();
    }
    words.join(" ")
}
