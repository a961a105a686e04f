//! Scalar value grammars shared by all directives: memory amounts, yes/no booleans, Redis's
//! strict integers, and the formatting used when values are written back to a file.

const MEMORY_ERR: &str = "argument must be a memory value";

/// Parses a memory amount: bytes, or a number with a unit k kb m mb g gb b (case-insensitive).
pub fn parse_memory(s: &str) -> Result<u64, String> {
    // Redis's memtoull: digits, then an optional unit; no sign, no spaces.
    let digits_end = s.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(digits_end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(MEMORY_ERR.into()),
    };
    if num.is_empty() {
        return Err(MEMORY_ERR.into());
    }
    let n: u64 = num.parse().map_err(|_| MEMORY_ERR.to_string())?;
    n.checked_mul(mul).ok_or_else(|| MEMORY_ERR.to_string())
}

/// Parses `yes` / `no` (case-insensitive).
pub fn parse_bool(s: &str) -> Result<bool, String> {
    if s.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

/// Redis's `string2ll`: optional '-', no '+', no spaces, no leading zeros.
pub(crate) fn parse_ll(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b == b"0" {
        return Some(0);
    }
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    match digits.first() {
        Some(b'1'..=b'9') if digits.iter().all(u8::is_ascii_digit) => s.parse().ok(),
        _ => None,
    }
}

/// Formats bytes the way CONFIG REWRITE does: the largest of gb/mb/kb that divides evenly.
pub(crate) fn format_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * 1024 * 1024;
    match bytes {
        0 => "0".into(),
        b if b % GB == 0 => format!("{}gb", b / GB),
        b if b % MB == 0 => format!("{}mb", b / MB),
        b if b % KB == 0 => format!("{}kb", b / KB),
        b => b.to_string(),
    }
}

/// `yes` or `no`.
pub(crate) fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Quotes bytes as Redis's `sdscatrepr` does, so `split_args` reads them back unchanged.
pub(crate) fn repr(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// sdstrim(line, " \t\r\n").
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let ws = |b: &u8| b" \t\r\n".contains(b);
    let start = s.iter().position(|b| !ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::split_args_bytes;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("0"), Ok(0));
        assert_eq!(parse_memory("100"), Ok(100));
        assert_eq!(parse_memory("5b"), Ok(5));
        assert_eq!(parse_memory("1k"), Ok(1000));
        assert_eq!(parse_memory("1kb"), Ok(1024));
        assert_eq!(parse_memory("2m"), Ok(2_000_000));
        assert_eq!(parse_memory("2MB"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_memory("3g"), Ok(3_000_000_000));
        assert_eq!(parse_memory("3Gb"), Ok(3 * 1024 * 1024 * 1024));
        for bad in ["", "kb", "-1", "1.5mb", "1tb", " 1", "1 mb", "99999999999999999999"] {
            assert_eq!(parse_memory(bad), Err(MEMORY_ERR.into()), "{bad:?}");
        }
        assert!(parse_memory("18446744073709551615gb").is_err());
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("yes"), Ok(true));
        assert_eq!(parse_bool("YES"), Ok(true));
        assert_eq!(parse_bool("No"), Ok(false));
        assert_eq!(parse_bool("true"), Err("argument must be 'yes' or 'no'".into()));
        assert!(parse_bool("").is_err());
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_ll("0"), Some(0));
        assert_eq!(parse_ll("-12"), Some(-12));
        assert_eq!(parse_ll("9223372036854775807"), Some(i64::MAX));
        for bad in ["", "-", "-0", "007", "+1", " 1", "1 ", "1a", "9223372036854775808"] {
            assert_eq!(parse_ll(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn memory_formatting() {
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(1023), "1023");
        assert_eq!(format_memory(2048), "2kb");
        assert_eq!(format_memory(64 * 1024 * 1024), "64mb");
        assert_eq!(format_memory(1 << 30), "1gb");
    }

    #[test]
    fn repr_round_trips() {
        let raw: Vec<u8> = b"a \"b\"\\ \n\t\x07\x08\xff\x01 z".to_vec();
        let quoted = repr(&raw);
        assert_eq!(split_args_bytes(quoted.as_bytes()).unwrap(), vec![raw]);
        assert_eq!(repr(b""), "\"\"");
    }
}
