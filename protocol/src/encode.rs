//! Reply encoding for a connection in RESP2 or RESP3 (chosen by `HELLO`): RESP3 types degrade
//! to their RESP2 forms (maps and sets to arrays, doubles to bulk strings, null to `$-1`).

use bytes::{BufMut, BytesMut};

/// The protocol version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Resp2,
    Resp3,
}

/// Writes a signed integer in decimal without going through `fmt`.
pub fn write_int(out: &mut BytesMut, n: i64) {
    let mut buf = [0u8; 20];
    let end = buf.len();
    let i = digits_before(&mut buf, end, n.unsigned_abs());
    if n < 0 {
        out.put_u8(b'-');
    }
    out.put_slice(&buf[i..]);
}

/// Writes the decimal digits of `n` into `buf` so that they end just before `end`; returns
/// where they start.
fn digits_before(buf: &mut [u8], end: usize, mut n: u64) -> usize {
    let mut i = end;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

/// Appends a command as clients send it: a multibulk of bulk strings. The node's replication
/// stream and AOF, MIGRATE, and the proxy's requests to nodes all use this one encoder.
pub fn write_command<A: AsRef<[u8]>>(out: &mut BytesMut, args: &[A]) {
    out.reserve(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    write_command_of(out, args.len(), args.iter().map(AsRef::as_ref));
}

/// `write_command` for `count` arguments picked out of a larger request without collecting
/// them (the proxy's per-slot parts of MSET or MGET).
pub fn write_command_of<'a>(out: &mut BytesMut, count: usize, args: impl Iterator<Item = &'a [u8]>) {
    write_header(out, b'*', count);
    for a in args {
        write_header(out, b'$', a.len());
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

/// `<kind><n>\r\n` in one append: a request has one per argument, so the header is built on
/// the stack rather than in three appends.
fn write_header(out: &mut BytesMut, kind: u8, n: usize) {
    let mut buf = [0u8; 24];
    let end = buf.len() - 2;
    buf[end..].copy_from_slice(b"\r\n");
    let i = digits_before(&mut buf, end, n as u64) - 1;
    buf[i] = kind;
    out.put_slice(&buf[i..]);
}

/// Formats a double as Redis replies it: `inf`, `-inf`, `nan`, integers without a fraction, and
/// otherwise the shortest text that reads back as the same value.
pub fn write_f64(out: &mut BytesMut, d: f64) {
    out.put_slice(format_f64(d).as_bytes());
}

/// A double as C's `%.17g` prints it: how Redis 7.0 replies scores (`0.10000000000000001`,
/// `1e+20`, `inf`).
pub fn format_g17(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Whole numbers below 1e17 have at most 17 digits: %.17g prints them exactly, as an integer
    // does (the common case of scores, and far cheaper than exact formatting).
    if d.fract() == 0.0 && d.abs() < 1e17 {
        return (d as i64).to_string();
    }
    g17_exact(d)
}

/// `%.17g` of a finite non-zero double, by exact decimal formatting.
fn g17_exact(d: f64) -> String {
    let sci = format!("{d:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let m = trim_fraction(mantissa);
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let decimals = (16 - exp).max(0) as usize;
        trim_fraction(&format!("{d:.decimals$}")).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A double as Redis prints INCRBYFLOAT/HINCRBYFLOAT results (long double, `%.17Lf`, trailing
/// zeros trimmed). We compute in f64, so a result within rounding noise of a 15-digit decimal is
/// printed as that decimal, as the extra precision of a long double would print it.
pub fn format_human(d: f64) -> String {
    if !d.is_finite() {
        return format_f64(d);
    }
    let short = format!("{:.14e}", d);
    let rounded: f64 = short.parse().unwrap_or(d);
    let ulps = (rounded.to_bits() as i64 - d.to_bits() as i64).abs();
    format_f64(if ulps <= 4 { rounded } else { d })
}

/// Text form of a double: integers without a fraction, otherwise the shortest text that reads
/// back as the same value, never in exponent form.
pub fn format_f64(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else if d == d.trunc() && d.abs() < 1e17 {
        format!("{}", d as i64)
    } else {
        format!("{d}")
    }
}

/// An output buffer plus the protocol version its replies are encoded in.
#[derive(Debug, Default)]
pub struct Reply {
    pub buf: BytesMut,
    pub proto: Proto,
}

impl Reply {
    /// An empty RESP2 reply buffer.
    pub fn new() -> Self {
        Self::default()
    }

    fn header(&mut self, tag: u8, n: usize) {
        self.buf.put_u8(tag);
        write_int(&mut self.buf, n as i64);
        self.buf.put_slice(b"\r\n");
    }

    /// A container's HELP reply, as Redis shapes it: a header, `lines`, then HELP itself.
    pub fn help(&mut self, container: &str, lines: &[&str]) {
        self.array(lines.len() + 3);
        self.simple(&format!("{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
        for l in lines {
            self.simple(l);
        }
        self.simple("HELP");
        self.simple("    Prints this help.");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// A status reply; line breaks are replaced so the frame stays valid.
    pub fn simple(&mut self, s: &str) {
        self.buf.put_u8(b'+');
        self.put_line_safe(s.as_bytes());
    }

    /// An error reply; `msg` carries its code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, msg: &str) {
        self.buf.put_u8(b'-');
        self.put_line_safe(msg.as_bytes());
    }

    fn put_line_safe(&mut self, s: &[u8]) {
        if s.iter().any(|&b| b == b'\r' || b == b'\n') {
            for &b in s {
                self.buf.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
            }
        } else {
            self.buf.put_slice(s);
        }
        self.buf.put_slice(b"\r\n");
    }

    /// An integer reply.
    pub fn int(&mut self, n: i64) {
        self.buf.put_u8(b':');
        write_int(&mut self.buf, n);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string.
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len());
        self.buf.put_slice(b);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        let mut tmp = BytesMut::with_capacity(20);
        write_int(&mut tmp, n);
        self.bulk(&tmp);
    }

    /// A null bulk string (`$-1` / `_`).
    pub fn null(&mut self) {
        self.buf.put_slice(if self.proto == Proto::Resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        self.buf.put_slice(if self.proto == Proto::Resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// An array header of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// A map header of `n` pairs (a flat array of `2n` in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.proto == Proto::Resp3 {
            self.header(b'%', n)
        } else {
            self.header(b'*', n * 2)
        }
    }

    /// A set header (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        self.header(if self.proto == Proto::Resp3 { b'~' } else { b'*' }, n);
    }

    /// A push header (an array in RESP2).
    pub fn push(&mut self, n: usize) {
        self.header(if self.proto == Proto::Resp3 { b'>' } else { b'*' }, n);
    }

    /// A double (`,` in RESP3, a bulk string in RESP2), printed as Redis 7.0 does (`%.17g`).
    pub fn double(&mut self, d: f64) {
        let s = format_g17(d);
        if self.proto == Proto::Resp3 {
            self.buf.put_u8(b',');
            self.buf.put_slice(s.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean (`#t`/`#f` in RESP3, `:1`/`:0` in RESP2).
    pub fn boolean(&mut self, b: bool) {
        if self.proto == Proto::Resp3 {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A verbatim text string (`=` with `txt` in RESP3, a bulk string in RESP2), as INFO replies.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.proto == Proto::Resp3 {
            self.header(b'=', text.len() + 4);
            self.buf.put_slice(b"txt:");
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Bytes already encoded elsewhere.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.put_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_multibulks_of_bulk_strings() {
        let mut b = BytesMut::new();
        write_command(&mut b, &[&b"SET"[..], b"", b"0123456789ab"]);
        assert_eq!(&b[..], b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$12\r\n0123456789ab\r\n");
        let long = vec![b'x'; 123_456];
        let mut b = BytesMut::new();
        write_command(&mut b, &[long.as_slice()]);
        assert!(b.starts_with(b"*1\r\n$123456\r\nxxx"));
        assert!(b.ends_with(b"xxx\r\n"));
        assert_eq!(b.len(), 4 + 9 + 123_456 + 2);
    }

    #[test]
    fn ints() {
        for n in [0i64, 1, -1, 42, i64::MAX, i64::MIN, 1000000] {
            let mut b = BytesMut::new();
            write_int(&mut b, n);
            assert_eq!(&b[..], n.to_string().as_bytes());
        }
    }

    #[test]
    fn doubles() {
        assert_eq!(format_f64(10.5), "10.5");
        assert_eq!(format_f64(3.0), "3");
        assert_eq!(format_f64(-0.25), "-0.25");
        assert_eq!(format_f64(f64::INFINITY), "inf");
        assert_eq!(format_f64(5e20), "500000000000000000000");
        // Redis 7.0's %.17g replies, as redis-server printed them.
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(3.0), "3");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(0.30000000000000004), "0.30000000000000004");
        assert_eq!(format_g17(1e-5), "1.0000000000000001e-05");
        assert_eq!(format_g17(123456789.123), "123456789.123");
        assert_eq!(format_g17(-2.5), "-2.5");
        assert_eq!(format_g17(1e16), "10000000000000000");
        assert_eq!(format_g17(99999999999999984.0), "99999999999999984");
        assert_eq!(format_g17(1e17), "1e+17");
        // The integer shortcut agrees with exact formatting.
        let mut x = 1u64;
        for _ in 0..2000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            for d in [(x >> 11) as f64, -((x >> 20) as f64), (x % 100_000) as f64 + 1.0, ((x >> 7) % (1 << 57)) as f64]
            {
                if d != 0.0 && d.abs() < 1e17 {
                    assert_eq!(format_g17(d), g17_exact(d), "{d}");
                }
            }
        }
        // Long-double style results of INCRBYFLOAT.
        assert_eq!(format_human(0.1 + 0.2), "0.3");
        assert_eq!(format_human(1.5 + 0.1), "1.6");
        assert_eq!(format_human(10.5 + 0.1), "10.6");
        assert_eq!(format_human(5200.0), "5200");
    }

    #[test]
    fn resp2_vs_resp3() {
        let mut r = Reply::new();
        r.map(1);
        r.null();
        r.double(1.5);
        assert_eq!(&r.buf[..], b"*2\r\n$-1\r\n$3\r\n1.5\r\n");
        let mut r = Reply { proto: Proto::Resp3, ..Default::default() };
        r.map(1);
        r.null();
        r.double(1.5);
        r.error("ERR bad\r\nthing");
        assert_eq!(&r.buf[..], b"%1\r\n_\r\n,1.5\r\n-ERR bad  thing\r\n");
    }
}
