//! Incremental decoder for client requests: RESP multibulk arrays of bulk strings and inline
//! commands. State survives between reads, so a large value arriving in small pieces is only
//! length-checked per read, never rescanned.

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::parse_i64;

/// Longest header or inline line accepted before a terminator (Redis's PROTO_INLINE_MAX_SIZE).
pub const MAX_INLINE: usize = 64 * 1024;
/// Arguments at least this large get their buffer space reserved up front (PROTO_MBULK_BIG_ARG).
const BIG_ARG: usize = 32 * 1024;

/// A malformed request; `Display` gives the text after `-ERR Protocol error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
    ExpectedDollar(u8),
    TooBigMbulkCount,
    TooBigBulkCount,
    TooBigInline,
    UnbalancedQuotes,
    MissingCrlf,
    BadInteger,
    BadDouble,
    BadBoolean,
    TooDeep,
    UnexpectedByte(u8),
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ProtocolError::*;
        match self {
            InvalidMultibulkLength => write!(f, "invalid multibulk length"),
            InvalidBulkLength => write!(f, "invalid bulk length"),
            UnauthenticatedMultibulkLength => write!(f, "unauthenticated multibulk length"),
            UnauthenticatedBulkLength => write!(f, "unauthenticated bulk length"),
            ExpectedDollar(c) => write!(f, "expected '$', got '{}'", *c as char),
            TooBigMbulkCount => write!(f, "too big mbulk count string"),
            TooBigBulkCount => write!(f, "too big bulk count string"),
            TooBigInline => write!(f, "too big inline request"),
            UnbalancedQuotes => write!(f, "unbalanced quotes in request"),
            MissingCrlf => write!(f, "missing CRLF after bulk data"),
            BadInteger => write!(f, "invalid integer"),
            BadDouble => write!(f, "invalid double"),
            BadBoolean => write!(f, "invalid boolean"),
            TooDeep => write!(f, "nesting too deep"),
            UnexpectedByte(c) => write!(f, "unexpected type byte '{}'", c.escape_ascii()),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Size limits applied while decoding; the server tightens them for unauthenticated clients.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: usize,
    /// Most elements in one multibulk request.
    pub max_multibulk_len: usize,
    /// Set while the client has not authenticated (Redis's CVE-2021-32675 limits: 10 args, 16 KB).
    pub unauthenticated: bool,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_bulk_len: 512 * 1024 * 1024, max_multibulk_len: 1024 * 1024, unauthenticated: false }
    }
}

/// Decoder state carried between reads.
#[derive(Debug, Default)]
pub struct CommandDecoder {
    args: Vec<Bytes>,
    /// Arguments still expected in the current multibulk request (0 = between requests).
    remaining: usize,
    /// Length of the bulk argument whose header was consumed but whose data has not arrived.
    bulk_len: Option<usize>,
}

/// Calls `f` with the first `PEEK` arguments (fewer when the request has fewer; the name first)
/// of each complete multibulk request at the start of `buf`, at most `max` of them, consuming
/// nothing. A server looks ahead this way at the keys of a pipeline (to prefetch them) before
/// it decodes and runs it; anything unusual (an inline command, a malformed or incomplete
/// request) ends the walk, and the decoder deals with it.
pub fn peek_requests<'a>(buf: &'a [u8], max: usize, mut f: impl FnMut(&[&'a [u8]])) {
    let mut pos = 0;
    // One `$len\r\n<bytes>\r\n` argument at `pos`: its bytes and the position after it.
    let arg = |pos: usize| -> Option<(&'a [u8], usize)> {
        let rest = buf.get(pos..)?;
        if rest.first() != Some(&b'$') {
            return None;
        }
        let end = find_crlf(rest)?;
        let len = usize::try_from(parse_i64(&rest[1..end])?).ok()?;
        let start = end.checked_add(2)?;
        let stop = start.checked_add(len)?;
        (rest.get(stop..stop.checked_add(2)?)? == b"\r\n").then(|| (&rest[start..stop], pos + stop + 2))
    };
    for _ in 0..max {
        let Some(rest) = buf.get(pos..).filter(|r| r.first() == Some(&b'*')) else { return };
        let Some(end) = find_crlf(rest) else { return };
        let Some(n) = parse_i64(&rest[1..end]).filter(|n| (1..=1024 * 1024).contains(n)) else { return };
        pos += end + 2;
        let mut args: [&[u8]; PEEK] = [&[]; PEEK];
        for i in 0..n as usize {
            let Some((a, next)) = arg(pos) else { return };
            if let Some(slot) = args.get_mut(i) {
                *slot = a;
            }
            pos = next;
        }
        f(&args[..(n as usize).min(PEEK)]);
    }
}

/// How many leading arguments `peek_requests` shows: enough for EVAL's first key.
pub const PEEK: usize = 4;

/// Index of the first `\r\n` in `buf`.
fn find_crlf(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(off) = buf[from..].iter().position(|&b| b == b'\n') {
        let i = from + off;
        if i > 0 && buf[i - 1] == b'\r' {
            return Some(i - 1);
        }
        from = i + 1;
    }
    None
}

impl CommandDecoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when part of a request has been consumed but it is not complete.
    pub fn in_progress(&self) -> bool {
        self.remaining > 0
    }

    /// Decodes the next complete request from `buf`, consuming its bytes. `Ok(None)` means more
    /// input is needed. Empty inline lines are skipped.
    pub fn decode(&mut self, buf: &mut BytesMut, limits: &DecodeLimits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.remaining == 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] != b'*' {
                    match self.inline(buf)? {
                        Some(args) if args.is_empty() => continue,
                        other => return Ok(other),
                    }
                }
                let Some(end) = find_crlf(buf) else {
                    if buf.len() > MAX_INLINE {
                        return Err(ProtocolError::TooBigMbulkCount);
                    }
                    return Ok(None);
                };
                let n = parse_i64(&buf[1..end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
                if n > limits.max_multibulk_len as i64 {
                    return Err(ProtocolError::InvalidMultibulkLength);
                }
                if limits.unauthenticated && n > 10 {
                    return Err(ProtocolError::UnauthenticatedMultibulkLength);
                }
                buf.advance(end + 2);
                if n <= 0 {
                    continue; // `*0` and `*-1` are empty requests, ignored as Redis does.
                }
                self.remaining = n as usize;
                self.args = Vec::with_capacity(self.remaining.min(1024));
            }
            while self.remaining > 0 {
                let len = match self.bulk_len {
                    Some(len) => len,
                    None => {
                        if buf.is_empty() {
                            return Ok(None);
                        }
                        if buf[0] != b'$' {
                            return Err(ProtocolError::ExpectedDollar(buf[0]));
                        }
                        let Some(end) = find_crlf(buf) else {
                            if buf.len() > MAX_INLINE {
                                return Err(ProtocolError::TooBigBulkCount);
                            }
                            return Ok(None);
                        };
                        let len = parse_i64(&buf[1..end]).ok_or(ProtocolError::InvalidBulkLength)?;
                        if len < 0 || len as u64 > limits.max_bulk_len as u64 {
                            return Err(ProtocolError::InvalidBulkLength);
                        }
                        if limits.unauthenticated && len > 16384 {
                            return Err(ProtocolError::UnauthenticatedBulkLength);
                        }
                        buf.advance(end + 2);
                        let len = len as usize;
                        if len >= BIG_ARG {
                            // Reserve once so a big value is read straight into place.
                            buf.reserve(len + 2);
                        }
                        self.bulk_len = Some(len);
                        len
                    }
                };
                if buf.len() < len + 2 {
                    return Ok(None);
                }
                let arg = buf.split_to(len).freeze();
                if &buf[..2] != b"\r\n" {
                    return Err(ProtocolError::MissingCrlf);
                }
                buf.advance(2);
                self.args.push(arg);
                self.bulk_len = None;
                self.remaining -= 1;
            }
            return Ok(Some(std::mem::take(&mut self.args)));
        }
    }

    /// An inline command: one line split as Redis splits arguments.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_INLINE {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(None);
        };
        let line = buf.split_to(nl + 1);
        let mut text = &line[..nl];
        if text.last() == Some(&b'\r') {
            text = &text[..text.len() - 1];
        }
        let args = crate::split::split_args_bytes(text).map_err(|_| ProtocolError::UnbalancedQuotes)?;
        Ok(Some(args.into_iter().map(Bytes::from).collect()))
    }
}
