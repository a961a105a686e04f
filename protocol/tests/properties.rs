//! Property tests over generated inputs (a small seeded PRNG keeps them dependency-free and
//! reproducible): encode/decode round trips, byte-split invariance, and garbage never panics.

use bytes::{Bytes, BytesMut};
use protocol::{CommandDecoder, DecodeLimits, Frame};

/// xorshift64*: deterministic, good enough to generate test cases.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, max: u64) -> Bytes {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect::<Vec<_>>().into()
    }
    fn line(&mut self, max: u64) -> Bytes {
        let n = self.below(max + 1);
        (0..n).map(|_| b"abcxyz 012:-_{}"[self.below(15) as usize]).collect::<Vec<_>>().into()
    }
}

fn gen_frame(r: &mut Rng, depth: u32) -> Frame {
    let kinds = if depth > 3 { 9 } else { 13 };
    match r.below(kinds) {
        0 => Frame::Simple(r.line(20)),
        1 => Frame::Error(r.line(20)),
        2 => Frame::Integer(r.next() as i64),
        3 | 4 => Frame::Bulk(r.bytes(300)),
        5 => Frame::Null,
        6 => Frame::Double((r.next() as i64 as f64) / 1024.0),
        7 => Frame::Boolean(r.below(2) == 1),
        8 => Frame::Verbatim(Bytes::from_static(b"txt"), r.bytes(50)),
        9 => Frame::Array((0..r.below(5)).map(|_| gen_frame(r, depth + 1)).collect()),
        10 => Frame::Set((0..r.below(5)).map(|_| gen_frame(r, depth + 1)).collect()),
        11 => Frame::Push((0..r.below(5)).map(|_| gen_frame(r, depth + 1)).collect()),
        _ => Frame::Map((0..r.below(4)).map(|_| (gen_frame(r, depth + 1), gen_frame(r, depth + 1))).collect()),
    }
}

fn encode_command(args: &[Bytes]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn frames_round_trip() {
    let mut r = Rng(0x5eed);
    for _ in 0..2000 {
        let f = gen_frame(&mut r, 0);
        let mut buf = BytesMut::new();
        f.encode(&mut buf);
        let (back, used) = Frame::parse(&buf).unwrap().expect("complete frame");
        assert_eq!(used, buf.len());
        assert_eq!(protocol::frame::frame_len(&buf).unwrap(), Some(buf.len()));
        assert_eq!(back, f);
        // Every strict prefix is incomplete, never an error or a different frame.
        for cut in 0..buf.len() {
            assert_eq!(Frame::parse(&buf[..cut]).unwrap(), None, "prefix {cut} of {f:?}");
            assert_eq!(protocol::frame::frame_len(&buf[..cut]).unwrap(), None);
        }
    }
}

#[test]
fn commands_decode_the_same_whatever_the_split() {
    let mut r = Rng(42);
    for _ in 0..300 {
        let cmds: Vec<Vec<Bytes>> =
            (0..1 + r.below(4)).map(|_| (0..1 + r.below(5)).map(|_| r.bytes(40)).collect()).collect();
        let stream: Vec<u8> = cmds.iter().flat_map(|c| encode_command(c)).collect();
        for split in 0..=stream.len() {
            let mut dec = CommandDecoder::new();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for part in [&stream[..split], &stream[split..]] {
                buf.extend_from_slice(part);
                while let Some(cmd) = dec.decode(&mut buf, &DecodeLimits::default()).unwrap() {
                    got.push(cmd);
                }
            }
            assert_eq!(got, cmds, "split at {split}");
        }
    }
}

#[test]
fn peeking_sees_the_complete_requests_the_decoder_will_return() {
    let mut r = Rng(7);
    for _ in 0..300 {
        let cmds: Vec<Vec<Bytes>> =
            (0..1 + r.below(6)).map(|_| (0..1 + r.below(5)).map(|_| r.bytes(40)).collect()).collect();
        let stream: Vec<u8> = cmds.iter().flat_map(|c| encode_command(c)).collect();
        for cut in 0..=stream.len() {
            let mut peeked = Vec::new();
            protocol::decode::peek_requests(&stream[..cut], 64, |args| {
                peeked.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>())
            });
            let mut buf = BytesMut::from(&stream[..cut]);
            let mut decoded = Vec::new();
            while let Some(cmd) = CommandDecoder::new().decode(&mut buf, &DecodeLimits::default()).unwrap() {
                decoded.push(cmd.iter().take(protocol::decode::PEEK).map(|a| a.to_vec()).collect::<Vec<_>>());
            }
            assert_eq!(peeked, decoded, "cut at {cut}");
        }
    }
    // It stops at what it does not understand, and at its limit.
    let mut n = 0;
    protocol::decode::peek_requests(b"*1\r\n$4\r\nPING\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 64, |_| n += 1);
    assert_eq!(n, 1);
    n = 0;
    protocol::decode::peek_requests(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 1, |_| n += 1);
    assert_eq!(n, 1);
    protocol::decode::peek_requests(b"*2\r\n$-5\r\n*99999999999999999999\r\n$4\r\n", 64, |_| {
        panic!("nothing complete")
    });
}

#[test]
fn byte_by_byte_and_inline() {
    let stream = b"PING\r\nSET \"a b\" 'c d'\r\n\r\n*2\r\n$4\r\nECHO\r\n$3\r\nhey\r\nGET k\n";
    let mut dec = CommandDecoder::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &b in stream.iter() {
        buf.extend_from_slice(&[b]);
        while let Some(cmd) = dec.decode(&mut buf, &DecodeLimits::default()).unwrap() {
            got.push(cmd.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>());
        }
    }
    assert_eq!(got, vec![vec!["PING"], vec!["SET", "a b", "c d"], vec!["ECHO", "hey"], vec!["GET", "k"]]);
}

#[test]
fn limits_are_checked_before_allocating() {
    let limits = DecodeLimits::default();
    let mut dec = CommandDecoder::new();
    let mut buf = BytesMut::from(&b"*1\r\n$999999999999\r\n"[..]);
    assert_eq!(dec.decode(&mut buf, &limits).unwrap_err().to_string(), "invalid bulk length");
    let mut buf = BytesMut::from(&b"*2000000\r\n"[..]);
    assert_eq!(CommandDecoder::new().decode(&mut buf, &limits).unwrap_err().to_string(), "invalid multibulk length");
    let unauth = DecodeLimits { unauthenticated: true, ..limits };
    let mut buf = BytesMut::from(&b"*11\r\n"[..]);
    assert_eq!(
        CommandDecoder::new().decode(&mut buf, &unauth).unwrap_err().to_string(),
        "unauthenticated multibulk length"
    );
    let mut buf = BytesMut::from(&b"*1\r\n$20000\r\n"[..]);
    assert_eq!(CommandDecoder::new().decode(&mut buf, &unauth).unwrap_err().to_string(), "unauthenticated bulk length");
    let mut buf = BytesMut::from(&b"*1\r\nx\r\n"[..]);
    assert_eq!(CommandDecoder::new().decode(&mut buf, &limits).unwrap_err().to_string(), "expected '$', got 'x'");
    let mut buf = BytesMut::from(&b"SET \"unbalanced\r\n"[..]);
    assert_eq!(
        CommandDecoder::new().decode(&mut buf, &limits).unwrap_err().to_string(),
        "unbalanced quotes in request"
    );
}

#[test]
fn big_value_in_small_reads_is_not_rescanned() {
    // 4 MB value fed 1 KB at a time: each call is O(1) once the header is known.
    let val = vec![b'x'; 4 << 20];
    let stream = encode_command(&[Bytes::from_static(b"SET"), Bytes::from_static(b"k"), val.clone().into()]);
    let mut dec = CommandDecoder::new();
    let mut buf = BytesMut::new();
    let mut out = None;
    for chunk in stream.chunks(1024) {
        buf.extend_from_slice(chunk);
        if let Some(cmd) = dec.decode(&mut buf, &DecodeLimits::default()).unwrap() {
            out = Some(cmd);
        }
    }
    assert_eq!(out.unwrap()[2].len(), val.len());
}

#[test]
fn random_garbage_never_panics() {
    let mut r = Rng(7);
    let limits = DecodeLimits::default();
    for i in 0..20_000 {
        // Half pure noise, half mutated valid requests.
        let mut input = if i % 2 == 0 {
            r.bytes(64).to_vec()
        } else {
            encode_command(&[Bytes::from_static(b"SET"), r.bytes(8), r.bytes(16)])
        };
        for _ in 0..r.below(4) {
            if !input.is_empty() {
                let at = r.below(input.len() as u64) as usize;
                input[at] = b"*$\r\n-:0123456789"[r.below(16) as usize];
            }
        }
        let mut buf = BytesMut::from(&input[..]);
        let mut dec = CommandDecoder::new();
        for _ in 0..64 {
            match dec.decode(&mut buf, &limits) {
                Ok(Some(_)) => continue,
                _ => break,
            }
        }
        let _ = Frame::parse(&input);
    }
}

#[test]
fn hostile_reply_counts_and_attribute_chains_are_errors_not_crashes() {
    // A map or attribute count near i64::MAX once overflowed when doubled into an element count.
    for input in [&b"%9223372036854775807\r\n+a\r\n"[..], b"|9223372036854775807\r\n+a\r\n"] {
        let _ = Frame::parse(input);
        let _ = protocol::frame::frame_len(input);
    }
    // Each attribute of a chain once recursed without counting as nesting: a long chain
    // overflowed the stack. It is now too deep, like any deeper nesting.
    let chain = [&b"|0\r\n"[..]; 4000].concat();
    let input = [&chain[..], b"+OK\r\n"].concat();
    assert_eq!(Frame::parse(&input), Err(protocol::ProtocolError::TooDeep));
    assert_eq!(protocol::frame::frame_len(&input), Err(protocol::ProtocolError::TooDeep));
    let short = [&b"|0\r\n"[..]; 3].concat();
    assert_eq!(
        Frame::parse(&[&short[..], b"+OK\r\n"].concat()),
        Ok(Some((Frame::Simple(Bytes::from_static(b"OK")), 17)))
    );
}
