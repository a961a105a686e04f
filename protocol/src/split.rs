//! Argument splitting exactly as Redis's `sdssplitargs`: used for inline commands typed at a
//! terminal and for every line of redis.conf and ACL files.

/// Splits a line into raw byte arguments like `sdssplitargs` (`\xHH` may yield non-UTF-8 bytes).
pub fn split_args_bytes(line: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    // C strings end at the first NUL; keep that so odd input behaves as in Redis.
    let line = match line.iter().position(|&b| b == 0) {
        Some(end) => &line[..end],
        None => line,
    };
    let n = line.len();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < n && is_c_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Ok(out);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err("unbalanced quotes");
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    cur.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 4;
                    continue;
                } else if c == b'\\' && i + 1 < n {
                    cur.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    i += 2;
                    continue;
                } else if c == b'"' {
                    // The closing quote must be followed by a space or nothing at all.
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return Err("closing quote must be followed by a space");
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else if in_sq {
                if i >= n {
                    return Err("unbalanced quotes");
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return Err("closing quote must be followed by a space");
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(cur);
    }
}

/// C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let v = |s: &str| split_args_bytes(s.as_bytes()).unwrap();
        assert_eq!(v("set  a 'b c'"), vec![b"set".to_vec(), b"a".to_vec(), b"b c".to_vec()]);
        assert_eq!(v(r#""\x41\n" x"#), vec![b"A\n".to_vec(), b"x".to_vec()]);
        assert!(split_args_bytes(b"\"unterminated").is_err());
        assert!(split_args_bytes(b"\"a\"b").is_err());
        assert_eq!(v("   "), Vec::<Vec<u8>>::new());
    }
}
