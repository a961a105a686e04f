//! Discovery: CLUSTER NODES and CLUSTER INFO asked of a node, and the node list of the first
//! seed that answers. The model itself (`NodeLine`, parsing) is `clusterview::nodes`.

pub use clusterview::nodes::*;

use crate::client::{Conn, ConnOpts, Error};

/// CLUSTER NODES and CLUSTER INFO of the node at `addr`.
pub fn view_of(addr: &str, opts: &ConnOpts) -> Result<View, Error> {
    let mut c = Conn::open(addr, opts)?;
    let nodes = c.call_text(&["CLUSTER", "NODES"])?;
    let nodes = parse_nodes(&nodes, host_of(addr)).map_err(Error::Io)?;
    let info = parse_info(&c.call_text(&["CLUSTER", "INFO"])?);
    Ok(View { nodes, info })
}

/// The node list of the first seed that answers, or every seed's error.
pub fn discover(seeds: &[String], opts: &ConnOpts) -> Result<Vec<NodeLine>, String> {
    let mut errors = Vec::new();
    for seed in seeds {
        match view_of(seed, opts) {
            Ok(mut v) => {
                shard_order(&mut v.nodes);
                return Ok(v.nodes);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    Err(format!("no seed answered: {}", errors.join("; ")))
}
