//! Writing RDB primitives: lengths, strings (with Redis's integer and LZF encodings), doubles.

use crate::lzf;

/// Redis only tries LZF on strings longer than this; shorter ones cannot gain enough.
const LZF_MIN_LEN: usize = 20;

pub(crate) fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `s` as an i64 if it is the exact decimal form Redis would print for it (no sign on zero,
/// no leading zeros or plus, no spaces): only those may be stored as integers, since decoding
/// must reproduce the same bytes.
pub(crate) fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let v: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    let mut buf = [0u8; 20];
    (format_i64(v, &mut buf) == s).then_some(v)
}

fn format_i64(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// A string as Redis writes it: small canonical integers in 1/2/4 bytes, long strings
/// LZF-compressed when that pays off, everything else raw.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(v) = canonical_int(s) {
            if let Ok(v) = i8::try_from(v) {
                out.extend_from_slice(&[0xc0, v as u8]);
                return;
            } else if let Ok(v) = i16::try_from(v) {
                out.push(0xc1);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            } else if let Ok(v) = i32::try_from(v) {
                out.push(0xc2);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    if s.len() > LZF_MIN_LEN {
        if let Some(c) = lzf::compress(s) {
            out.push(0xc3);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

pub(crate) fn write_double_bin(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A score as text for listpack zsets, which Redis parses back with `strtod`. Integral values
/// become integers (so the listpack stores them compactly); otherwise the shorter of Rust's
/// shortest round-trip forms, plain or exponent (`1e-300` rather than 300 zeros).
pub(crate) fn format_score(v: f64) -> Vec<u8> {
    if v.is_infinite() {
        return if v > 0.0 { b"inf".to_vec() } else { b"-inf".to_vec() };
    }
    // 2^53 bounds the range where every integer-valued double is exactly an i64 we can print.
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 && !(v == 0.0 && v.is_sign_negative()) {
        return (v as i64).to_string().into_bytes();
    }
    let plain = format!("{v}");
    let exp = format!("{v:e}");
    if exp.len() < plain.len() {
        exp.into_bytes()
    } else {
        plain.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::{parse_f64, Cursor};

    #[test]
    fn length_forms() {
        let cases: [(u64, &[u8]); 7] = [
            (0, &[0x00]),
            (63, &[0x3f]),
            (64, &[0x40, 0x40]),
            (16383, &[0x7f, 0xff]),
            (16384, &[0x80, 0x00, 0x00, 0x40, 0x00]),
            (u32::MAX as u64, &[0x80, 0xff, 0xff, 0xff, 0xff]),
            (1 << 32, &[0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        ];
        for (n, bytes) in cases {
            let mut out = Vec::new();
            write_len(&mut out, n);
            assert_eq!(out, bytes, "{n}");
            assert_eq!(Cursor::new(bytes).length().unwrap(), n);
        }
        // 0x82..0xbf are not valid lengths; a special encoding is not a length.
        assert!(Cursor::new(&[0x82]).length().is_err());
        assert!(Cursor::new(&[0xc0, 1]).length().is_err());
        assert_eq!(Cursor::new(&[0x80, 1]).length().unwrap_err().offset, 1);
    }

    #[test]
    fn canonical_ints() {
        for ok in ["0", "-1", "12", "9223372036854775807", "-9223372036854775808"] {
            assert_eq!(canonical_int(ok.as_bytes()).unwrap().to_string(), ok);
        }
        for bad in ["", "-0", "007", "+1", " 1", "1 ", "9223372036854775808", "1e3", "0x10", "-"] {
            assert_eq!(canonical_int(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn string_encodings() {
        let enc = |s: &[u8]| {
            let mut out = Vec::new();
            write_string(&mut out, s);
            out
        };
        assert_eq!(enc(b"-128"), [0xc0, 0x80]);
        assert_eq!(enc(b"127"), [0xc0, 0x7f]);
        assert_eq!(enc(b"128"), [0xc1, 0x80, 0x00]);
        assert_eq!(enc(b"-32769"), [0xc2, 0xff, 0x7f, 0xff, 0xff]);
        assert_eq!(enc(b"2147483648"), b"\x0a2147483648");
        assert_eq!(enc(b"007"), b"\x03007");
        assert_eq!(enc(b""), [0x00]);
        assert_eq!(enc(&[b'a'; 30])[0], 0xc3);
        for s in [&b"-128"[..], b"40000", b"-2147483648", b"007", b"", &[b'z'; 500]] {
            let bytes = enc(s);
            let mut c = Cursor::new(&bytes);
            assert_eq!(c.string().unwrap().into_vec(), s);
            assert_eq!(c.remaining(), 0);
        }
    }

    #[test]
    fn scores_survive_text_form() {
        for v in [0.0, -0.0, 1.0, -3.0, 0.1, 1.5, -2.25, 1e-300, 1e300, 1e20, f64::MAX, f64::MIN_POSITIVE, 1.0 / 3.0] {
            let text = format_score(v);
            let back = parse_f64(&text).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v} -> {}", String::from_utf8_lossy(&text));
        }
        assert_eq!(format_score(f64::INFINITY), b"inf");
        assert_eq!(format_score(f64::NEG_INFINITY), b"-inf");
        assert_eq!(format_score(42.0), b"42");
        assert!(format_score(1e-300).len() < 10);
    }
}
