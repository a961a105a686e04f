//! Replays AOF data: strict RESP multibulk commands (nothing inline), run through the command
//! table by a fake client. MULTI ... EXEC is applied as a whole; a transaction cut off by the
//! end of the file is not applied at all, as Redis reverts it.

use bytes::Bytes;
use protocol::Reply;

use crate::server::{Client, Server};

/// Why replaying stopped early.
#[derive(Debug, PartialEq)]
pub enum ReplayError {
    /// The data ends in the middle of a command; everything before `valid_len` replayed.
    Truncated { valid_len: usize },
    /// Not an AOF from `offset` on.
    Bad { offset: usize, msg: String },
}

/// One parsed command and where it started.
struct Parsed {
    args: Vec<Bytes>,
    start: usize,
}

/// Reads the command at `*pos`; `Ok(None)` at the end of the data.
fn next_command(data: &Bytes, pos: &mut usize) -> Result<Option<Parsed>, ReplayError> {
    let start = *pos;
    if start == data.len() {
        return Ok(None);
    }
    let truncated = ReplayError::Truncated { valid_len: start };
    let bad = |offset: usize, msg: &str| ReplayError::Bad { offset, msg: msg.into() };
    if data[start] != b'*' {
        return Err(bad(start, "expected '*'"));
    }
    let (n, mut at) = match read_number(data, start + 1) {
        Some(Ok(x)) => x,
        Some(Err(())) => return Err(bad(start, "bad multibulk length")),
        None => return Err(truncated),
    };
    if n < 1 {
        return Err(bad(start, "bad multibulk length"));
    }
    let mut args = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        if at >= data.len() {
            return Err(truncated);
        }
        if data[at] != b'$' {
            return Err(bad(at, "expected '$'"));
        }
        let (len, body) = match read_number(data, at + 1) {
            Some(Ok(x)) => x,
            Some(Err(())) => return Err(bad(at, "bad bulk length")),
            None => return Err(truncated),
        };
        if len < 0 {
            return Err(bad(at, "bad bulk length"));
        }
        let end = body + len as usize;
        if end + 2 > data.len() {
            return Err(truncated);
        }
        if &data[end..end + 2] != b"\r\n" {
            return Err(bad(end, "bulk string not terminated by CRLF"));
        }
        args.push(data.slice(body..end));
        at = end + 2;
    }
    *pos = at;
    Ok(Some(Parsed { args, start }))
}

/// Parses `<digits>\r\n` at `at`: the number and the offset after the line; `None` when the
/// data ends first, `Some(Err)` when it is not a number.
fn read_number(data: &[u8], at: usize) -> Option<Result<(i64, usize), ()>> {
    let rest = data.get(at..)?;
    let nl = match rest.iter().take(24).position(|b| *b == b'\n') {
        Some(nl) => nl,
        None if rest.len() < 24 => return None,
        None => return Some(Err(())),
    };
    if nl == 0 || rest[nl - 1] != b'\r' {
        return Some(Err(()));
    }
    let n = std::str::from_utf8(&rest[..nl - 1]).ok().and_then(|s| s.parse::<i64>().ok());
    Some(n.map(|n| (n, at + nl + 1)).ok_or(()))
}

/// Replays `data` into the server; returns how many commands ran.
pub fn replay(srv: &mut Server, data: &Bytes) -> Result<u64, ReplayError> {
    let mut client = Client::new(0, "aof".into(), String::new(), false);
    let mut out = Reply::new();
    let mut pos = 0;
    let mut multi: Option<(usize, Vec<Vec<Bytes>>)> = None;
    let mut count = 0;
    while let Some(cmd) = next_command(data, &mut pos)? {
        let name = &cmd.args[0];
        if name.eq_ignore_ascii_case(b"multi") {
            multi = Some((cmd.start, Vec::new()));
            continue;
        }
        if name.eq_ignore_ascii_case(b"exec") {
            let Some((_, queued)) = multi.take() else {
                return Err(ReplayError::Bad { offset: cmd.start, msg: "EXEC without MULTI".into() });
            };
            for args in &queued {
                run(srv, &mut client, args, &mut out, cmd.start)?;
                count += 1;
            }
            continue;
        }
        match multi.as_mut() {
            Some((_, queued)) => queued.push(cmd.args),
            None => {
                run(srv, &mut client, &cmd.args, &mut out, cmd.start)?;
                count += 1;
            }
        }
    }
    if let Some((start, _)) = multi {
        return Err(ReplayError::Truncated { valid_len: start });
    }
    Ok(count)
}

fn run(srv: &mut Server, client: &mut Client, args: &[Bytes], out: &mut Reply, at: usize) -> Result<(), ReplayError> {
    if !crate::commands::replay(srv, client, args, out) {
        let name = String::from_utf8_lossy(&args[0]).into_owned();
        return Err(ReplayError::Bad { offset: at, msg: format!("unknown command '{name}'") });
    }
    out.buf.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(data: &[u8]) -> Result<usize, ReplayError> {
        let data = Bytes::copy_from_slice(data);
        let mut pos = 0;
        let mut n = 0;
        while next_command(&data, &mut pos)?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    #[test]
    fn parses_and_locates_problems() {
        let one = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        assert_eq!(parse_all(one), Ok(1));
        let mut two = one.to_vec();
        two.extend_from_slice(&one[..10]);
        assert_eq!(parse_all(&two), Err(ReplayError::Truncated { valid_len: one.len() }));
        let mut bad = one.to_vec();
        bad.extend_from_slice(b"garbage\r\n");
        bad.extend_from_slice(one);
        assert!(matches!(parse_all(&bad), Err(ReplayError::Bad { offset, .. }) if offset == one.len()));
        let mut badlen = one.to_vec();
        badlen[13] = b'X'; // "$1" of the key becomes "$X"
        assert!(matches!(parse_all(&badlen), Err(ReplayError::Bad { .. })));
    }
}
