//! Redis RDB serialization, compatible with Redis 7.0 (RDB version 10).
//!
//! - [`dump`] / [`restore`]: the payloads of the DUMP and RESTORE commands.
//! - [`FileWriter`] / [`FileReader`]: whole `dump.rdb` files, streamed entry by entry.
//!
//! Values are written in the encodings Redis 7.0 itself picks (listpacks, intsets, quicklists,
//! LZF-compressed strings), and every encoding Redis 7.0 or older writes can be read.
//! Decoding never panics and never allocates far beyond the input's size, whatever the input.

mod crc64;
mod cursor;
mod dump;
mod encode;
mod error;
mod file;
mod intset;
pub mod listpack;
mod lzf;
mod object;
mod stream;
mod ziplist;
mod zipmap;

pub use crc64::crc64;
pub use dump::{decode_object, dump, dump_functions, restore, restore_functions};
pub use error::Error;
pub use file::{Entry, FileReader, FileWriter};
pub use stream::{StreamConsumer, StreamData, StreamGroup};

/// Field/value pairs, as hashes carry them.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The RDB version written, and the newest one accepted (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

/// A value as RDB carries it, independent of in-memory encodings.
///
/// Sets, hashes and zsets are expected to hold distinct members/fields, as a keyspace does:
/// Redis rejects payloads with duplicates.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// Members with their scores (never NaN). Decoding yields ascending order for the
    /// encodings Redis 7.0 writes.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// A stream: its listpack nodes as they are, metadata and consumer groups.
    Stream(Box<StreamData>),
}
