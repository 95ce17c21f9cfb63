//! What the local cloud knows about each Azure resource type: one file per type, each a
//! [`ResourceBehavior`]. The core ([`crate::arm`]) handles what all ARM resources share —
//! IDs, parents, provisioningState, long-running operations, errors — and asks the type for
//! the rest: accepting a PUT body (validation against the rest of the cloud, server-set
//! properties), refusing a DELETE that would break something, and POST actions. A type may
//! also write or delete its child resources along with a PUT ([`ResourceBehavior::changes_after_put`])
//! and show what a resource looks like now rather than at its last PUT
//! ([`ResourceBehavior::view`]): a network lists its current subnets, a cluster its pools.

mod agent_pool;
mod application_gateway;
mod bastion_host;
mod container_registry;
mod container_registry_replication;
mod key_vault;
mod log_analytics_workspace;
pub(crate) mod managed_cluster;
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

/// A change a PUT makes besides storing the resource, applied by the core in the same step.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Create or replace a child (a descendant of the resource being PUT) with `body`, shaped
    /// as an `accept_put` result: the core sets `id`, `name`, `type` and the provisioningState,
    /// and the child shares the parent's operation (it is Succeeded when the parent is).
    PutChild {
        /// The child's ID.
        id: ArmId,
        /// The child as it will be stored.
        body: Json,
    },
    /// Delete a child (a descendant of the resource being PUT) and everything below it; the
    /// core refuses the whole PUT when the child's `check_delete` refuses.
    DeleteChild {
        /// The child's ID.
        id: ArmId,
    },
    /// Merge a JSON merge patch (RFC 7386) into another existing resource's stored body, for
    /// server-set properties a PUT changes elsewhere (a remote peering becoming Connected);
    /// no operation, no provisioningState change. Ignored when the resource does not exist.
    Patch {
        /// The resource's ID.
        id: ArmId,
        /// The merge patch.
        patch: Json,
    },
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

    /// What else the PUT changes, given the body `accept_put` returned (before the core adds
    /// `id`, `name`, `type` and provisioningState): children created, updated or deleted with
    /// the resource, server-set properties of related resources. The type may take out of
    /// `body` what is stored as children instead (inline subnets, agent pool profiles), and
    /// show it again through [`ResourceBehavior::view`]. Default: no other change.
    fn changes_after_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        body: &mut Json,
    ) -> Result<Vec<Change>, ArmErrorBody> {
        let _ = (cloud, id, body);
        Ok(Vec::new())
    }

    /// The resource as GET, list and PUT responses show it now (e.g. a network with the
    /// subnets and peerings that exist now). Default: the stored body.
    fn view(&self, cloud: &dyn CloudView, stored: &StoredResource) -> Json {
        let _ = cloud;
        stored.body.clone()
    }

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
