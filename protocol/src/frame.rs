//! A whole RESP2/RESP3 value, as replies from a server arrive (used by the proxy, replication and
//! tests), with a decoder over a byte slice and an encoder into a buffer.

use bytes::{BufMut, Bytes, BytesMut};

use crate::decode::ProtocolError;
use crate::encode::{write_f64, write_int};

/// One RESP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Simple(Bytes),
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// RESP2 `$-1`/`*-1` and RESP3 `_`.
    Null,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    Double(f64),
    Boolean(bool),
    BigNumber(Bytes),
    /// Verbatim string: format (3 bytes, e.g. `txt`) and text.
    Verbatim(Bytes, Bytes),
}

/// Where a frame header line ends (the index of `\r`), if it is complete.
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match memchr_cr(&buf[i..buf.len() - 1]) {
            Some(off) => {
                let at = i + off;
                if buf[at + 1] == b'\n' {
                    return Some(at);
                }
                i = at + 1;
            }
            None => return None,
        }
    }
    None
}

fn memchr_cr(hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == b'\r')
}

/// Parses a decimal integer the way Redis's `string2ll` accepts it.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as i64)?;
    }
    Some(if neg { -v } else { v })
}

const MAX_DEPTH: usize = 128;

impl Frame {
    /// Decodes one frame from the start of `buf`: `Ok(Some((frame, consumed)))`, `Ok(None)` when
    /// more bytes are needed.
    pub fn parse(buf: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
        parse_at(buf, 0, 0)
    }

    /// Encodes the frame in RESP3 types (RESP2 peers get the RESP2 form via `encode_resp2`).
    pub fn encode(&self, out: &mut BytesMut) {
        self.encode_with(out, true)
    }

    /// Encodes using only RESP2 types: maps and sets become arrays, doubles bulk strings.
    pub fn encode_resp2(&self, out: &mut BytesMut) {
        self.encode_with(out, false)
    }

    fn encode_with(&self, out: &mut BytesMut, resp3: bool) {
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            Frame::Error(s) => line(out, b'-', s),
            Frame::Integer(n) => {
                out.put_u8(b':');
                write_int(out, *n);
                out.put_slice(b"\r\n");
            }
            Frame::Bulk(b) => bulk(out, b),
            Frame::Null => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Frame::Array(items) => agg(out, b'*', items, resp3),
            Frame::Set(items) => agg(out, if resp3 { b'~' } else { b'*' }, items, resp3),
            Frame::Push(items) => agg(out, if resp3 { b'>' } else { b'*' }, items, resp3),
            Frame::Map(pairs) => {
                let (tag, n) = if resp3 { (b'%', pairs.len()) } else { (b'*', pairs.len() * 2) };
                header(out, tag, n);
                for (k, v) in pairs {
                    k.encode_with(out, resp3);
                    v.encode_with(out, resp3);
                }
            }
            Frame::Double(d) => {
                let mut s = BytesMut::new();
                write_f64(&mut s, *d);
                if resp3 {
                    line(out, b',', &s)
                } else {
                    bulk(out, &s)
                }
            }
            Frame::Boolean(b) => {
                if resp3 {
                    out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" })
                } else {
                    out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" })
                }
            }
            Frame::BigNumber(n) => {
                if resp3 {
                    line(out, b'(', n)
                } else {
                    bulk(out, n)
                }
            }
            Frame::Verbatim(fmt, text) => {
                if resp3 {
                    header(out, b'=', fmt.len() + 1 + text.len());
                    out.put_slice(fmt);
                    out.put_u8(b':');
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, text)
                }
            }
        }
    }
}

fn line(out: &mut BytesMut, tag: u8, s: &[u8]) {
    out.put_u8(tag);
    out.put_slice(s);
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, tag: u8, n: usize) {
    out.put_u8(tag);
    write_int(out, n as i64);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    header(out, b'$', b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn agg(out: &mut BytesMut, tag: u8, items: &[Frame], resp3: bool) {
    header(out, tag, items.len());
    for it in items {
        it.encode_with(out, resp3);
    }
}

/// Length of the complete frame at the start of `buf` without building it (`Ok(None)` when
/// more bytes are needed): lets a proxy forward replies as raw bytes.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    skip_at(buf, 0, 0)
}

fn skip_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<usize>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError::TooDeep);
    }
    if pos >= buf.len() {
        return Ok(None);
    }
    let Some(end) = line_end(buf, pos + 1) else {
        return Ok(None);
    };
    let next = end + 2;
    match buf[pos] {
        b'+' | b'-' | b':' | b'(' | b',' | b'#' | b'_' => Ok(Some(next)),
        b'$' | b'=' | b'!' => {
            let len = parse_i64(&buf[pos + 1..end]).ok_or(ProtocolError::InvalidBulkLength)?;
            if len < 0 {
                return Ok(Some(next));
            }
            let total = next + len as usize + 2;
            Ok((buf.len() >= total).then_some(total))
        }
        tag @ (b'*' | b'~' | b'>' | b'%' | b'|') => {
            let n = parse_i64(&buf[pos + 1..end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
            // Saturating: a huge count only means waiting for bytes that never come.
            let count = if matches!(tag, b'%' | b'|') { n.max(0).saturating_mul(2) } else { n.max(0) };
            let mut at = next;
            for _ in 0..count {
                match skip_at(buf, at, depth + 1)? {
                    Some(after) => at = after,
                    None => return Ok(None),
                }
            }
            // An attribute is followed by the frame it describes; a chain of attributes counts
            // as nesting, so a long one cannot exhaust the stack.
            if tag == b'|' {
                return skip_at(buf, at, depth + 1);
            }
            Ok(Some(at))
        }
        other => Err(ProtocolError::UnexpectedByte(other)),
    }
}

fn parse_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(Frame, usize)>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError::TooDeep);
    }
    if pos >= buf.len() {
        return Ok(None);
    }
    let Some(end) = line_end(buf, pos + 1) else {
        return Ok(None);
    };
    let body = &buf[pos + 1..end];
    let next = end + 2;
    let text = || Bytes::copy_from_slice(body);
    let frame = match buf[pos] {
        b'+' => Frame::Simple(text()),
        b'-' => Frame::Error(text()),
        b':' => Frame::Integer(parse_i64(body).ok_or(ProtocolError::BadInteger)?),
        b'(' => Frame::BigNumber(text()),
        b',' => {
            let s = std::str::from_utf8(body).map_err(|_| ProtocolError::BadDouble)?;
            let d = match s {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                _ => s.parse().map_err(|_| ProtocolError::BadDouble)?,
            };
            Frame::Double(d)
        }
        b'#' => match body {
            b"t" => Frame::Boolean(true),
            b"f" => Frame::Boolean(false),
            _ => return Err(ProtocolError::BadBoolean),
        },
        b'_' => Frame::Null,
        b'$' | b'=' | b'!' => {
            let len = parse_i64(body).ok_or(ProtocolError::InvalidBulkLength)?;
            if len == -1 {
                return Ok(Some((Frame::Null, next)));
            }
            if len < 0 {
                return Err(ProtocolError::InvalidBulkLength);
            }
            let len = len as usize;
            if buf.len() < next + len + 2 {
                return Ok(None);
            }
            if &buf[next + len..next + len + 2] != b"\r\n" {
                return Err(ProtocolError::MissingCrlf);
            }
            let data = &buf[next..next + len];
            let frame = match buf[pos] {
                b'$' => Frame::Bulk(Bytes::copy_from_slice(data)),
                b'!' => Frame::Error(Bytes::copy_from_slice(data)),
                _ => {
                    if len < 4 || data[3] != b':' {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    Frame::Verbatim(Bytes::copy_from_slice(&data[..3]), Bytes::copy_from_slice(&data[4..]))
                }
            };
            return Ok(Some((frame, next + len + 2)));
        }
        tag @ (b'*' | b'~' | b'>' | b'%') => {
            let n = parse_i64(body).ok_or(ProtocolError::InvalidMultibulkLength)?;
            if n == -1 && tag == b'*' {
                return Ok(Some((Frame::Null, next)));
            }
            if !(0..=1024 * 1024 * 1024).contains(&n) {
                return Err(ProtocolError::InvalidMultibulkLength);
            }
            let count = if tag == b'%' { n as usize * 2 } else { n as usize };
            let mut items = Vec::with_capacity(count.min(1024));
            let mut at = next;
            for _ in 0..count {
                match parse_at(buf, at, depth + 1)? {
                    Some((f, after)) => {
                        items.push(f);
                        at = after;
                    }
                    None => return Ok(None),
                }
            }
            let frame = match tag {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => {
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
            };
            return Ok(Some((frame, at)));
        }
        // RESP3 attributes are metadata for the next frame: skip them (a chain counts as nesting).
        b'|' => {
            let n = parse_i64(body).ok_or(ProtocolError::InvalidMultibulkLength)?;
            let mut at = next;
            for _ in 0..n.max(0).saturating_mul(2) {
                match parse_at(buf, at, depth + 1)? {
                    Some((_, after)) => at = after,
                    None => return Ok(None),
                }
            }
            return parse_at(buf, at, depth + 1);
        }
        other => return Err(ProtocolError::UnexpectedByte(other)),
    };
    Ok(Some((frame, next)))
}
