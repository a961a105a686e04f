//! Ziplists: the pre-7.0 compact encoding (lists, hashes, zsets, quicklist nodes). Read-only:
//! Redis 7.0 still loads them but never writes them.
//!
//! Layout: `<zlbytes u32 LE><zltail u32 LE><zllen u16 LE, 65535 = unknown><entries...><0xff>`.
//! Entry: `<prevlen: 1 byte, or 0xfe + u32 LE><encoding><data>`.

use crate::listpack::Elem;
use crate::Error;

const HEADER: usize = 10;
const END: u8 = 0xff;
const BIG_PREVLEN: u8 = 0xfe;

pub(crate) fn parse(zl: &[u8]) -> Result<Vec<Elem<'_>>, Error> {
    if zl.len() < HEADER + 1 {
        return Err(Error::new(0, "ziplist too short"));
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    if total != zl.len() {
        return Err(Error::new(0, format!("ziplist header says {total} bytes, blob has {}", zl.len())));
    }
    let tail = u32::from_le_bytes([zl[4], zl[5], zl[6], zl[7]]) as usize;
    if tail >= zl.len() {
        return Err(Error::new(4, "ziplist tail offset out of range"));
    }
    let count = u16::from_le_bytes([zl[8], zl[9]]);
    let mut out = Vec::with_capacity(usize::from(count).min(zl.len()));
    let mut pos = HEADER;
    let mut prev_len = 0;
    loop {
        let Some(&b) = zl.get(pos) else {
            return Err(Error::new(pos, "ziplist missing terminator"));
        };
        if b == END {
            if pos + 1 != zl.len() {
                return Err(Error::new(pos, "ziplist has bytes after terminator"));
            }
            break;
        }
        let (elem, len) = entry(zl, pos)?;
        let stored_prev = if b == BIG_PREVLEN {
            u32::from_le_bytes([zl[pos + 1], zl[pos + 2], zl[pos + 3], zl[pos + 4]]) as usize
        } else {
            usize::from(b)
        };
        if stored_prev != prev_len {
            return Err(Error::new(pos, "ziplist prevlen does not match previous entry"));
        }
        out.push(elem);
        prev_len = len;
        pos += len;
    }
    if count != u16::MAX && usize::from(count) != out.len() {
        return Err(Error::new(8, format!("ziplist header count {count}, found {} entries", out.len())));
    }
    Ok(out)
}

/// Decodes the entry at `pos`: its element and total size (prevlen + encoding + data).
fn entry(zl: &[u8], pos: usize) -> Result<(Elem<'_>, usize), Error> {
    let truncated = || Error::new(pos, "ziplist entry truncated");
    let prevlen_size = if zl[pos] == BIG_PREVLEN { 5 } else { 1 };
    let enc_at = pos + prevlen_size;
    let &enc = zl.get(enc_at).ok_or_else(truncated)?;
    let bytes = |from: usize, n: usize| zl.get(from..from + n).ok_or_else(truncated);
    let string = |header: usize, len: usize| -> Result<(Elem<'_>, usize), Error> {
        let s = bytes(enc_at + header, len)?;
        Ok((Elem::Str(s), prevlen_size + header + len))
    };
    let int = |n: usize| -> Result<(Elem<'_>, usize), Error> {
        let raw = bytes(enc_at + 1, n)?;
        let mut v: i64 = 0;
        for (i, &b) in raw.iter().enumerate() {
            v |= i64::from(b) << (8 * i);
        }
        let shift = 64 - 8 * n as u32;
        Ok((Elem::Int((v << shift) >> shift), prevlen_size + 1 + n))
    };
    match enc {
        0x00..=0x3f => string(1, usize::from(enc)),
        // String lengths in ziplists are big-endian, unlike everything else in them.
        0x40..=0x7f => string(2, usize::from(enc & 0x3f) << 8 | usize::from(bytes(enc_at + 1, 1)?[0])),
        // Only 0x80 is written; Redis ignores the low six bits when reading.
        0x80..=0xbf => {
            let l = bytes(enc_at + 1, 4)?;
            string(5, u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
        }
        0xc0 => int(2),
        0xd0 => int(4),
        0xe0 => int(8),
        0xf0 => int(3),
        0xfe => int(1),
        // 4-bit immediate 1..13 stands for 0..12.
        0xf1..=0xfd => Ok((Elem::Int(i64::from(enc & 0x0f) - 1), prevlen_size + 1)),
        _ => Err(Error::new(enc_at, format!("invalid ziplist encoding byte {enc:#04x}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Assembles a ziplist from raw entry bodies (encoding + data), filling in prevlens and
    /// the header, so tests spell out each encoding byte by byte.
    pub(crate) fn assemble(bodies: &[Vec<u8>]) -> Vec<u8> {
        let mut zl = vec![0u8; HEADER];
        let mut prev = 0usize;
        let mut tail = HEADER;
        for body in bodies {
            tail = zl.len();
            let start = zl.len();
            if prev < 254 {
                zl.push(prev as u8);
            } else {
                zl.push(BIG_PREVLEN);
                zl.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            zl.extend_from_slice(body);
            prev = zl.len() - start;
        }
        zl.push(END);
        let total = zl.len() as u32;
        zl[0..4].copy_from_slice(&total.to_le_bytes());
        zl[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
        zl[8..10].copy_from_slice(&(bodies.len() as u16).to_le_bytes());
        zl
    }

    #[test]
    fn every_encoding() {
        let long = vec![b'L'; 300];
        let mut str14 = vec![0x40 | 0x01, 0x2c];
        str14.extend_from_slice(&long);
        let huge = vec![b'H'; 20000];
        let mut str32 = vec![0x80, 0, 0, 0x4e, 0x20];
        str32.extend_from_slice(&huge);
        let bodies = vec![
            vec![0x03, b'a', b'b', b'c'],
            str14,
            str32,
            vec![0xfe, 0x80],                                           // int8 -128
            vec![0xc0, 0x00, 0x80],                                     // int16 -32768
            vec![0xf0, 0xff, 0xff, 0x7f],                               // int24 8388607
            vec![0xd0, 0x00, 0x00, 0x00, 0x80],                         // int32 min
            vec![0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // int64 max
            vec![0xf1],                                                 // immediate 0
            vec![0xfd],                                                 // immediate 12
        ];
        let zl = assemble(&bodies);
        let got = parse(&zl).unwrap();
        assert_eq!(
            got,
            vec![
                Elem::Str(b"abc"),
                Elem::Str(&long),
                Elem::Str(&huge),
                Elem::Int(-128),
                Elem::Int(-32768),
                Elem::Int(8_388_607),
                Elem::Int(i32::MIN as i64),
                Elem::Int(i64::MAX),
                Elem::Int(0),
                Elem::Int(12),
            ]
        );
    }

    #[test]
    fn rejects_corruption() {
        let zl = assemble(&[vec![0x01, b'x'], vec![0xf2]]);
        assert_eq!(parse(&zl).unwrap().len(), 2);
        let mut bad = zl.clone();
        bad[13] = 9; // prevlen of the second entry
        assert_eq!(parse(&bad).unwrap_err().offset, 13);
        let mut bad = zl.clone();
        bad[11] = 0xc5; // invalid encoding
        assert_eq!(parse(&bad).unwrap_err().offset, 11);
        let mut bad = zl.clone();
        bad[11] = 0x3f; // string runs past the end
        assert!(parse(&bad).is_err());
        let mut bad = zl;
        bad[8] = 5;
        assert!(parse(&bad).is_err());
    }
}
