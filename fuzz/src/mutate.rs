//! Mutations of one input: generic byte edits, splices with other corpus entries, tokens of the
//! target's grammar, and edits of the length fields that length-prefixed formats hinge on
//! (ASCII numbers as RESP writes them, binary integers as RDB and the bus write them).

use crate::rng::Rng;

/// Inputs never grow past this: long inputs only slow the loop down, and every format here
/// reaches its interesting states in a few KB.
pub const MAX_LEN: usize = 16 * 1024;

/// Numbers that sit on the edges a parser mishandles: signs, zero, type widths, limits.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "-2",
    "2",
    "3",
    "4",
    "16",
    "127",
    "128",
    "255",
    "256",
    "1024",
    "16384",
    "16385",
    "32767",
    "65535",
    "65536",
    "1048576",
    "2147483647",
    "2147483648",
    "-2147483648",
    "4294967295",
    "4294967296",
    "536870912",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "99999999999999999999",
    "1e3",
    "0x10",
    "+5",
    "",
];

/// Binary integers for the same purpose, written at 1, 2, 4 or 8 bytes wide.
const BINARY: &[u64] =
    &[0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0xffff, 0x7fff_ffff, 0xffff_ffff, u64::MAX];

/// Mutates `input` in place with one to four stacked edits; `others` feeds splices and
/// `tokens` the target's grammar.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, others: &[Vec<u8>], tokens: &[&[u8]]) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        edit(rng, input, others, tokens);
    }
    input.truncate(MAX_LEN);
}

fn edit(rng: &mut Rng, v: &mut Vec<u8>, others: &[Vec<u8>], tokens: &[&[u8]]) {
    match rng.below(12) {
        0 if !v.is_empty() => {
            let i = rng.below(v.len());
            v[i] ^= 1 << rng.below(8);
        }
        1 if !v.is_empty() => {
            let i = rng.below(v.len());
            v[i] =
                *rng.pick(&[0, 0xff, b'\r', b'\n', b'*', b'$', b' ', b'"', b'\'', b'\\', b'-', b'0', b'9', b'{'][..]);
        }
        2 => {
            let at = rng.below(v.len() + 1);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            v.splice(at..at, bytes);
        }
        3 if !v.is_empty() => {
            let (a, b) = range(rng, v.len());
            v.drain(a..b);
        }
        4 if !v.is_empty() => {
            let (a, b) = range(rng, v.len());
            let chunk = v[a..b].to_vec();
            let at = rng.below(v.len() + 1);
            v.splice(at..at, chunk);
        }
        5 if !others.is_empty() => {
            let other = rng.pick(others);
            splice(rng, v, other);
        }
        6 if !tokens.is_empty() => {
            let at = rng.below(v.len() + 1);
            let t = rng.pick(tokens).to_vec();
            v.splice(at..at, t);
        }
        7 => retype_number(rng, v),
        8 if !v.is_empty() => overwrite_int(rng, v),
        9 if !v.is_empty() => v.truncate(rng.below(v.len())),
        10 => shuffle_lines(rng, v),
        11 if !v.is_empty() => {
            // A run of one byte: long keys, deep nesting, repeated headers.
            let at = rng.below(v.len());
            let b = v[at];
            let n = 1 + rng.below(256);
            v.splice(at..at, std::iter::repeat_n(b, n));
        }
        _ => {
            let at = rng.below(v.len() + 1);
            v.insert(at, rng.next_u64() as u8);
        }
    }
}

/// A non-empty range `a..b` inside `0..len`, short more often than long.
fn range(rng: &mut Rng, len: usize) -> (usize, usize) {
    let a = rng.below(len);
    let max = if rng.chance(80) { 16.min(len - a) } else { len - a };
    (a, a + 1 + rng.below(max))
}

/// Either our prefix with the other's suffix, or a piece of the other inserted.
fn splice(rng: &mut Rng, v: &mut Vec<u8>, other: &[u8]) {
    if other.is_empty() {
        return;
    }
    let from = rng.below(other.len());
    if rng.chance(50) {
        v.truncate(rng.below(v.len() + 1));
        v.extend_from_slice(&other[from..]);
    } else {
        let to = from + 1 + rng.below(other.len() - from);
        let at = rng.below(v.len() + 1);
        v.splice(at..at, other[from..to].iter().copied());
    }
}

/// Replaces one ASCII number (an optional `-` and digits: RESP's `*3`, `$5`, a config value)
/// with an edge value or a neighbour of itself; inserts one when there is none.
fn retype_number(rng: &mut Rng, v: &mut Vec<u8>) {
    let starts: Vec<usize> =
        (0..v.len()).filter(|&i| v[i].is_ascii_digit() && (i == 0 || !v[i - 1].is_ascii_digit())).collect();
    let replacement = |rng: &mut Rng, old: Option<i128>| -> Vec<u8> {
        match old {
            Some(n) if rng.chance(40) => (n + *rng.pick(&[-2i128, -1, 1, 2, 1000])).to_string().into_bytes(),
            _ => rng.pick(NUMBERS).as_bytes().to_vec(),
        }
    };
    if starts.is_empty() {
        let at = rng.below(v.len() + 1);
        let n = replacement(rng, None);
        v.splice(at..at, n);
        return;
    }
    let mut a = *rng.pick(&starts);
    let mut b = a;
    while b < v.len() && v[b].is_ascii_digit() {
        b += 1;
    }
    let old = std::str::from_utf8(&v[a..b]).ok().and_then(|s| s.parse::<i128>().ok());
    let old = old.map(|n| if a > 0 && v[a - 1] == b'-' { -n } else { n });
    if a > 0 && v[a - 1] == b'-' {
        a -= 1;
    }
    let new = replacement(rng, old);
    v.splice(a..b, new);
}

/// Writes an edge integer over 1, 2, 4 or 8 bytes at a random spot, either endianness.
fn overwrite_int(rng: &mut Rng, v: &mut [u8]) {
    let width = *rng.pick(&[1usize, 2, 4, 8]);
    if v.len() < width {
        return;
    }
    let at = rng.below(v.len() - width + 1);
    let mut n = *rng.pick(BINARY);
    if rng.chance(20) {
        n = n.wrapping_add(1);
    }
    let bytes = if rng.chance(50) { n.to_be_bytes() } else { n.to_le_bytes() };
    let src = if rng.chance(50) { &bytes[8 - width..] } else { &bytes[..width] };
    v[at..at + width].copy_from_slice(src);
}

/// Duplicates, drops or swaps whole lines: redis.conf and ACL files are line grammars.
fn shuffle_lines(rng: &mut Rng, v: &mut Vec<u8>) {
    let mut lines: Vec<Vec<u8>> = v.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let i = rng.below(lines.len());
    let j = rng.below(lines.len());
    match rng.below(3) {
        0 => {
            let dup = lines[i].clone();
            lines.insert(j, dup);
        }
        1 if lines.len() > 1 => {
            lines.remove(i);
        }
        _ => lines.swap(i, j),
    }
    *v = lines.join(&b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_bounded_and_vary() {
        let mut rng = Rng::new(7);
        let seed = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec();
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..2000 {
            let mut v = seed.clone();
            mutate(&mut rng, &mut v, std::slice::from_ref(&seed), &[b"\r\n"]);
            assert!(v.len() <= MAX_LEN);
            distinct.insert(v);
        }
        assert!(distinct.len() > 1000, "only {} distinct mutants", distinct.len());
    }
}
