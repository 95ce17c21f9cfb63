//! The local cloud: Azure Resource Manager and Key Vault data-plane APIs served on loopback,
//! so the Azure provider's production code path runs on a machine without an Azure account.
//!
//! It owns the HTTP server ([`LocalCloud`]; HTTPS with a local CA on request, [`TlsConfig`]),
//! the stored resources (persisted under `.mesh/`), ARM semantics (IDs, parents,
//! provisioningState, long-running operations, errors, throttling, faults), the Key Vault data
//! plane, a Kubernetes API for every AKS cluster (`kube`, at `{url}/aks/{cluster}`, where the
//! cluster's kubeconfig points) with a simulated mesh data plane (`dataplane`: curl from a pod,
//! [`LocalCloud::exec`]), and one behaviour file per resource type ([`types`]). It must
//! not know mesh's engine or providers: it is tested, and usable, with any ARM client.
#![deny(missing_docs)]

pub mod arm;
mod dataplane;
pub mod keyvault;
mod kube;
mod limits;
mod listener;
pub mod model;
mod operations;
mod options;
mod pem;
pub mod reply;
mod server;
pub mod store;
mod tls;
pub mod types;
mod urls;

use std::collections::BTreeMap;
use std::path::Path;

pub use options::{EmulatorError, Faults, LocalCloudOptions, Throttle};
pub use server::LocalCloud;
pub use tls::{serves_https, TlsConfig, CA_FILE, CA_KEY_FILE};

/// What a data directory holds, without starting a server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataSummary {
    /// Every stored resource ID (original case), sorted.
    pub resource_ids: Vec<String>,
    /// How many resources of each ARM type.
    pub by_type: BTreeMap<String, usize>,
    /// Secrets, certificates and keys stored in vaults.
    pub vault_objects: usize,
}

/// The contents of `data_dir`: `None` when no local cloud data is there.
pub fn inspect_data(data_dir: &Path) -> Result<Option<DataSummary>, EmulatorError> {
    let Some(cloud) = store::read_data_file(&data_dir.join(store::DATA_FILE))? else {
        return Ok(None);
    };
    let mut summary = DataSummary::default();
    for (key, entry) in &cloud.resources {
        summary.resource_ids.push(entry.resource.id.clone());
        let arm_type = model::ArmId::parse(key)
            .map(|id| id.arm_type())
            .unwrap_or_default();
        let arm_type = entry
            .resource
            .body
            .get("type")
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .unwrap_or(arm_type);
        *summary.by_type.entry(arm_type).or_default() += 1;
    }
    summary.resource_ids.sort();
    summary.vault_objects = cloud.vaults.values().map(|v| v.object_count()).sum();
    Ok(Some(summary))
}

/// Delete the local cloud's data in `data_dir`; `false` when there was none.
pub fn reset_data(data_dir: &Path) -> Result<bool, EmulatorError> {
    let path = data_dir.join(store::DATA_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(EmulatorError::Io {
            what: "delete",
            path,
            source,
        }),
    }
}
