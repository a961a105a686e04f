//! DUMP/RESTORE payloads: `<type><body><RDB version u16 LE><CRC64 LE of all preceding bytes>`.

use crate::cursor::Cursor;
use crate::object::{read_object, write_object};
use crate::{crc64, Error, Value, RDB_VERSION};

const FOOTER: usize = 10;
/// Redis uses one message for both checks, and clients match on it.
const BAD_FOOTER: &str = "DUMP payload version or checksum are wrong";

/// Serializes `v` as Redis's DUMP does.
pub fn dump(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_object(&mut out, None, v);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Verifies a DUMP payload's footer (version no newer than ours, CRC64) and decodes it.
pub fn restore(payload: &[u8]) -> Result<Value, Error> {
    if payload.len() < FOOTER {
        return Err(Error::new(0, BAD_FOOTER));
    }
    let body_len = payload.len() - FOOTER;
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    if version > RDB_VERSION {
        return Err(Error::new(body_len, BAD_FOOTER));
    }
    let crc_at = body_len + 2;
    let stored = u64::from_le_bytes(payload[crc_at..].try_into().expect("8-byte footer tail"));
    if stored != crc64(0, &payload[..crc_at]) {
        return Err(Error::new(crc_at, BAD_FOOTER));
    }
    decode_object(&payload[..body_len])
}

/// Decodes `<type><body>` without any footer: what [`restore`] does once the footer checks
/// out. Useful for payloads whose integrity is already established elsewhere; still never
/// panics on corrupt input. The whole slice must be one object.
pub fn decode_object(data: &[u8]) -> Result<Value, Error> {
    let mut c = Cursor::new(data);
    let v = read_object(&mut c)?;
    if c.remaining() != 0 {
        return Err(Error::new(c.pos(), format!("{} trailing bytes after object", c.remaining())));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_checks() {
        let mut p = dump(&Value::String(b"hello".to_vec()));
        assert_eq!(restore(&p).unwrap(), Value::String(b"hello".to_vec()));
        let n = p.len();
        p[n - 1] ^= 1;
        let e = restore(&p).unwrap_err();
        assert_eq!((e.msg.as_str(), e.offset), (BAD_FOOTER, n - 8));
        assert_eq!(e.to_string(), format!("{BAD_FOOTER} at offset {}", n - 8));

        // A newer RDB version is refused even with a correct checksum.
        let mut p = dump(&Value::String(b"x".to_vec()));
        let body = p.len() - FOOTER;
        p[body..body + 2].copy_from_slice(&11u16.to_le_bytes());
        let crc = crc64(0, &p[..body + 2]);
        p[body + 2..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(restore(&p).unwrap_err().offset, body);
        assert!(restore(&[0; 9]).is_err());
    }

    #[test]
    fn unsupported_types_are_named() {
        let e = decode_object(&[15, 0]).unwrap_err();
        assert_eq!((e.offset, e.msg.as_str()), (0, "unsupported type 15"));
        assert!(decode_object(&[0, 1, b'a', 0]).unwrap_err().msg.contains("trailing"));
    }
}
