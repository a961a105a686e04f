//! Values stored under keys. Kept to 24 bytes so an entry stays small: large or rarely used
//! representations sit behind a box.

use std::collections::VecDeque;

use super::hash::HashVal;
use super::keybuf::KeyBuf;
use super::set::SetVal;
use super::stream::Stream;
use super::zset::ZSetVal;

/// A stored value.
// Collections are boxed on purpose: it keeps every value (and so every entry) at 24 bytes.
#[allow(clippy::box_collection)]
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string that is the canonical form of an integer (Redis's `int` encoding).
    Int(i64),
    /// A short string kept inside the entry (no allocation of its own).
    Inline {
        len: u8,
        data: [u8; INLINE],
    },
    /// An immutable string, sized exactly.
    Str(Box<[u8]>),
    /// A string that has been appended to or ranged into: it keeps spare capacity.
    Growable(Box<Vec<u8>>),
    Hash(Box<HashVal>),
    List(Box<VecDeque<KeyBuf>>),
    Set(Box<SetVal>),
    ZSet(Box<ZSetVal>),
    Stream(Box<Stream>),
}

/// Longest string Redis stores as `embstr`.
const EMBSTR_MAX: usize = 44;
/// Longest string kept inline.
const INLINE: usize = 22;

impl Value {
    /// Builds a string value, choosing the integer form when the bytes are a canonical integer.
    pub fn string(bytes: &[u8]) -> Value {
        match canonical_int(bytes) {
            Some(n) => Value::Int(n),
            None if bytes.len() <= INLINE => {
                let mut data = [0u8; INLINE];
                data[..bytes.len()].copy_from_slice(bytes);
                Value::Inline { len: bytes.len() as u8, data }
            }
            None => Value::Str(bytes.into()),
        }
    }

    /// The type name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Inline { .. } | Value::Str(_) | Value::Growable(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Inline { .. } => "embstr",
            Value::Str(b) if b.len() <= EMBSTR_MAX => "embstr",
            Value::Str(_) | Value::Growable(_) => "raw",
            Value::Hash(h) => h.encoding(),
            // Redis 7.0 keeps every list in a quicklist.
            Value::List(_) => "quicklist",
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// The bytes of a string value (integers are formatted), `None` for other types.
    pub fn as_bytes(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        match self {
            Value::Int(n) => Some(std::borrow::Cow::Owned(n.to_string().into_bytes())),
            _ => self.raw_bytes().map(std::borrow::Cow::Borrowed),
        }
    }

    /// The bytes of a string value that is not held as an integer.
    pub fn raw_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Inline { len, data } => Some(&data[..*len as usize]),
            Value::Str(b) => Some(b),
            Value::Growable(v) => Some(v.as_slice()),
            _ => None,
        }
    }

    /// Length of a string value.
    pub fn str_len(&self) -> Option<usize> {
        match self {
            Value::Int(n) => Some(int_len(*n)),
            other => other.raw_bytes().map(<[u8]>::len),
        }
    }

    /// True for string values (the only kind a WRONGTYPE check on strings accepts).
    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Inline { .. } | Value::Str(_) | Value::Growable(_))
    }

    /// Turns a string value into its growable form and returns the buffer.
    pub fn make_growable(&mut self) -> Option<&mut Vec<u8>> {
        if !matches!(self, Value::Growable(_)) {
            let bytes = self.as_bytes()?.into_owned();
            *self = Value::Growable(Box::new(bytes));
        }
        match self {
            Value::Growable(v) => Some(v),
            _ => None,
        }
    }
}

fn int_len(n: i64) -> usize {
    let mut len = if n < 0 { 2 } else { 1 };
    let mut v = n.unsigned_abs();
    while v >= 10 {
        v /= 10;
        len += 1;
    }
    len
}

/// Parses bytes that are exactly the canonical decimal form of an i64 (no `+`, no leading zeros).
pub fn canonical_int(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let (neg, digits) = if b[0] == b'-' { (true, &b[1..]) } else { (false, b) };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?;
        v = if neg { v.checked_sub((d - b'0') as i64)? } else { v.checked_add((d - b'0') as i64)? };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ints() {
        assert_eq!(canonical_int(b"0"), Some(0));
        assert_eq!(canonical_int(b"-12"), Some(-12));
        assert_eq!(canonical_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(canonical_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(canonical_int(b"9223372036854775808"), None);
        assert_eq!(canonical_int(b"01"), None);
        assert_eq!(canonical_int(b"-0"), None);
        assert_eq!(canonical_int(b"+1"), None);
        assert_eq!(canonical_int(b" 1"), None);
        assert_eq!(Value::string(b"123").encoding(), "int");
        assert_eq!(Value::string(b"abc").encoding(), "embstr");
        assert_eq!(Value::string(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(Value::Int(-120).str_len(), Some(4));
        assert!(matches!(Value::string(b"short"), Value::Inline { .. }));
        assert_eq!(Value::string(b"short").as_bytes().unwrap().as_ref(), b"short");
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }
}
