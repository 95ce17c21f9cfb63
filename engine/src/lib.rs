//! The mesh engine: the spec language, the dependency graph, and the plan/apply loop.
//!
//! It owns parsing HCL spec directories into a validated configuration, evaluating expressions
//! with unknown and sensitive marks, building the resource-instance graph, diffing it against
//! prior state into a plan, and walking that plan through providers. It must not know any cloud:
//! Azure, Kubernetes and PKI live in provider crates that implement [`provider::Provider`]; the
//! engine only sees schemas and request/response data.
#![deny(missing_docs)]
// Diagnostics carry file, line, column and the source line: errors are rich by design, and they
// travel on the cold path only.
#![allow(clippy::result_large_err)]

pub mod address;
pub mod apply;
pub mod builtin;
pub mod config;
pub mod diagnostics;
pub mod eval;
pub mod evaluation;
pub mod format;
pub mod functions;
pub mod graph;
pub mod plan;
pub mod provider;
pub mod refresh;
pub mod render;
pub mod state_view;
pub mod validate;
pub mod value;
