//! The pure parts of SORT: the LIMIT window, the keys a BY/GET pattern names, scores read the
//! way C's strtod reads them, and the comparison of sortCompare (Redis 7.0's sort.c).

use std::cmp::Ordering;

use super::options::c_str;

/// The inclusive window `start..=end` LIMIT selects out of `len` elements, with Redis's
/// clamping; `end < start` when it is empty.
pub fn window(offset: i64, count: i64, len: usize) -> (i64, i64) {
    let len = len as i64;
    let mut start = offset.clamp(0, len);
    let count = count.clamp(-1, len);
    let mut end = if count < 0 { len - 1 } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    (start, end.min(len - 1))
}

/// What a BY/GET pattern names for one element.
#[derive(Debug, PartialEq)]
pub enum Target<'p> {
    /// `#`: the element itself.
    Itself,
    /// The string value of a key.
    Key(Vec<u8>),
    /// A field of the hash at a key (`...->field`).
    Field(Vec<u8>, &'p [u8]),
    /// No `*` in the pattern: a fixed key names nothing.
    Nothing,
}

/// Substitutes the first `*` of `pattern` with `elem` (lookupKeyByPattern). The searches stop
/// at a NUL byte as in C; the field after `->` runs to the end of the argument.
pub fn target<'p>(pattern: &'p [u8], elem: &[u8]) -> Target<'p> {
    let visible = c_str(pattern);
    if visible == b"#" {
        return Target::Itself;
    }
    let Some(star) = visible.iter().position(|&c| c == b'*') else {
        return Target::Nothing;
    };
    let arrow = visible[star + 1..].windows(2).position(|w| w == b"->").map(|n| star + 1 + n);
    // An arrow with nothing after it is part of the key name.
    let arrow = arrow.filter(|&a| visible.len() > a + 2);
    let key_end = arrow.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(key_end + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    match arrow {
        Some(a) => Target::Field(key, &pattern[a + 2..]),
        None => Target::Key(key),
    }
}

/// A score as SORT reads one: C's strtod over the bytes up to a NUL, which must all be consumed.
/// An empty string is 0; leading white space is skipped; hexadecimal and `inf` are accepted;
/// NaN, overflow and (inexact) underflow are refused.
pub fn score(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(c_str(b)).ok()?;
    let s = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    if s.is_empty() {
        return Some(0.0);
    }
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if unsigned == "inf" || unsigned == "infinity" {
        return Some(if lower.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if let Some(hex) = unsigned.strip_prefix("0x") {
        let v = crate::commands::arg_f64(s.as_bytes()).ok().filter(|v| v.is_finite())?;
        // All-zero digits give a true zero; otherwise a zero result underflowed.
        let mantissa = hex.split('p').next().unwrap_or("");
        let nonzero = mantissa.bytes().any(|c| matches!(c, b'1'..=b'9' | b'a'..=b'f'));
        return (v != 0.0 || !nonzero).then_some(v);
    }
    // Rust's syntax for decimals is C's, except the words handled above and `nan` (refused
    // either way).
    if !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if v.is_nan() || v.is_infinite() {
        return None;
    }
    // ERANGE: a result below the normal range (zero or subnormal) from non-zero digits.
    let mantissa = unsigned.split('e').next().unwrap_or("");
    let nonzero = mantissa.bytes().any(|c| matches!(c, b'1'..=b'9'));
    if nonzero && v.abs() < f64::MIN_POSITIVE {
        return None;
    }
    Some(v)
}

/// One element being sorted: its score (numeric sort) or the value BY named (ALPHA with BY).
#[derive(Debug, Clone)]
pub struct Item {
    pub elem: Vec<u8>,
    pub score: f64,
    pub by_value: Option<Vec<u8>>,
}

/// How elements compare (sortCompare's globals).
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    pub alpha: bool,
    pub desc: bool,
    /// A BY pattern gives the values compared.
    pub by_pattern: bool,
    /// STORE compares bytes; a reply compares as strcoll does (C collation: bytes up to a NUL).
    pub store: bool,
}

fn collate(a: &[u8], b: &[u8], store: bool) -> Ordering {
    if store {
        a.cmp(b)
    } else {
        c_str(a).cmp(c_str(b))
    }
}

/// sortCompare: numeric by score with ties broken by the elements' bytes, or alphabetic by
/// the elements or by the values BY named (a missing value first); DESC reverses all of it.
pub fn compare(a: &Item, b: &Item, m: Mode) -> Ordering {
    let cmp = if !m.alpha {
        a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.elem.cmp(&b.elem))
    } else if m.by_pattern {
        match (&a.by_value, &b.by_value) {
            (Some(x), Some(y)) => collate(x, y, m.store),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }
    } else {
        collate(&a.elem, &b.elem, m.store)
    };
    if m.desc {
        cmp.reverse()
    } else {
        cmp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_window() {
        assert_eq!(window(0, -1, 5), (0, 4));
        assert_eq!(window(1, 2, 5), (1, 2));
        assert_eq!(window(-3, 2, 5), (0, 1));
        assert_eq!(window(3, 100, 5), (3, 4));
        assert_eq!(window(2, 0, 5), (2, 1));
        assert_eq!(window(9, 1, 5), (4, 3));
        assert_eq!(window(0, -1, 0), (-1, -2));
        assert_eq!(window(i64::MAX, i64::MAX, 3), (2, 1));
        assert_eq!(window(0, -7, 3), (0, 2));
    }

    #[test]
    fn pattern_targets() {
        assert_eq!(target(b"#", b"x"), Target::Itself);
        assert_eq!(target(b"w_*", b"x"), Target::Key(b"w_x".to_vec()));
        assert_eq!(target(b"a*b", b"x"), Target::Key(b"axb".to_vec()));
        assert_eq!(target(b"h_*->f", b"x"), Target::Field(b"h_x".to_vec(), &b"f"[..]));
        assert_eq!(target(b"h_*->", b"x"), Target::Key(b"h_x->".to_vec()));
        assert_eq!(target(b"h->f_*", b"x"), Target::Key(b"h->f_x".to_vec()));
        assert_eq!(target(b"h_*->f->g", b"x"), Target::Field(b"h_x".to_vec(), &b"f->g"[..]));
        assert_eq!(target(b"nosort", b"x"), Target::Nothing);
        assert_eq!(target(b"#\0x", b"x"), Target::Itself);
    }

    #[test]
    fn scores_as_strtod() {
        let ok = |s: &str, v: f64| assert_eq!(score(s.as_bytes()), Some(v), "{s}");
        let bad = |s: &str| assert_eq!(score(s.as_bytes()), None, "{s}");
        ok("", 0.0);
        ok(" 1", 1.0);
        ok("+3", 3.0);
        ok(".5", 0.5);
        ok("5.", 5.0);
        ok("1e5", 1e5);
        ok("0x10", 16.0);
        ok("INF", f64::INFINITY);
        ok("-infinity", f64::NEG_INFINITY);
        ok("2.2250738585072014e-308", 2.2250738585072014e-308);
        ok("0e-999", 0.0);
        ok("1\0junk", 1.0);
        for s in ["1 ", "nan", "1_0", "0x", "1e400", "1e-400", "1e-310", "abc", "1e", "infinit", "."] {
            bad(s);
        }
    }

    fn item(e: &str, score: f64, by: Option<&str>) -> Item {
        Item { elem: e.into(), score, by_value: by.map(Into::into) }
    }

    #[test]
    fn comparisons() {
        let num = Mode::default();
        assert_eq!(compare(&item("b", 1.0, None), &item("a", 2.0, None), num), Ordering::Less);
        assert_eq!(compare(&item("b", 1.0, None), &item("a", 1.0, None), num), Ordering::Greater);
        let desc = Mode { desc: true, ..num };
        assert_eq!(compare(&item("b", 1.0, None), &item("a", 1.0, None), desc), Ordering::Less);
        let by = Mode { alpha: true, by_pattern: true, ..num };
        assert_eq!(compare(&item("a", 0.0, None), &item("b", 0.0, Some("")), by), Ordering::Less);
        assert_eq!(compare(&item("a", 0.0, None), &item("b", 0.0, None), by), Ordering::Equal);
        let alpha = Mode { alpha: true, ..num };
        assert_eq!(compare(&item("a\0x", 0.0, None), &item("a\0y", 0.0, None), alpha), Ordering::Equal);
        let stored = Mode { store: true, ..alpha };
        assert_eq!(compare(&item("a\0x", 0.0, None), &item("a\0y", 0.0, None), stored), Ordering::Less);
    }
}
