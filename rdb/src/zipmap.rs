//! Zipmaps: the hash encoding of Redis before 2.6, still loaded by 7.0. Read-only.
//! Layout: `<zmlen u8><len>key<len><free u8>value...<0xff>`, where `len` is one byte below
//! 254, or 254 followed by a u32 LE; `free` counts unused bytes after the value.

use crate::{Error, Pairs};

const BIG_LEN: u8 = 254;
const END: u8 = 0xff;

pub(crate) fn parse(zm: &[u8]) -> Result<Pairs, Error> {
    let mut pos = 1; // zmlen is only a hint (saturates at 254)
    let mut out = Vec::new();
    let len_at = |pos: &mut usize| -> Result<Option<usize>, Error> {
        let at = *pos;
        match zm.get(at) {
            None => Err(Error::new(at, "zipmap truncated")),
            Some(&END) => Ok(None),
            Some(&BIG_LEN) => {
                let b = zm.get(at + 1..at + 5).ok_or_else(|| Error::new(at, "zipmap length truncated"))?;
                *pos += 5;
                Ok(Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize))
            }
            Some(&l) => {
                *pos += 1;
                Ok(Some(usize::from(l)))
            }
        }
    };
    let take = |pos: &mut usize, n: usize| -> Result<Vec<u8>, Error> {
        let s = zm.get(*pos..pos.saturating_add(n)).ok_or_else(|| Error::new(*pos, "zipmap entry truncated"))?;
        *pos += n;
        Ok(s.to_vec())
    };
    if zm.is_empty() {
        return Err(Error::new(0, "zipmap truncated"));
    }
    while let Some(klen) = len_at(&mut pos)? {
        let key = take(&mut pos, klen)?;
        let vlen = len_at(&mut pos)?.ok_or_else(|| Error::new(pos, "zipmap key without value"))?;
        let free = usize::from(*zm.get(pos).ok_or_else(|| Error::new(pos, "zipmap truncated"))?);
        pos += 1;
        let value = take(&mut pos, vlen)?;
        take(&mut pos, free)?;
        out.push((key, value));
    }
    if pos + 1 != zm.len() {
        return Err(Error::new(pos, "zipmap has bytes after terminator"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hand_built() {
        let mut zm = vec![2, 3, b'f', b'o', b'o', 3, 2, b'b', b'a', b'r', 0, 0];
        zm.extend_from_slice(&[1, b'k', BIG_LEN, 0, 1, 0, 0, 0]);
        zm.extend_from_slice(&[b'v'; 256]);
        zm.push(END);
        let got = parse(&zm).unwrap();
        assert_eq!(got, vec![(b"foo".to_vec(), b"bar".to_vec()), (b"k".to_vec(), vec![b'v'; 256])]);
    }

    #[test]
    fn rejects_corruption() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[1, 3, b'f']).is_err());
        assert!(parse(&[1, 1, b'k', END]).is_err());
        assert!(parse(&[0, END, 0]).is_err());
        assert!(parse(&[1, 1, b'k', 1, 200, b'v', END]).is_err());
        assert_eq!(parse(&[0, END]).unwrap(), vec![]);
    }
}
