//! Inline commands and `sdssplitargs`: the one splitter behind inline requests, redis.conf and
//! ACL SETUSER lines. An inline line through the decoder must split as the splitter does, and
//! arguments quoted back (as `CONFIG REWRITE` quotes them) must split back to themselves.

use bytes::BytesMut;
use protocol::split::split_args_bytes;
use protocol::{CommandDecoder, DecodeLimits, ProtocolError};

pub const TOKENS: &[&[u8]] = &[b"\"", b"'", b"\\x4", b"\\xzz", b"\\", b"\\n", b"\" ", b"' ", b" ", b"\t", b"\0", b"\r"];

pub fn run(data: &[u8]) {
    let split = split_args_bytes(data);
    if let Ok(args) = &split {
        let quoted: Vec<Vec<u8>> = args.iter().map(|a| quote(a)).collect();
        let back = split_args_bytes(&quoted.join(&b' '));
        assert_eq!(back.as_ref(), Ok(args), "quoted arguments do not split back");
    }
    // As an inline request: one line, which must not look like a multibulk header.
    if data.first() == Some(&b'*') || data.contains(&b'\n') {
        return;
    }
    let text = data.strip_suffix(b"\r").unwrap_or(data);
    let mut buf = BytesMut::from(data);
    buf.extend_from_slice(b"\n");
    let decoded = CommandDecoder::new().decode(&mut buf, &DecodeLimits::default());
    match (split_args_bytes(text), decoded) {
        (Ok(args), Ok(got)) => {
            let want = if args.is_empty() { None } else { Some(args) };
            let got = got.map(|g| g.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
            assert_eq!(got, want, "inline request decodes unlike the splitter");
        }
        (Err(_), Err(ProtocolError::UnbalancedQuotes)) => {}
        (split, decoded) => panic!("splitter says {split:?}, decoder {decoded:?}"),
    }
}

/// Double-quotes an argument, escaping every byte the splitter would read specially.
fn quote(arg: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in arg {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0x21..=0x7e | b' ' => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
    out
}
