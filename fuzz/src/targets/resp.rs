//! RESP2/RESP3 replies as the proxy, replication and tests read them: `Frame::parse` and the
//! forwarding path's `frame_len` must agree, every prefix of a frame must read as incomplete
//! (a reader waits for more bytes, it does not fail), and what parses re-encodes stably.

use bytes::BytesMut;
use protocol::frame::frame_len;
use protocol::Frame;

/// The grammar's pieces, for the mutator.
pub const TOKENS: &[&[u8]] = &[
    b"\r\n", b"*", b"$", b"+OK", b"-ERR", b":", b"%", b"~", b">", b"|1\r\n", b"_\r\n", b",", b"#t\r\n", b"(", b"=",
    b"!", b"$-1\r\n", b"*-1\r\n", b"txt:", b"inf", b"nan",
];

pub fn run(data: &[u8]) {
    let skipped = frame_len(data);
    let Ok(Some((frame, used))) = Frame::parse(data) else { return };
    assert!(used <= data.len(), "consumed {used} of {} bytes", data.len());
    assert_eq!(skipped, Ok(Some(used)), "frame_len disagrees with parse");
    for cut in cuts(used) {
        assert_eq!(Frame::parse(&data[..cut]), Ok(None), "prefix of {cut} bytes is not incomplete");
        assert_eq!(frame_len(&data[..cut]), Ok(None), "frame_len: prefix of {cut} bytes is not incomplete");
    }
    // A blob error (`!`) may hold a CRLF that the line form of an error cannot: not re-encodable.
    if multiline_error(&frame) {
        return;
    }
    for resp3 in [true, false] {
        let once = encode(&frame, resp3);
        let (again, n) = match Frame::parse(&once) {
            Ok(Some(parsed)) => parsed,
            other => panic!("own encoding {once:?} does not parse: {other:?}"),
        };
        assert_eq!(n, once.len(), "own encoding {once:?} parses short");
        assert_eq!(encode(&again, resp3), once, "re-encoding is not stable");
    }
}

/// Prefix lengths to try: all of them for a short frame, a spread for a long one.
fn cuts(len: usize) -> Vec<usize> {
    if len <= 256 {
        (0..len).collect()
    } else {
        (0..len).step_by(len / 64).chain([len - 2, len - 1]).collect()
    }
}

fn encode(frame: &Frame, resp3: bool) -> BytesMut {
    let mut out = BytesMut::new();
    if resp3 {
        frame.encode(&mut out);
    } else {
        frame.encode_resp2(&mut out);
    }
    out
}

fn multiline_error(frame: &Frame) -> bool {
    match frame {
        Frame::Error(e) => e.iter().any(|&b| b == b'\r' || b == b'\n'),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => items.iter().any(multiline_error),
        Frame::Map(pairs) => pairs.iter().any(|(k, v)| multiline_error(k) || multiline_error(v)),
        _ => false,
    }
}
