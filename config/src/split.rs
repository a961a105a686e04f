//! Argument splitting for one config line, byte-for-byte as Redis's `sdssplitargs` does it.

/// Splits a line into arguments like `sdssplitargs`; fails on unbalanced quotes or non-UTF-8 arguments.
pub fn split_args(line: &str) -> Result<Vec<String>, String> {
    split_args_bytes(line.as_bytes())?
        .into_iter()
        .map(|a| String::from_utf8(a).map_err(|_| "argument is not valid UTF-8".to_string()))
        .collect()
}

/// Splits a line into raw byte arguments like `sdssplitargs` (`\xHH` may yield non-UTF-8 bytes).
pub fn split_args_bytes(line: &[u8]) -> Result<Vec<Vec<u8>>, String> {
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
                    return Err("unbalanced quotes".into());
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
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else if in_sq {
                if i >= n {
                    return Err("unbalanced quotes".into());
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return Err("closing quote must be followed by a space".into());
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

    fn s(line: &str) -> Vec<String> {
        split_args(line).expect("split")
    }

    #[test]
    fn plain_words_and_whitespace() {
        assert_eq!(s("  port   7000\t"), vec!["port", "7000"]);
        assert!(s("   ").is_empty());
        assert!(s("").is_empty());
    }

    #[test]
    fn double_quotes_and_escapes() {
        assert_eq!(s(r#"save """#), vec!["save", ""]);
        assert_eq!(s(r#"a "b c" d"#), vec!["a", "b c", "d"]);
        assert_eq!(
            s(r#""x\n\r\t\b\a\\\"y""#),
            vec!["x\n\r\t\u{8}\u{7}\\\"y".to_string()]
        );
        assert_eq!(s(r#""\x41\x62""#), vec!["Ab"]);
        // An incomplete \x escape is just an escaped 'x'.
        assert_eq!(s(r#""\x4""#), vec!["x4"]);
        // Quotes in the middle of a word join with it, as in sdssplitargs.
        assert_eq!(s(r#"foo"bar baz""#), vec!["foobar baz"]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(s(r"'it\'s' 'a\nb'"), vec!["it's", r"a\nb"]);
    }

    #[test]
    fn non_utf8_bytes() {
        let v = split_args_bytes(br#"pass "\xff\x00z""#).unwrap();
        assert_eq!(v, vec![b"pass".to_vec(), vec![0xff, 0x00, b'z']]);
        assert!(split_args(r#""\xff""#).is_err());
    }

    #[test]
    fn errors() {
        assert!(split_args(r#"a "unterminated"#).is_err());
        assert!(split_args("a 'unterminated").is_err());
        assert!(split_args(r#""quoted"next"#).is_err());
        assert!(split_args("'quoted'next").is_err());
        assert!(split_args(r#""ends with backslash\"#).is_err());
    }
}
