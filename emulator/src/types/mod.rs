//! What the local cloud knows about each Azure resource type: one file per type, each a
//! [`ResourceBehavior`]. The core ([`crate::arm`]) handles what all ARM resources share —
//! IDs, parents, provisioningState, long-running operations, errors — and asks the type for
//! the rest: accepting a PUT body (validation against the rest of the cloud, server-set
//! properties), refusing a DELETE that would break something, and POST actions.

mod agent_pool;
mod application_gateway;
mod bastion_host;
mod container_registry;
mod container_registry_replication;
mod key_vault;
mod log_analytics_workspace;
mod managed_cluster;
mod private_dns_zone;
mod private_dns_zone_virtual_network_link;
mod private_endpoint;
mod public_ip;
mod resource_group;
mod role_assignment;
mod subnet;
mod user_assigned_identity;
mod virtual_network;
mod virtual_network_peering;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Read-only access to everything the local cloud holds, for cross-resource rules.
pub trait CloudView {
    /// A resource by ID (case-insensitive).
    fn get(&self, id: &ArmId) -> Option<&StoredResource>;
    /// Every resource of an ARM type (case-insensitive), in ID order.
    fn of_type(&self, arm_type: &str) -> Vec<&StoredResource>;
    /// The direct children of a resource (of any type).
    fn children(&self, id: &ArmId) -> Vec<&StoredResource>;
    /// The base URL the local cloud serves on (for data-plane URIs such as a vault's).
    fn base_url(&self) -> &str;
}

/// How the local cloud behaves for one ARM type.
pub trait ResourceBehavior: Send + Sync {
    /// The ARM type it handles, e.g. `Microsoft.Network/virtualNetworks/subnets`.
    fn arm_type(&self) -> &'static str;

    /// How long provisioning takes on real Azure, in seconds (the local cloud scales it by its
    /// time factor): a VNet seconds, AKS or an Application Gateway minutes.
    fn provisioning_seconds(&self) -> f64 {
        5.0
    }

    /// Accept a PUT: validate `body` against the rest of the cloud and return the resource as
    /// it will be stored, with server-set properties filled in. The core sets `id`, `name`,
    /// `type` and `properties.provisioningState` itself. `existing` is the current resource on
    /// update.
    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody>;

    /// Refuse a DELETE that Azure would refuse (e.g. a subnet still in use).
    fn check_delete(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: &StoredResource,
    ) -> Result<(), ArmErrorBody> {
        let _ = (cloud, id, existing);
        Ok(())
    }

    /// A POST action on the resource (`listClusterAdminCredential`, `listCredentials`...);
    /// `None` when the type has no such action.
    fn action(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: &StoredResource,
        action: &str,
        body: Option<&Json>,
    ) -> Option<Result<Json, ArmErrorBody>> {
        let _ = (cloud, id, existing, action, body);
        None
    }
}

/// Every type the local cloud serves, by lowercase ARM type.
pub fn all() -> BTreeMap<String, Arc<dyn ResourceBehavior>> {
    let types: Vec<Arc<dyn ResourceBehavior>> = vec![
        Arc::new(resource_group::ResourceGroup),
        Arc::new(user_assigned_identity::UserAssignedIdentity),
        Arc::new(role_assignment::RoleAssignment),
        Arc::new(managed_cluster::ManagedCluster),
        Arc::new(agent_pool::AgentPool),
        Arc::new(container_registry::ContainerRegistry),
        Arc::new(container_registry_replication::ContainerRegistryReplication),
        Arc::new(log_analytics_workspace::LogAnalyticsWorkspace),
        Arc::new(bastion_host::BastionHost),
        Arc::new(private_dns_zone::PrivateDnsZone),
        Arc::new(private_dns_zone_virtual_network_link::PrivateDnsZoneVirtualNetworkLink),
        Arc::new(private_endpoint::PrivateEndpoint),
        Arc::new(private_endpoint::PrivateDnsZoneGroup),
        Arc::new(public_ip::PublicIp),
        Arc::new(subnet::Subnet),
        Arc::new(virtual_network::VirtualNetwork),
        Arc::new(virtual_network_peering::VirtualNetworkPeering),
        Arc::new(application_gateway::ApplicationGateway),
        Arc::new(key_vault::KeyVault),
    ];
    types
        .into_iter()
        .map(|t| (t.arm_type().to_ascii_lowercase(), t))
        .collect()
}

/// Helpers shared by type files.
pub mod util {
    use serde_json::Value as Json;

    use crate::model::ArmErrorBody;

    /// `body.properties`, or an empty object.
    pub fn properties(body: &Json) -> Json {
        body.get("properties")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}))
    }

    /// A required string at a JSON pointer (`/location`, `/properties/addressSpace`), or an
    /// InvalidRequestContent error naming it.
    pub fn required_str<'a>(body: &'a Json, pointer: &str) -> Result<&'a str, ArmErrorBody> {
        body.pointer(pointer).and_then(Json::as_str).ok_or_else(|| {
            ArmErrorBody::invalid(format!(
                "the request content is missing the required property {}",
                pointer.trim_start_matches('/').replace('/', ".")
            ))
        })
    }
}
