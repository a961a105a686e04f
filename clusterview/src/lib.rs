//! The cluster model shared by the operator's command (`slotgate`) and the proxy's status page:
//! CLUSTER NODES and INFO parsed, and a cluster's health judged from what its nodes said.
//! Pure data and functions: talking to the nodes is the caller's business.

pub mod health;
pub mod nodes;

use serde::Serialize;

/// How a cluster is, and the exit status `slotgate` gives for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok = 0,
    Degraded = 1,
    Failed = 2,
}
