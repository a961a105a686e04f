//! Listpacks: the compact sequence encoding behind small hashes, zsets, sets (7.2) and
//! quicklist nodes since Redis 7.0, and stream nodes. The entry encoders are public: the node
//! builds its stream nodes with them.
//!
//! Layout: `<total bytes u32 LE><count u16 LE, 65535 = unknown><entries...><0xff>`. Each entry
//! is `<encoding + data><backlen>`, where backlen stores the size of encoding + data in 1-5
//! bytes so the list can be walked backwards.

use crate::encode::canonical_int;
use crate::Error;

const HEADER: usize = 6;
const END: u8 = 0xff;
const UNKNOWN_COUNT: u16 = u16::MAX;

/// One element of a listpack or ziplist: both store integers natively.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    /// The element as bytes (integers formatted in decimal).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Str(s) => s.to_vec(),
            Elem::Int(v) => v.to_string().into_bytes(),
        }
    }

    /// The integer value; a string that is not a number reads as 0, as lpGetInteger assumes.
    pub fn int(self) -> i64 {
        match self {
            Elem::Int(v) => v,
            Elem::Str(s) => std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()).unwrap_or(0),
        }
    }

    /// Whether the element equals `b` as bytes.
    pub fn eq_bytes(self, b: &[u8]) -> bool {
        match self {
            Elem::Str(s) => s == b,
            Elem::Int(v) => canonical_int(b) == Some(v),
        }
    }

    pub fn to_f64(self) -> Option<f64> {
        match self {
            Elem::Str(s) => crate::cursor::parse_f64(s),
            Elem::Int(v) => Some(v as f64),
        }
    }
}

/// Decodes every entry, validating the header, each entry's bounds and backlen, and the
/// terminator. Error offsets are relative to `lp`.
pub(crate) fn parse(lp: &[u8]) -> Result<Vec<Elem<'_>>, Error> {
    if lp.len() < HEADER + 1 {
        return Err(Error::new(0, "listpack too short"));
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err(Error::new(0, format!("listpack header says {total} bytes, blob has {}", lp.len())));
    }
    let count = u16::from_le_bytes([lp[4], lp[5]]);
    let mut out = Vec::with_capacity(usize::from(count).min(lp.len()));
    let mut pos = HEADER;
    loop {
        let Some(&b) = lp.get(pos) else {
            return Err(Error::new(pos, "listpack missing terminator"));
        };
        if b == END {
            if pos + 1 != lp.len() {
                return Err(Error::new(pos, "listpack has bytes after terminator"));
            }
            break;
        }
        let (elem, len) = entry(lp, pos)?;
        let back_at = pos + len;
        let back_size = backlen_size(len);
        let back =
            lp.get(back_at..back_at + back_size).ok_or_else(|| Error::new(back_at, "listpack backlen truncated"))?;
        if back != encode_backlen(len).as_slice() {
            return Err(Error::new(back_at, "listpack backlen does not match entry size"));
        }
        out.push(elem);
        pos = back_at + back_size;
    }
    if count != UNKNOWN_COUNT && usize::from(count) != out.len() {
        return Err(Error::new(4, format!("listpack header count {count}, found {} entries", out.len())));
    }
    Ok(out)
}

/// Decodes the entry at `pos`: the element and the size of its encoding + data.
pub fn entry(lp: &[u8], pos: usize) -> Result<(Elem<'_>, usize), Error> {
    let bytes = |n: usize| lp.get(pos + 1..pos + 1 + n).ok_or_else(|| Error::new(pos, "listpack entry truncated"));
    let int = |n: usize| -> Result<(Elem<'_>, usize), Error> {
        let raw = bytes(n)?;
        // Little-endian, sign-extended from n bytes.
        let mut v: i64 = 0;
        for (i, &b) in raw.iter().enumerate() {
            v |= i64::from(b) << (8 * i);
        }
        let shift = 64 - 8 * n as u32;
        Ok((Elem::Int((v << shift) >> shift), 1 + n))
    };
    let string = |header: usize, len: usize| -> Result<(Elem<'_>, usize), Error> {
        let start = pos + header;
        let s = lp.get(start..start + len).ok_or_else(|| Error::new(pos, "listpack string truncated"))?;
        Ok((Elem::Str(s), header + len))
    };
    let b = *lp.get(pos).ok_or_else(|| Error::new(pos, "listpack entry truncated"))?;
    match b {
        0x00..=0x7f => Ok((Elem::Int(i64::from(b)), 1)),
        0x80..=0xbf => string(1, usize::from(b & 0x3f)),
        0xc0..=0xdf => {
            let v = i64::from(b & 0x1f) << 8 | i64::from(bytes(1)?[0]);
            // 13-bit two's complement.
            Ok((Elem::Int(if v >= 1 << 12 { v - (1 << 13) } else { v }), 2))
        }
        0xe0..=0xef => string(2, usize::from(b & 0x0f) << 8 | usize::from(bytes(1)?[0])),
        0xf0 => {
            let l = bytes(4)?;
            string(5, u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)
        }
        0xf1 => int(2),
        0xf2 => int(3),
        0xf3 => int(4),
        0xf4 => int(8),
        _ => Err(Error::new(pos, format!("invalid listpack encoding byte {b:#04x}"))),
    }
}

/// An integer entry's encoding (without its back-length), in the smallest form that holds it.
pub fn encode_int(v: i64) -> Vec<u8> {
    match v {
        0..=127 => vec![v as u8],
        -4096..=4095 => {
            let u = (v as u16) & 0x1fff;
            vec![0xc0 | (u >> 8) as u8, u as u8]
        }
        _ if i16::try_from(v).is_ok() => [&[0xf1][..], &(v as i16).to_le_bytes()].concat(),
        -8_388_608..=8_388_607 => [&[0xf2][..], &(v as i32).to_le_bytes()[..3]].concat(),
        _ if i32::try_from(v).is_ok() => [&[0xf3][..], &(v as i32).to_le_bytes()].concat(),
        _ => [&[0xf4][..], &v.to_le_bytes()].concat(),
    }
}

/// A string entry's encoding (without its back-length), with the smallest length header.
pub fn encode_str(s: &[u8]) -> Vec<u8> {
    let n = s.len();
    let mut e = Vec::with_capacity(n + 5);
    if n < 64 {
        e.push(0x80 | n as u8);
    } else if n < 4096 {
        e.extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
    } else {
        e.push(0xf0);
        e.extend_from_slice(&(n as u32).to_le_bytes());
    }
    e.extend_from_slice(s);
    e
}

/// How many bytes the back-length of an entry of `len` bytes takes.
pub fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Big-endian 7-bit groups; every byte but the first has the high bit set, which is how a
/// backwards scan knows to keep going.
pub fn encode_backlen(len: usize) -> Vec<u8> {
    let n = backlen_size(len);
    (0..n)
        .map(|i| {
            let group = ((len >> (7 * (n - 1 - i))) & 0x7f) as u8;
            if i == 0 {
                group
            } else {
                group | 0x80
            }
        })
        .collect()
}

/// Builds a listpack, encoding each element the way Redis would: canonical integers in the
/// smallest integer form, other strings with the smallest length header.
pub(crate) struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Builder {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER]);
        Builder { buf, count: 0 }
    }

    /// Size in bytes of the finished listpack.
    pub fn size(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn push(&mut self, s: &[u8]) {
        let enc = match canonical_int(s) {
            Some(v) => encode_int(v),
            None => encode_str(s),
        };
        self.buf.extend_from_slice(&enc);
        self.buf.extend_from_slice(&encode_backlen(enc.len()));
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = self.buf.len() as u32;
        let count = u16::try_from(self.count).unwrap_or(UNKNOWN_COUNT);
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(items: &[&[u8]]) -> Vec<u8> {
        let mut b = Builder::new();
        for i in items {
            b.push(i);
        }
        b.finish()
    }

    #[test]
    fn encodes_like_redis() {
        // Hand-assembled from the format description: "a", 5, -1 (13-bit), 300 (13-bit).
        let lp = build(&[b"a", b"5", b"-1", b"300"]);
        let expect = [
            0x12, 0, 0, 0, 4, 0, // header: 18 bytes, 4 entries
            0x81, b'a', 2, // 6-bit string + backlen
            0x05, 1, // 7-bit uint
            0xdf, 0xff, 2, // 13-bit -1
            0xc1, 0x2c, 2,    // 13-bit 300
            0xff, // end
        ];
        assert_eq!(lp, expect);
    }

    #[test]
    fn all_integer_widths_round_trip() {
        let ints: Vec<String> = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -4097,
            32767,
            -32768,
            32768,
            8_388_607,
            -8_388_608,
            8_388_608,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MAX,
            i64::MIN,
        ]
        .iter()
        .map(|v| v.to_string())
        .collect();
        let items: Vec<&[u8]> = ints.iter().map(|s| s.as_bytes()).collect();
        let lp = build(&items);
        let parsed = parse(&lp).unwrap();
        for (p, s) in parsed.iter().zip(&ints) {
            assert_eq!(*p, Elem::Int(s.parse().unwrap()));
        }
        assert_eq!(parsed.len(), ints.len());
    }

    #[test]
    fn strings_of_every_header_size() {
        let long12 = vec![b'x'; 4095];
        let long32 = vec![b'y'; 70000];
        let items: Vec<&[u8]> = vec![b"", b"007", &[b'q'; 63], &[b'r'; 64], &long12, &long32];
        let lp = build(&items);
        let parsed: Vec<Vec<u8>> = parse(&lp).unwrap().into_iter().map(Elem::to_vec).collect();
        assert_eq!(parsed, items.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
    }

    #[test]
    fn backlen_bytes() {
        assert_eq!(encode_backlen(5), [5]);
        assert_eq!(encode_backlen(127), [127]);
        assert_eq!(encode_backlen(128), [1, 0x80]);
        assert_eq!(encode_backlen(500), [3, 0x80 | 0x74]);
    }

    #[test]
    fn rejects_corruption() {
        let lp = build(&[b"hello", b"12"]);
        let mut bad = lp.clone();
        bad[0] += 1;
        assert_eq!(parse(&bad).unwrap_err().offset, 0);
        let mut bad = lp.clone();
        bad[4] = 3; // wrong count
        assert!(parse(&bad).is_err());
        let mut bad = lp.clone();
        *bad.last_mut().unwrap() = 0; // no terminator
        assert!(parse(&bad).is_err());
        let mut bad = lp.clone();
        bad[12] = 9; // backlen of "hello" entry
        assert_eq!(parse(&bad).unwrap_err().offset, 12);
        let mut bad = lp;
        bad[6] = 0xf7; // unknown encoding
        assert_eq!(parse(&bad).unwrap_err().offset, 6);
        let mut unknown = build(&[b"a"]);
        unknown[4..6].copy_from_slice(&[0xff, 0xff]); // count unknown is allowed
        assert_eq!(parse(&unknown).unwrap().len(), 1);
    }
}
