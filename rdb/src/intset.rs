//! Intsets: sorted arrays of same-width integers, the encoding of small all-integer sets.
//! Layout: `<width u32 LE: 2, 4 or 8><count u32 LE><count little-endian integers>`.

use crate::Error;

pub(crate) fn parse(blob: &[u8]) -> Result<Vec<i64>, Error> {
    if blob.len() < 8 {
        return Err(Error::new(0, "intset too short"));
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(Error::new(0, format!("invalid intset width {width}")));
    }
    let count = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    let body = &blob[8..];
    if count.checked_mul(width) != Some(body.len()) {
        return Err(Error::new(4, format!("intset of {count} x {width} bytes does not fit {} bytes", body.len())));
    }
    let mut out: Vec<i64> = Vec::with_capacity(count);
    for (i, chunk) in body.chunks_exact(width).enumerate() {
        let v = match width {
            2 => i64::from(i16::from_le_bytes([chunk[0], chunk[1]])),
            4 => i64::from(i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])),
            _ => i64::from_le_bytes(chunk.try_into().expect("chunks_exact(8)")),
        };
        // Redis binary-searches intsets, so anything unsorted or duplicated is corrupt.
        if out.last().is_some_and(|&last| last >= v) {
            return Err(Error::new(8 + i * width, "intset not strictly ascending"));
        }
        out.push(v);
    }
    Ok(out)
}

/// Builds an intset from sorted, distinct values using the narrowest width that fits all.
pub(crate) fn build(sorted: &[i64]) -> Vec<u8> {
    let (lo, hi) = (sorted.first().copied().unwrap_or(0), sorted.last().copied().unwrap_or(0));
    let width: usize = if i16::try_from(lo).is_ok() && i16::try_from(hi).is_ok() {
        2
    } else if i32::try_from(lo).is_ok() && i32::try_from(hi).is_ok() {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + sorted.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &v in sorted {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(build(&[-2, 1, 300]), [2, 0, 0, 0, 3, 0, 0, 0, 0xfe, 0xff, 1, 0, 0x2c, 1]);
        for set in [vec![-5, 0, 32767], vec![-40000, 1, 70000], vec![i64::MIN, 0, i64::MAX], vec![]] {
            assert_eq!(parse(&build(&set)).unwrap(), set);
        }
        assert_eq!(build(&[1, 70000])[0], 4);
        assert_eq!(build(&[1, 1 << 40])[0], 8);
    }

    #[test]
    fn rejects_corruption() {
        assert!(parse(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(parse(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0]).is_err());
        assert!(parse(&[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(parse(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 5, 0]).unwrap_err().offset, 10);
    }
}
