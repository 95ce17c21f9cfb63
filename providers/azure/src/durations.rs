//! How long ARM usually takes to create, update and delete each resource type: what apply's
//! critical-path-first scheduler orders work by (an AKS cluster or an Application Gateway
//! takes minutes, a subnet seconds, so everything that leads to the slow ones starts first).
//!
//! The figures are typical wall times of the long-running operations in a public region
//! (including ARM's polling interval), rounded; they only order work and never limit it, so
//! being off by half changes nothing that matters.

use std::time::Duration;

use mesh_engine::graph::OpKind;

/// Typical (create, update, delete) times, in seconds.
struct Typical {
    create: u64,
    update: u64,
    delete: u64,
}

const fn typical(create: u64, update: u64, delete: u64) -> Typical {
    Typical {
        create,
        update,
        delete,
    }
}

/// The typical times of `resource_type`, `None` for a type mesh does not know.
fn typical_of(resource_type: &str) -> Option<Typical> {
    let t = match resource_type {
        "azure_kubernetes_cluster" => typical(420, 300, 360),
        "azure_kubernetes_node_pool" => typical(240, 180, 180),
        "azure_application_gateway" => typical(390, 300, 240),
        "azure_bastion_host" => typical(360, 240, 300),
        "azure_container_registry_replication" => typical(180, 60, 120),
        "azure_private_endpoint" => typical(60, 30, 40),
        "azure_key_vault" => typical(30, 15, 15),
        "azure_container_registry" => typical(30, 15, 20),
        "azure_log_analytics_workspace" => typical(30, 15, 20),
        "azure_private_dns_zone" => typical(30, 10, 30),
        "azure_private_dns_zone_virtual_network_link" => typical(30, 20, 30),
        "azure_virtual_network_peering" => typical(10, 10, 10),
        "azure_virtual_network" => typical(6, 6, 12),
        "azure_subnet" => typical(6, 6, 10),
        "azure_public_ip" => typical(4, 4, 10),
        "azure_role_assignment" => typical(5, 5, 5),
        "azure_user_assigned_identity" => typical(3, 3, 3),
        // A resource group's delete waits for what is still in it; mesh empties it first.
        "azure_resource_group" => typical(2, 2, 15),
        "azure_key_vault_certificate" => typical(3, 2, 2),
        "azure_key_vault_key" => typical(2, 1, 2),
        "azure_key_vault_secret" => typical(1, 1, 1),
        // Anything at all: assume a typical long-running PUT.
        "azure_resource" => typical(30, 30, 30),
        _ => return None,
    };
    Some(t)
}

/// How long `operation` on an instance of `resource_type` usually takes.
pub fn expected(resource_type: &str, operation: OpKind) -> Option<Duration> {
    let t = typical_of(resource_type)?;
    let seconds = match operation {
        OpKind::Create => t.create,
        OpKind::Update => t.update,
        OpKind::Delete | OpKind::DeleteDeposed => t.delete,
        OpKind::Read | OpKind::Barrier(_) => return None,
    };
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_type_has_an_estimate() {
        for name in crate::resources::all().keys() {
            for op in [OpKind::Create, OpKind::Update, OpKind::Delete] {
                assert!(
                    expected(name, op).is_some(),
                    "{name} has no expected duration for {op:?}: add it to durations.rs"
                );
            }
        }
    }

    #[test]
    fn clusters_and_gateways_dominate_the_network() {
        let create = |t| expected(t, OpKind::Create).expect("known type");
        assert!(create("azure_kubernetes_cluster") > create("azure_subnet") * 20);
        assert!(create("azure_application_gateway") > create("azure_virtual_network") * 20);
        assert_eq!(expected("azure_subnet", OpKind::Read), None);
        assert_eq!(expected("aws_instance", OpKind::Create), None);
    }
}
