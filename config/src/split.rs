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
    protocol::split::split_args_bytes(line).map_err(str::to_string)
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
        assert_eq!(s(r#""x\n\r\t\b\a\\\"y""#), vec!["x\n\r\t\u{8}\u{7}\\\"y".to_string()]);
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
