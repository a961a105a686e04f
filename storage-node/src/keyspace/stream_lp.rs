//! A growable listpack, byte for byte the encoding Redis's listpack.c writes: stream nodes are
//! kept in it so node sizes (and so node boundaries, and what `~` trimming removes) are the
//! ones redis-server has, and an RDB node is the buffer itself.
//!
//! Layout: `<total bytes u32 LE><count u16 LE, 65535 = unknown><entries...><0xff>`, each entry
//! `<encoding + data><backlen>`. Positions are byte offsets of entries.

use rdb::listpack::{backlen_size, encode_backlen, encode_int, encode_str};

const HEADER: usize = 6;
const END: u8 = 0xff;

/// One element as stored: listpacks hold canonical integers natively.
pub use rdb::listpack::Elem as LpVal;

/// A listpack buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct Lp {
    buf: Vec<u8>,
}

impl std::fmt::Debug for Lp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lp({} bytes)", self.buf.len())
    }
}

impl Default for Lp {
    fn default() -> Self {
        Lp::with_capacity(0)
    }
}

impl Lp {
    /// An empty listpack with room for `cap` bytes (Redis preallocates stream nodes).
    pub fn with_capacity(cap: usize) -> Lp {
        let mut buf = Vec::with_capacity(cap.max(HEADER + 1));
        buf.extend_from_slice(&[0; HEADER]);
        buf.push(END);
        let mut lp = Lp { buf };
        lp.set_header(0);
        lp
    }

    /// Takes a listpack from bytes after checking its structure; `None` when malformed.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Lp> {
        if bytes.len() < HEADER + 1 {
            return None;
        }
        let total = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if total != bytes.len() || bytes[bytes.len() - 1] != END {
            return None;
        }
        let lp = Lp { buf: bytes };
        let mut n = 0usize;
        let mut pos = HEADER;
        while lp.buf.get(pos) != Some(&END) {
            let (_, len) = lp.decode(pos)?;
            let back = backlen_size(len);
            let at = pos + len;
            let stored = lp.buf.get(at..at + back)?;
            if stored != encode_backlen(len).as_slice() {
                return None;
            }
            pos = at + back;
            n += 1;
        }
        if pos + 1 != lp.buf.len() {
            return None;
        }
        let count = u16::from_le_bytes([lp.buf[4], lp.buf[5]]);
        if count != u16::MAX && count as usize != n {
            return None;
        }
        Some(lp)
    }

    /// The raw bytes (what an RDB file stores).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// lpBytes: the listpack's size.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Bytes held for the buffer, spare capacity included (MEMORY USAGE counts what Redis
    /// allocated: a new node is preallocated).
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops spare capacity (Redis shrinks a node once it is full).
    pub fn shrink(&mut self) {
        self.buf.shrink_to_fit();
    }

    fn set_header(&mut self, count: usize) {
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let c = if count < u16::MAX as usize { count as u16 } else { u16::MAX };
        self.buf[4..6].copy_from_slice(&c.to_le_bytes());
    }

    fn count(&self) -> usize {
        let c = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        if c != u16::MAX {
            return c as usize;
        }
        let mut n = 0;
        let mut p = self.first();
        while let Some(at) = p {
            n += 1;
            p = self.next(at);
        }
        n
    }

    /// Appends an integer.
    pub fn push_int(&mut self, v: i64) {
        let enc = encode_int(v);
        self.push_encoded(&enc);
    }

    /// Appends a string, stored as an integer when it is one (as lpAppend does).
    pub fn push_str(&mut self, s: &[u8]) {
        match crate::keyspace::value::canonical_int(s) {
            Some(v) => self.push_int(v),
            None => {
                let enc = encode_str(s);
                self.push_encoded(&enc);
            }
        }
    }

    fn push_encoded(&mut self, enc: &[u8]) {
        let n = self.count();
        self.buf.pop();
        self.buf.extend_from_slice(enc);
        self.buf.extend_from_slice(&encode_backlen(enc.len()));
        self.buf.push(END);
        self.set_header(n + 1);
    }

    /// Position of the first element.
    pub fn first(&self) -> Option<usize> {
        (self.buf.get(HEADER) != Some(&END)).then_some(HEADER)
    }

    /// Position of the element after the one at `pos`.
    pub fn next(&self, pos: usize) -> Option<usize> {
        let (_, len) = self.decode(pos)?;
        let at = pos + len + backlen_size(len);
        (self.buf.get(at).is_some_and(|b| *b != END)).then_some(at)
    }

    /// Position of the element before the one at `pos`, read from that element's back-length
    /// (lpPrev).
    pub fn prev(&self, pos: usize) -> Option<usize> {
        let mut p = pos.checked_sub(1)?;
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let b = *self.buf.get(p)?;
            len |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            if shift > 28 {
                return None;
            }
            p = p.checked_sub(1)?;
            shift += 7;
        }
        let start = pos.checked_sub(backlen_size(len) + len)?;
        (start >= HEADER).then_some(start)
    }

    /// Position of the last element.
    pub fn last(&self) -> Option<usize> {
        self.prev(self.buf.len().checked_sub(1)?)
    }

    /// The element at `pos` (0 for a bad position: callers walk positions this type gave).
    pub fn get(&self, pos: usize) -> LpVal<'_> {
        self.decode(pos).map_or(LpVal::Int(0), |(v, _)| v)
    }

    /// Replaces the integer at `pos` (lpReplaceInteger); later positions may shift.
    pub fn replace_int(&mut self, pos: usize, v: i64) {
        let Some((_, len)) = self.decode(pos) else { return };
        let old = len + backlen_size(len);
        let enc = encode_int(v);
        let mut new = enc.clone();
        new.extend_from_slice(&encode_backlen(enc.len()));
        self.buf.splice(pos..pos + old, new);
        let n = self.count();
        self.set_header(n);
    }

    fn decode(&self, pos: usize) -> Option<(LpVal<'_>, usize)> {
        rdb::listpack::entry(&self.buf, pos).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(lp: &Lp) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut p = lp.first();
        while let Some(at) = p {
            out.push(lp.get(at).to_vec());
            p = lp.next(at);
        }
        out
    }

    #[test]
    fn round_trips_every_encoding() {
        let mut lp = Lp::default();
        let ints = [0i64, 127, 128, -1, -4096, 4095, 4096, -32768, 40000, -8_388_608, 1 << 30, i64::MIN, i64::MAX];
        for v in ints {
            lp.push_int(v);
        }
        let long = vec![b'x'; 5000];
        for s in [&b"a"[..], &[b'y'; 100][..], &long[..], b"12", b"012"] {
            lp.push_str(s);
        }
        let got = all(&lp);
        assert_eq!(got.len(), ints.len() + 5);
        for (i, v) in ints.iter().enumerate() {
            assert_eq!(got[i], v.to_string().into_bytes());
        }
        assert_eq!(got[ints.len() + 2], long);
        assert_eq!(lp.get(lp.first().unwrap()), LpVal::Int(0));
        let copy = Lp::from_bytes(lp.as_bytes().to_vec()).unwrap();
        assert_eq!(copy, lp);
    }

    #[test]
    fn replace_grows_and_keeps_the_rest() {
        let mut lp = Lp::default();
        lp.push_int(127);
        lp.push_str(b"tail");
        let before = lp.bytes();
        lp.replace_int(lp.first().unwrap(), 128);
        assert_eq!(lp.bytes(), before + 1);
        assert_eq!(all(&lp), vec![b"128".to_vec(), b"tail".to_vec()]);
        assert!(Lp::from_bytes(lp.as_bytes().to_vec()).is_some());
        // An empty listpack is 7 bytes, as lpNew makes it.
        assert_eq!(Lp::default().bytes(), 7);
        assert!(Lp::from_bytes(vec![1, 2, 3]).is_none());
    }
}
