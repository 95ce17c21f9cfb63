//! One module per command; each returns its exit code.

pub mod apply;
pub mod check;
pub mod drift;
pub mod graph;
pub mod local;
pub mod local_exec;
pub mod local_kube;
pub mod output;
pub mod plan;
pub mod schema;
pub mod source;
pub mod state;
pub mod state_transfer;
pub mod status;
mod status_cluster;
