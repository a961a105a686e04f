//! DUMP/RESTORE payloads: `<type><body><RDB version u16 LE><CRC64 LE of all preceding bytes>`.

use crate::cursor::Cursor;
use crate::encode::write_string;
use crate::file::op;
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

/// FUNCTION DUMP's payload: every library as an RDB function entry, then the same footer.
pub fn dump_functions<C: AsRef<[u8]>>(codes: &[C]) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(op::FUNCTION2);
        write_string(&mut out, code.as_ref());
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a FUNCTION RESTORE payload into the libraries' code. Errors carry Redis's reply
/// texts (without the `ERR ` prefix).
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let body = verify_footer(payload).map_err(|_| BAD_FOOTER.to_string())?;
    let mut c = Cursor::new(body);
    let mut codes = Vec::new();
    while c.remaining() > 0 {
        match c.u8("type") {
            Ok(op::FUNCTION2) => {}
            Ok(op::FUNCTION_PRE_GA) => return Err("Pre-GA function format not supported".into()),
            Ok(_) => return Err("given type is not a function".into()),
            Err(_) => return Err("can not read data type".into()),
        }
        let code = c.string().map_err(|_| "failed loading the given functions payload".to_string())?;
        codes.push(code.into_vec());
    }
    Ok(codes)
}

/// Checks the footer (version no newer than ours, CRC64) and returns the body before it.
fn verify_footer(payload: &[u8]) -> Result<&[u8], Error> {
    if payload.len() < FOOTER {
        return Err(Error::new(0, BAD_FOOTER));
    }
    let body_len = payload.len() - FOOTER;
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    if version > RDB_VERSION {
        return Err(Error::new(body_len, BAD_FOOTER));
    }
    let crc_at = body_len + 2;
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&payload[crc_at..]);
    if u64::from_le_bytes(tail) != crc64(0, &payload[..crc_at]) {
        return Err(Error::new(crc_at, BAD_FOOTER));
    }
    Ok(&payload[..body_len])
}

/// Verifies a DUMP payload's footer (version no newer than ours, CRC64) and decodes it.
pub fn restore(payload: &[u8]) -> Result<Value, Error> {
    decode_object(verify_footer(payload)?)
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
    fn function_payloads() {
        let codes = [b"#!lua name=a\nx".to_vec(), vec![b'y'; 300]];
        let p = dump_functions(&codes);
        assert_eq!(p[0], 0xf5);
        assert_eq!(restore_functions(&p).unwrap(), codes.to_vec());
        assert_eq!(restore_functions(&dump_functions::<&[u8]>(&[])).unwrap(), Vec::<Vec<u8>>::new());
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert_eq!(restore_functions(&bad).unwrap_err(), BAD_FOOTER);
        let string = dump(&Value::String(b"1".to_vec()));
        assert_eq!(restore_functions(&string).unwrap_err(), "given type is not a function");
    }

    #[test]
    fn unsupported_types_are_named() {
        let e = decode_object(&[7, 0]).unwrap_err();
        assert_eq!((e.offset, e.msg.as_str()), (0, "unsupported type 7"));
        assert!(decode_object(&[0, 1, b'a', 0]).unwrap_err().msg.contains("trailing"));
    }
}
