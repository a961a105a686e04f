//! Reading RDB primitives (lengths, strings, doubles) from a byte slice, with every failure
//! reported at the offset where it happened.

use std::borrow::Cow;

use crate::{lzf, Error};

/// Top two bits of a length byte select the form; `ENCVAL` means a special string encoding.
const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_ENCVAL: u8 = 3;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// A string read from the input: borrowed when stored raw, owned when it had to be decoded.
/// Keeps where it came from so errors in nested formats can point back into the input.
pub(crate) struct Blob<'a> {
    pub data: Cow<'a, [u8]>,
    pub offset: usize,
    pub compressed: bool,
}

impl Blob<'_> {
    /// Runs a parser over the blob's bytes, translating its error offsets to input offsets.
    pub fn parse<T>(&self, f: impl FnOnce(&[u8]) -> Result<T, Error>) -> Result<T, Error> {
        f(&self.data).map_err(|e| e.rebase(self.offset, self.compressed))
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.data.into_owned()
    }
}

pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(Error::new(self.pos, format!("truncated {what}: need {n} bytes, {} left", self.remaining())));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, Error> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A length, or a special string encoding (`Err(kind)` in the inner result).
    fn length_or_encoding(&mut self) -> Result<Result<u64, u8>, Error> {
        let at = self.pos;
        let first = self.u8("length")?;
        Ok(match first >> 6 {
            LEN_6BIT => Ok(u64::from(first & 0x3f)),
            LEN_14BIT => Ok(u64::from(first & 0x3f) << 8 | u64::from(self.u8("length")?)),
            LEN_ENCVAL => Err(first & 0x3f),
            _ => match first {
                LEN_32BIT => Ok(u64::from(u32::from_be_bytes(self.array("32-bit length")?))),
                LEN_64BIT => Ok(u64::from_be_bytes(self.array("64-bit length")?)),
                _ => return Err(Error::new(at, format!("invalid length byte {first:#04x}"))),
            },
        })
    }

    pub fn length(&mut self) -> Result<u64, Error> {
        let at = self.pos;
        self.length_or_encoding()?.map_err(|_| Error::new(at, "expected a length, found a string encoding"))
    }

    /// A length that counts items still to be read. Every item takes at least one byte, so a
    /// count beyond the remaining input is corrupt; rejecting it early also makes it safe to
    /// size allocations from.
    pub fn count(&mut self, what: &str) -> Result<usize, Error> {
        let at = self.pos;
        let n = self.length()?;
        if n > self.remaining() as u64 {
            return Err(Error::new(at, format!("{what} count {n} exceeds remaining input")));
        }
        Ok(n as usize)
    }

    pub fn string(&mut self) -> Result<Blob<'a>, Error> {
        let at = self.pos;
        let int = |v: i64| Blob { data: Cow::Owned(v.to_string().into_bytes()), offset: at, compressed: false };
        Ok(match self.length_or_encoding()? {
            Ok(len) => {
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                let offset = self.pos;
                Blob { data: Cow::Borrowed(self.take(len, "string")?), offset, compressed: false }
            }
            Err(ENC_INT8) => int(i64::from(self.u8("int8")? as i8)),
            Err(ENC_INT16) => int(i64::from(i16::from_le_bytes(self.array("int16")?))),
            Err(ENC_INT32) => int(i64::from(i32::from_le_bytes(self.array("int32")?))),
            Err(ENC_LZF) => {
                let clen = usize::try_from(self.length()?).unwrap_or(usize::MAX);
                let ulen = usize::try_from(self.length()?).unwrap_or(usize::MAX);
                let body_at = self.pos;
                let body = self.take(clen, "LZF string")?;
                let out = lzf::decompress(body, ulen).map_err(|e| e.rebase(body_at, false))?;
                Blob { data: Cow::Owned(out), offset: at, compressed: true }
            }
            Err(other) => return Err(Error::new(at, format!("unknown string encoding {other}"))),
        })
    }

    /// Old-style double (ZSET type 3): a length byte with three special values, then ASCII.
    pub fn double_str(&mut self) -> Result<f64, Error> {
        let at = self.pos;
        match self.u8("double")? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            len => {
                let text = self.take(len as usize, "double")?;
                parse_f64(text).ok_or_else(|| Error::new(at, "invalid double"))
            }
        }
    }

    pub fn double_bin(&mut self) -> Result<f64, Error> {
        Ok(f64::from_le_bytes(self.array("binary double")?))
    }
}

/// Parses a score the way Redis's `strtod` use accepts it: decimal or exponent notation and
/// `inf`/`-inf`/`nan` spellings.
pub(crate) fn parse_f64(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}
