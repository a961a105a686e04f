//! Whole RDB files: `REDIS0010`, AUX fields, then per database SELECTDB + RESIZEDB and the
//! entries (each optionally preceded by expiry/LRU/LFU opcodes), then EOF and a CRC64 of
//! everything before the checksum.

use std::io::{self, Write};

use crate::cursor::{Blob, Cursor};
use crate::encode::{write_len, write_string};
use crate::object::{read_body, write_object};
use crate::{crc64, Error, Value, RDB_VERSION};

pub(crate) mod op {
    pub const FUNCTION2: u8 = 0xf5;
    pub const FUNCTION_PRE_GA: u8 = 0xf6;
    pub const MODULE_AUX: u8 = 0xf7;
    pub const IDLE: u8 = 0xf8;
    pub const FREQ: u8 = 0xf9;
    pub const AUX: u8 = 0xfa;
    pub const RESIZEDB: u8 = 0xfb;
    pub const EXPIRETIME_MS: u8 = 0xfc;
    pub const EXPIRETIME: u8 = 0xfd;
    pub const SELECTDB: u8 = 0xfe;
    pub const EOF: u8 = 0xff;
}

const MAGIC: &[u8] = b"REDIS";
/// Files before version 5 carry no checksum after EOF.
const FIRST_VERSION_WITH_CRC: u16 = 5;

/// Streams an RDB file into `W`, checksumming as it goes. Each record is encoded into a
/// reused buffer first, so the writer sees few, large writes (wrap files in a `BufWriter`
/// anyway if entries are small).
pub struct FileWriter<W: Write> {
    w: W,
    crc: u64,
    buf: Vec<u8>,
}

impl<W: Write> FileWriter<W> {
    /// Writes the header and the given AUX fields (`redis-ver`, `redis-bits`, `ctime`,
    /// `used-mem`, `aof-base`, ...: whatever the caller wants recorded).
    pub fn new(w: W, aux: &[(&str, &[u8])]) -> io::Result<Self> {
        let mut fw = FileWriter { w, crc: 0, buf: Vec::new() };
        fw.buf.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
        for (k, v) in aux {
            fw.buf.push(op::AUX);
            write_string(&mut fw.buf, k.as_bytes());
            write_string(&mut fw.buf, v);
        }
        fw.flush_buf()?;
        Ok(fw)
    }

    /// Starts database `db`; `size` and `expires` are the key and volatile-key counts, which
    /// loaders use to presize their tables.
    pub fn select_db(&mut self, db: u32, size: u64, expires: u64) -> io::Result<()> {
        self.buf.push(op::SELECTDB);
        write_len(&mut self.buf, u64::from(db));
        self.buf.push(op::RESIZEDB);
        write_len(&mut self.buf, size);
        write_len(&mut self.buf, expires);
        self.flush_buf()
    }

    /// Writes one function library (its code, shebang included), as Redis 7.0 does before
    /// the databases.
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.buf.push(op::FUNCTION2);
        write_string(&mut self.buf, code);
        self.flush_buf()
    }

    /// Writes one key, with its absolute expiry in Unix milliseconds if it has one.
    pub fn entry(&mut self, key: &[u8], v: &Value, expire_at_ms: Option<i64>) -> io::Result<()> {
        if let Some(ms) = expire_at_ms {
            self.buf.push(op::EXPIRETIME_MS);
            self.buf.extend_from_slice(&ms.to_le_bytes());
        }
        write_object(&mut self.buf, Some(key), v);
        self.flush_buf()
    }

    /// Writes EOF and the checksum, flushes, and hands the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        self.buf.push(op::EOF);
        self.flush_buf()?;
        self.w.write_all(&self.crc.to_le_bytes())?;
        self.w.flush()?;
        Ok(self.w)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.crc = crc64(self.crc, &self.buf);
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// One key read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub db: u32,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute expiry in Unix milliseconds.
    pub expire_at_ms: Option<i64>,
}

/// Reads the entries of an RDB file held in memory.
pub struct FileReader<'a> {
    data: &'a [u8],
    c: Cursor<'a>,
    version: u16,
    db: u32,
    aux: Vec<(Vec<u8>, Vec<u8>)>,
    functions: Vec<Vec<u8>>,
    done: bool,
    /// Once decoding fails the position is meaningless, so the error is repeated.
    failed: Option<Error>,
}

impl<'a> FileReader<'a> {
    /// Checks the `REDIS` magic and that the version is one we can read (1 to 10).
    pub fn new(data: &'a [u8]) -> Result<Self, Error> {
        if data.len() < 9 || &data[..5] != MAGIC {
            return Err(Error::new(0, "not an RDB file (missing REDIS magic)"));
        }
        let digits = &data[5..9];
        let version = std::str::from_utf8(digits)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| Error::new(5, "invalid RDB version field"))?;
        if version == 0 || version > RDB_VERSION {
            return Err(Error::new(5, format!("unsupported RDB version {version}")));
        }
        let mut c = Cursor::new(data);
        c.take(9, "header")?;
        Ok(FileReader { data, c, version, db: 0, aux: Vec::new(), functions: Vec::new(), done: false, failed: None })
    }

    /// The file's RDB version.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// AUX fields seen so far (all of them, once the first entry has been read).
    pub fn aux(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.aux
    }

    /// The code of the function libraries seen so far (all of them once the first entry has
    /// been read: Redis writes them before the databases).
    pub fn functions(&self) -> &[Vec<u8>] {
        &self.functions
    }

    /// The next key, or `None` after EOF (whose checksum has then been verified).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.done {
            return Ok(None);
        }
        let r = self.read_entry();
        match &r {
            Err(e) => self.failed = Some(e.clone()),
            Ok(None) => self.done = true,
            Ok(Some(_)) => {}
        }
        r
    }

    fn read_entry(&mut self) -> Result<Option<Entry>, Error> {
        let c = &mut self.c;
        let mut expire_at_ms = None;
        loop {
            let at = c.pos();
            match c.u8("opcode")? {
                op::EOF => {
                    self.verify_checksum(at + 1)?;
                    return Ok(None);
                }
                op::SELECTDB => {
                    let db = c.length()?;
                    self.db =
                        u32::try_from(db).map_err(|_| Error::new(at + 1, format!("database {db} out of range")))?;
                }
                op::RESIZEDB => {
                    c.length()?;
                    c.length()?;
                }
                op::AUX => {
                    let k = c.string()?.into_vec();
                    let v = c.string()?.into_vec();
                    self.aux.push((k, v));
                }
                op::EXPIRETIME => {
                    // Seconds, as a 32-bit int: RDB versions before 3.
                    expire_at_ms = Some(i64::from(i32::from_le_bytes(c.array("expire time")?)) * 1000);
                }
                op::EXPIRETIME_MS => expire_at_ms = Some(i64::from_le_bytes(c.array("expire time")?)),
                // LFU counter and LRU idle time: eviction hints we have no use for.
                op::FREQ => {
                    c.u8("LFU frequency")?;
                }
                op::IDLE => {
                    c.length()?;
                }
                op::MODULE_AUX => return Err(Error::new(at, "module aux data is not supported")),
                op::FUNCTION2 => {
                    let code = c.string()?.into_vec();
                    self.functions.push(code);
                }
                op::FUNCTION_PRE_GA => return Err(Error::new(at, "Pre-GA function format not supported")),
                t => {
                    let key = c.string().map(Blob::into_vec)?;
                    let value = read_body(c, t, at)?;
                    return Ok(Some(Entry { db: self.db, key, value, expire_at_ms }));
                }
            }
        }
    }

    /// `end` is just past the EOF opcode; the checksum covers everything before it.
    fn verify_checksum(&mut self, end: usize) -> Result<(), Error> {
        if self.version < FIRST_VERSION_WITH_CRC {
            return Ok(());
        }
        let stored = u64::from_le_bytes(self.c.array("checksum")?);
        // Redis writes zero when checksumming is disabled (rdbchecksum no).
        if stored != 0 && stored != crc64(0, &self.data[..end]) {
            return Err(Error::new(end, "RDB checksum mismatch"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = FileWriter::new(Vec::new(), &[("redis-ver", b"7.0.15"), ("redis-bits", b"64")]).unwrap();
        w.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)").unwrap();
        w.select_db(0, 2, 1).unwrap();
        w.entry(b"a", &Value::String(b"1".to_vec()), None).unwrap();
        w.entry(b"b", &Value::List(vec![b"x".to_vec()]), Some(1_700_000_000_000)).unwrap();
        w.select_db(3, 1, 0).unwrap();
        w.entry(b"c", &Value::Set(vec![b"m".to_vec()]), None).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn round_trip() {
        let file = sample();
        assert!(file.starts_with(b"REDIS0010"));
        let mut r = FileReader::new(&file).unwrap();
        let a = r.next_entry().unwrap().unwrap();
        assert_eq!((a.db, a.key, a.value, a.expire_at_ms), (0, b"a".to_vec(), Value::String(b"1".to_vec()), None));
        assert_eq!(r.aux()[1], (b"redis-bits".to_vec(), b"64".to_vec()));
        assert!(r.functions()[0].starts_with(b"#!lua name=lib\n"));
        let b = r.next_entry().unwrap().unwrap();
        assert_eq!(b.expire_at_ms, Some(1_700_000_000_000));
        let c = r.next_entry().unwrap().unwrap();
        assert_eq!((c.db, c.value), (3, Value::Set(vec![b"m".to_vec()])));
        assert_eq!(r.next_entry().unwrap(), None);
        assert_eq!(r.next_entry().unwrap(), None);
    }

    #[test]
    fn checksum_and_header() {
        let mut file = sample();
        let n = file.len();
        file[n - 3] ^= 0x40;
        let mut r = FileReader::new(&file).unwrap();
        let e = loop {
            match r.next_entry() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("corrupt checksum accepted"),
                Err(e) => break e,
            }
        };
        assert_eq!(e.offset, n - 8);
        assert_eq!(r.next_entry().unwrap_err(), e);

        // A zero checksum means "not computed" and is accepted.
        file[n - 8..].fill(0);
        let mut r = FileReader::new(&file).unwrap();
        while r.next_entry().unwrap().is_some() {}

        assert!(FileReader::new(b"REDIS0011").is_err());
        assert!(FileReader::new(b"REDIX0010").is_err());
        assert!(FileReader::new(b"REDIS00a0").is_err());
        // Version 3 files have no checksum, and second-resolution expiries.
        let mut old = b"REDIS0003\xfd\x10\x00\x00\x00\x00\x01k\x01v\xff".to_vec();
        let mut r = FileReader::new(&old).unwrap();
        assert_eq!(r.next_entry().unwrap().unwrap().expire_at_ms, Some(16_000));
        assert_eq!(r.next_entry().unwrap(), None);
        old[9] = op::MODULE_AUX;
        assert_eq!(FileReader::new(&old).unwrap().next_entry().unwrap_err().offset, 9);
    }
}
