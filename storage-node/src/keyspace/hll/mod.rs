//! HyperLogLog on plain strings in Redis's `HYLL` format (`hyperloglog.c`), byte for byte:
//! a 16-byte header (magic `HYLL`, encoding, three unused bytes, the cached cardinality in
//! little endian whose top bit marks it stale), then either 16384 packed 6-bit registers
//! (dense) or their run-length code (sparse, see [`sparse`]). Elements hash with
//! MurmurHash64A; the count is Ertl's estimator from the register histogram, as Redis 7.0
//! computes it, so PFCOUNT answers the same numbers and caches the same bytes.

pub mod sparse;

/// Header length.
pub const HDR: usize = 16;
/// Bits of the hash that pick a register.
const P: u32 = 14;
/// Bits of the hash left for the run of zeros.
const Q: usize = 64 - P as usize;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Length of a dense HLL string.
pub const DENSE_SIZE: usize = HDR + REGISTERS * 6 / 8;
/// Encoding byte of the dense form.
pub const DENSE: u8 = 0;
/// Encoding byte of the sparse form.
pub const SPARSE: u8 = 1;
/// MurmurHash64A seed Redis hashes elements with.
const SEED: u64 = 0xadc83b19;
/// 0.5 / ln(2), the estimator's constant for an infinite number of registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The value is an HLL by its header but its registers do not decode (Redis's INVALIDOBJ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// Whether a string passes Redis's HLL check (`isHLLObjectOrReply`): magic, a known
/// encoding, and the exact length when dense.
pub fn is_hll(s: &[u8]) -> bool {
    s.len() >= HDR && &s[..4] == b"HYLL" && s[4] <= SPARSE && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

/// Whether a (valid) HLL string uses the sparse encoding.
pub fn is_sparse(s: &[u8]) -> bool {
    s[4] == SPARSE
}

/// MurmurHash2, 64-bit version, reading words little-endian as Redis does on every platform.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate().rev() {
            h ^= (*b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the length of its `00..1` pattern (1..=51).
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // The sentinel bit bounds the run at Q zeros.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Register `i` of packed 6-bit registers (least significant bits first). The last register
/// reads a byte past the array, which Redis finds as the string's terminating NUL.
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let (byte, fb) = (i * 6 / 8, (i * 6) & 7);
    let b0 = regs[byte] as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

/// Sets register `i` of packed 6-bit registers to `v` (at most 63).
pub fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let (byte, fb) = (i * 6 / 8, (i * 6) & 7);
    let v = v as u32;
    regs[byte] &= !(63u32 << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next &= !(63u32 >> (8 - fb)) as u8;
        *next |= (v >> (8 - fb)) as u8;
    }
}

/// Raises dense register `i` to `count`; true when it changed.
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

/// An empty HLL, as PFADD and PFMERGE create it (sparse).
pub fn empty() -> Vec<u8> {
    sparse::empty()
}

/// Marks the cached cardinality stale.
pub fn invalidate_cache(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// The cached cardinality, when it is not stale.
pub fn cached(s: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes([s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]]);
    (s[15] & 0x80 == 0).then_some(card)
}

/// Adds one element; true when a register changed. A sparse HLL turns dense when a value
/// passes 32 or the string would pass `max_bytes` (`hll-sparse-max-bytes`).
pub fn add(s: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    raise(s, index, count, max_bytes)
}

/// Raises register `index` to `count` in either encoding; true when it changed.
pub fn raise(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    match s[4] {
        DENSE => Ok(dense_raise(&mut s[HDR..], index, count)),
        SPARSE => match sparse::set(s, index, count, max_bytes)? {
            sparse::SetResult::Unchanged => Ok(false),
            sparse::SetResult::Updated => Ok(true),
            sparse::SetResult::Promote => {
                *s = sparse::to_dense(s)?;
                Ok(dense_raise(&mut s[HDR..], index, count))
            }
        },
        _ => Err(Corrupt),
    }
}

/// Converts a sparse HLL to dense in place; true when it was sparse.
pub fn to_dense(s: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if s[4] != SPARSE {
        return Ok(false);
    }
    *s = sparse::to_dense(s)?;
    Ok(true)
}

/// Every register's value (the HLL must be dense).
pub fn registers(s: &[u8]) -> Vec<u8> {
    (0..REGISTERS).map(|i| dense_get(&s[HDR..], i)).collect()
}

/// PFCOUNT of one key: the cached cardinality, or a fresh count that is then cached in the
/// string. Returns the count and whether the string changed.
pub fn cardinality(s: &mut [u8]) -> Result<(u64, bool), Corrupt> {
    if let Some(card) = cached(s) {
        return Ok((card, false));
    }
    let (histo, valid) = histogram(s);
    if !valid {
        return Err(Corrupt);
    }
    let card = estimate(&histo);
    s[8..16].copy_from_slice(&card.to_le_bytes());
    Ok((card, true))
}

/// The register histogram and whether the registers decoded (a dense HLL always does).
fn histogram(s: &[u8]) -> ([u64; 64], bool) {
    let mut histo = [0u64; 64];
    if s[4] == SPARSE {
        let valid = sparse::histogram(s, &mut histo);
        return (histo, valid);
    }
    for i in 0..REGISTERS {
        histo[dense_get(&s[HDR..], i) as usize] += 1;
    }
    (histo, true)
}

/// Raises `max[i]` to register `i` of an HLL (`hllMerge`).
pub fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), Corrupt> {
    if s[4] == SPARSE {
        return sparse::merge_into(max, s);
    }
    for (i, m) in max.iter_mut().enumerate() {
        *m = (*m).max(dense_get(&s[HDR..], i));
    }
    Ok(())
}

/// The estimate for registers held one per byte (PFCOUNT of several keys).
pub fn count_registers(regs: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u64; 64];
    for &r in regs.iter() {
        histo[(r & 63) as usize] += 1;
    }
    estimate(&histo)
}

/// Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
/// sketches", arXiv:1702.01284) in Redis's order of floating-point operations.
fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    c_cardinality(ALPHA_INF * m * m / z)
}

/// `(uint64_t)(double)llroundl(e)` as Redis's x86-64 build evaluates it: halves round away
/// from zero, an estimate out of `long long`'s range (an infinite one, when no register is
/// below 51) becomes LLONG_MIN, whose conversion to unsigned gives 2^63.
fn c_cardinality(e: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    let r = e.round();
    let ll = if r.is_finite() && (-TWO63..TWO63).contains(&r) { r as i64 } else { i64::MIN };
    let d = ll as f64;
    if d >= TWO63 {
        ((d - TWO63) as i64 as u64) ^ (1 << 63)
    } else {
        d as i64 as u64
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// PFSELFTEST: packed registers read back what was written, and a dense and a sparse HLL
/// fed the same 10 million elements agree and stay within six standard errors. `Err` holds
/// Redis's TESTFAILED text.
pub fn selftest(max_bytes: usize, mut rand: impl FnMut() -> u64) -> Result<(), String> {
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut expect = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, e) in expect.iter_mut().enumerate() {
            *e = (rand() & 63) as u8;
            dense_set(&mut regs, i, *e);
        }
        for (i, e) in expect.iter().enumerate() {
            let got = dense_get(&regs, i);
            if got != *e {
                return Err(format!("TESTFAILED Register {i} should be {e} but is {got}"));
            }
        }
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    let mut sparse = empty();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed = rand();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_le_bytes();
        let (index, count) = pattern(&ele);
        dense_raise(&mut dense[HDR..], index, count);
        let _ = add(&mut sparse, &ele, max_bytes);
        if j != checkpoint {
            continue;
        }
        if (j as usize) < max_bytes / 2 && sparse[4] != SPARSE {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = estimate(&histogram(&dense).0);
        if card != estimate(&histogram(&sparse).0) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        let maxerr = if j == 10 { 1 } else { (relerr * 6.0 * checkpoint as f64).ceil() as u64 };
        if abserr > maxerr {
            return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
