//! Everything slotgate's node and proxy agree on about the wire: RESP frames and their codec,
//! the command table (arity, flags, key positions, ACL categories), slot hashing and Redis glob
//! matching. Shared logic lives here once.

pub mod command;
pub mod decode;
pub mod encode;
pub mod frame;
pub mod glob;
pub mod introspect;
pub mod route;
pub mod slot;
pub mod split;
mod table;

pub use command::{lookup, CommandSpec, KeySpec};
pub use decode::{CommandDecoder, DecodeLimits, ProtocolError};
pub use encode::{Proto, Reply};
pub use frame::Frame;
pub use glob::glob_match;
pub use slot::{crc16, key_slot, SLOT_COUNT};
