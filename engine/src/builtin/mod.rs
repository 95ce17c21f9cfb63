//! Providers built into the engine, available without any provider crate.
//!
//! Today that is only the `mesh` provider with its `mesh_data` resource (see [`mesh_data`]):
//! a resource that lives only in state, mesh's counterpart of Terraform's `terraform_data`.
//! Built-ins follow the same [`Provider`] contract as any plug-in; the engine gives them no
//! special treatment beyond registering them by default.

pub mod mesh_data;

use std::sync::Arc;

use crate::provider::Provider;

pub use mesh_data::MeshProvider;

/// Every built-in provider, ready to be registered in a
/// [`ProviderRegistry`](crate::provider::ProviderRegistry).
pub fn providers() -> Vec<Arc<dyn Provider>> {
    vec![Arc::new(MeshProvider)]
}
