//! The fuzz targets: each a plain `fn(&[u8])` that must not panic on any input, with the
//! properties its format promises checked by assertions, and tokens of its grammar.

pub mod acl;
pub mod command;
pub mod inline;
pub mod rdb;
pub mod redis_conf;
pub mod resp;
