//! The local cloud: Azure Resource Manager and Key Vault data-plane APIs served on loopback,
//! so the Azure provider's production code path runs on a machine without an Azure account.
//!
//! It owns the HTTP server, the stored resources (persisted under `.mesh/`), ARM semantics
//! (IDs, parents, provisioningState, long-running operations, errors, throttling, faults) and
//! one behaviour file per resource type ([`types`]). It must not know mesh's engine or
//! providers: it is tested, and usable, with any ARM client.
#![deny(missing_docs)]

pub mod model;
pub mod types;
