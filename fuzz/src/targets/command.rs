//! Client requests as the node and the proxy read them: `CommandDecoder` over multibulk and
//! inline requests. The decoder keeps state between reads, so whatever way the bytes are split
//! into reads must decode to the same requests and the same error; and `peek_requests`, the
//! node's look-ahead, must show exactly the arguments the decoder then yields.

use bytes::{Bytes, BytesMut};
use protocol::decode::{peek_requests, PEEK};
use protocol::{CommandDecoder, DecodeLimits, ProtocolError};

use crate::rng::Rng;

pub const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"*",
    b"$",
    b"*1\r\n",
    b"$0\r\n\r\n",
    b"*-1\r\n",
    b"*0\r\n",
    b"$-1\r\n",
    b"PING",
    b"\"",
    b"'",
    b"\\x",
    b" ",
];

/// Requests decoded in order, then the error that stopped decoding, if any.
type Outcome = (Vec<Vec<Bytes>>, Option<ProtocolError>);

pub fn run(data: &[u8]) {
    let tight = DecodeLimits { max_bulk_len: 16, max_multibulk_len: 4, unauthenticated: false };
    let unauth = DecodeLimits { unauthenticated: true, ..DecodeLimits::default() };
    let mut rng = Rng::new(crate::hash(data));
    for limits in [DecodeLimits::default(), unauth, tight] {
        let whole = decode_all(data, &mut |_| data.len(), &limits);
        let pieces = decode_all(data, &mut |_| 1 + rng.below(16), &limits);
        assert_eq!(whole, pieces, "splitting the input into reads changed what decodes");
        let bytewise = decode_all(data, &mut |_| 1, &limits);
        assert_eq!(whole, bytewise, "byte-at-a-time reads changed what decodes");
    }
    let (requests, _) = decode_all(data, &mut |_| data.len(), &DecodeLimits::default());
    let mut peeked = Vec::new();
    peek_requests(data, 8, |args| peeked.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>()));
    assert!(peeked.len() <= requests.len(), "peek saw {} requests, the decoder {}", peeked.len(), requests.len());
    for (seen, req) in peeked.iter().zip(&requests) {
        let shown: Vec<Vec<u8>> = req.iter().take(PEEK).map(|a| a.to_vec()).collect();
        assert_eq!(seen, &shown, "peek shows other arguments than the decoder yields");
    }
}

/// Feeds `data` to one decoder in reads of `step(offset)` bytes, decoding after each.
fn decode_all(data: &[u8], step: &mut dyn FnMut(usize) -> usize, limits: &DecodeLimits) -> Outcome {
    let mut dec = CommandDecoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let n = step(at).min(data.len() - at);
        buf.extend_from_slice(&data[at..at + n]);
        at += n;
        loop {
            match dec.decode(&mut buf, limits) {
                Ok(Some(args)) => out.push(args),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}
