//! LZF, the compression RDB uses for strings and container blobs.
//!
//! A stream is a sequence of chunks, each starting with a control byte `c`:
//! - `c < 32`: a literal run of `c + 1` bytes follows;
//! - otherwise a back-reference: length `(c >> 5) + 2` (when `c >> 5 == 7`, one extra length
//!   byte is added), then a low distance byte; distance = `((c & 0x1f) << 8) + low + 1`.

use crate::Error;

const MAX_LITERAL: usize = 32;
const MAX_DISTANCE: usize = 1 << 13;
/// 7 (short form) + 255 (extra byte) + 2 (implicit minimum).
const MAX_MATCH: usize = 264;
const HASH_BITS: u32 = 14;

/// The best case is a 3-byte long back-reference expanding to 264 bytes, so no valid stream
/// inflates by more than this. Used to reject absurd declared lengths before allocating.
pub(crate) const MAX_EXPANSION: usize = 88;

/// Decompresses `input`, which must expand to exactly `out_len` bytes. Error offsets are
/// positions within `input`.
pub(crate) fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, Error> {
    if out_len > input.len().saturating_mul(MAX_EXPANSION) {
        return Err(Error::new(0, format!("LZF length {out_len} impossible for {} compressed bytes", input.len())));
    }
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        let chunk_at = ip;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run).ok_or_else(|| Error::new(chunk_at, "LZF literal run truncated"))?;
            if out.len() + run > out_len {
                return Err(Error::new(chunk_at, "LZF output overflows declared length"));
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or_else(|| Error::new(chunk_at, "LZF back-reference truncated"))? as usize;
                ip += 1;
            }
            let low = *input.get(ip).ok_or_else(|| Error::new(chunk_at, "LZF back-reference truncated"))? as usize;
            ip += 1;
            let distance = ((ctrl & 0x1f) << 8) + low + 1;
            len += 2;
            if distance > out.len() {
                return Err(Error::new(chunk_at, "LZF back-reference before start of output"));
            }
            if out.len() + len > out_len {
                return Err(Error::new(chunk_at, "LZF output overflows declared length"));
            }
            // The source may overlap the bytes being produced (a run with period `distance`):
            // copying what exists so far from `start` doubles the copyable span each round.
            let start = out.len() - distance;
            let mut remaining = len;
            while remaining > 0 {
                let n = remaining.min(out.len() - start);
                out.extend_from_within(start..start + n);
                remaining -= n;
            }
        }
    }
    if out.len() != out_len {
        return Err(Error::new(input.len(), format!("LZF data expands to {} bytes, expected {out_len}", out.len())));
    }
    Ok(out)
}

/// Compresses `input`, returning `None` unless the result is at least 4 bytes smaller (the
/// same bar Redis sets: below it the length header overhead eats the gain).
pub(crate) fn compress(input: &[u8]) -> Option<Vec<u8>> {
    if input.len() <= 4 {
        return None;
    }
    let limit = input.len() - 4;
    let mut out = Vec::with_capacity(limit);
    // Most recent position (+1, 0 = empty) of each hashed 3-byte sequence.
    let mut table = vec![0u32; 1 << HASH_BITS];
    let hash = |p: &[u8]| {
        let v = u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]);
        (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
    };
    let mut lit_start = 0;
    let mut i = 0;
    while i + 2 < input.len() {
        let h = hash(&input[i..]);
        let candidate = table[h] as usize;
        table[h] = (i + 1) as u32;
        if candidate > 0 {
            let r = candidate - 1;
            let distance = i - r;
            if distance <= MAX_DISTANCE && input[r..r + 3] == input[i..i + 3] {
                let max = (input.len() - i).min(MAX_MATCH);
                let mut len = 3;
                while len < max && input[r + len] == input[i + len] {
                    len += 1;
                }
                emit_literals(&mut out, &input[lit_start..i]);
                let (l, off) = (len - 2, distance - 1);
                if l < 7 {
                    out.push(((l << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                if out.len() > limit {
                    return None;
                }
                i += len;
                lit_start = i;
                continue;
            }
        }
        i += 1;
    }
    emit_literals(&mut out, &input[lit_start..]);
    (out.len() <= limit).then_some(out)
}

fn emit_literals(out: &mut Vec<u8>, mut lit: &[u8]) {
    while !lit.is_empty() {
        let n = lit.len().min(MAX_LITERAL);
        out.push((n - 1) as u8);
        out.extend_from_slice(&lit[..n]);
        lit = &lit[n..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_hand_built_stream() {
        // literal "ab", then back-reference distance 2 length 6 => "abababab".
        let stream = [0x01, b'a', b'b', (4 << 5), 0x01];
        assert_eq!(decompress(&stream, 8).unwrap(), b"abababab");
        // Long form: length byte 7 + extra 10 + 2 = 19 copies of the previous byte.
        let stream = [0x00, b'x', 7 << 5, 10, 0x00];
        assert_eq!(decompress(&stream, 20).unwrap(), vec![b'x'; 20]);
    }

    #[test]
    fn rejects_bad_streams() {
        assert!(decompress(&[0x05, b'a'], 6).is_err()); // truncated literal
        assert!(decompress(&[0x20, 0x00], 3).is_err()); // reference before output start
        assert!(decompress(&[0x00, b'a'], 2).is_err()); // short of declared length
        assert!(decompress(&[0x01, b'a', b'b'], 1).is_err()); // overflows declared length
        assert!(decompress(&[0x00], usize::MAX).is_err()); // absurd length, no allocation
        let err = decompress(&[0x00, b'a', 0x20], 5).unwrap_err();
        assert_eq!(err.offset, 2);
    }

    #[test]
    fn round_trips() {
        let samples: Vec<Vec<u8>> = vec![
            vec![b'a'; 1000],
            b"hello hello hello hello hello world".to_vec(),
            (0..20000u32).map(|i| (i % 251) as u8).collect(),
            (0..5000u32).flat_map(|i| i.to_string().into_bytes()).collect(),
        ];
        for s in samples {
            let c = compress(&s).expect("compressible");
            assert!(c.len() <= s.len() - 4);
            assert_eq!(decompress(&c, s.len()).unwrap(), s);
        }
    }

    #[test]
    fn incompressible_is_none() {
        let mut x = 0x1234_5678u32;
        let noise: Vec<u8> = (0..300)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert!(compress(&noise).is_none());
        assert!(compress(b"abcd").is_none());
    }
}
