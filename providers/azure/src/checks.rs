//! Plan-time checks across resources: mistakes Azure reports only when the request arrives,
//! often half an hour into an apply, found by `mesh plan` from the planned values alone.
//!
//! Single-resource rules (names, sizes) live in each type's `validate`; here are the rules
//! that need more than one resource: address spaces of peered networks, subnets against their
//! network and siblings, the Bastion and Application Gateway subnets, AKS service ranges, and
//! node pools against their cluster's network. Unknown values are skipped, never guessed.

use std::collections::BTreeMap;

use ipnet::IpNet;
use mesh_engine::provider::{PlanFinding, PlannedResource};
use mesh_engine::value::Value;

/// A network as planned: its ID, address space, and its subnets (inline or separate).
#[derive(Debug, Default)]
struct Network {
    address: String,
    spaces: Vec<IpNet>,
    subnets: Vec<Subnet>,
}

#[derive(Debug, Clone)]
struct Subnet {
    /// The resource the subnet is declared by.
    address: String,
    attribute: &'static str,
    name: String,
    prefixes: Vec<IpNet>,
}

fn string(v: &Value, key: &str) -> Option<String> {
    match v.get(key).map(|x| x.unmark().0) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    match v.get(key).map(|x| x.unmark().0) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|i| i.unmark().0.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn cidrs(v: &Value, key: &str) -> Vec<IpNet> {
    strings(v, key)
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Nested block values under `key`, whether the block is single or repeated.
fn blocks<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    match v.get(key).map(|x| x.unmark().0) {
        Some(Value::List(items)) => items.iter().collect(),
        Some(m @ Value::Map(_)) => vec![m],
        _ => Vec::new(),
    }
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// The network ID a subnet ID belongs to: everything before `/subnets/`.
fn network_of_subnet(subnet_id: &str) -> Option<String> {
    let i = lower(subnet_id).rfind("/subnets/")?;
    Some(lower(&subnet_id[..i]))
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn finding(address: &str, attribute: &str, message: String) -> PlanFinding {
    PlanFinding {
        address: address.to_string(),
        attribute: Some(attribute.to_string()),
        message,
        ..PlanFinding::default()
    }
}

/// Every cross-resource check over one provider's planned resources.
pub fn check(resources: &[PlannedResource]) -> Vec<PlanFinding> {
    let networks = collect_networks(resources);
    let mut out = Vec::new();
    check_subnets(&networks, &mut out);
    check_peerings(resources, &networks, &mut out);
    check_bastion(resources, &networks, &mut out);
    check_application_gateways(resources, &mut out);
    check_clusters(resources, &networks, &mut out);
    check_node_pools(resources, &mut out);
    out
}

fn collect_networks(resources: &[PlannedResource]) -> BTreeMap<String, Network> {
    let mut networks: BTreeMap<String, Network> = BTreeMap::new();
    for r in resources
        .iter()
        .filter(|r| r.resource_type == "azure_virtual_network")
    {
        let Some(id) = string(&r.value, "id") else {
            continue;
        };
        let net = networks.entry(lower(&id)).or_default();
        net.address = r.address.clone();
        net.spaces = cidrs(&r.value, "address_space");
        for s in blocks(&r.value, "subnet") {
            let mut prefixes = cidrs(s, "address_prefixes");
            prefixes.extend(cidrs(s, "address_prefix"));
            net.subnets.push(Subnet {
                address: r.address.clone(),
                attribute: "subnet",
                name: string(s, "name").unwrap_or_default(),
                prefixes,
            });
        }
    }
    for r in resources
        .iter()
        .filter(|r| r.resource_type == "azure_subnet")
    {
        let Some(id) = string(&r.value, "id") else {
            continue;
        };
        let Some(network) = network_of_subnet(&id) else {
            continue;
        };
        let net = networks.entry(network).or_default();
        net.subnets.push(Subnet {
            address: r.address.clone(),
            attribute: "address_prefixes",
            name: string(&r.value, "name").unwrap_or_default(),
            prefixes: cidrs(&r.value, "address_prefixes"),
        });
    }
    networks
}

fn check_subnets(networks: &BTreeMap<String, Network>, out: &mut Vec<PlanFinding>) {
    for net in networks.values() {
        for (i, subnet) in net.subnets.iter().enumerate() {
            for prefix in &subnet.prefixes {
                if !net.spaces.is_empty() && !net.spaces.iter().any(|space| space.contains(prefix))
                {
                    let spaces: Vec<String> = net.spaces.iter().map(|s| s.to_string()).collect();
                    out.push(finding(&subnet.address, subnet.attribute, format!(
                        "subnet {} ({prefix}) is outside its network's address space ({}); Azure refuses it with NetcfgSubnetRangeOutsideVnet",
                        subnet.name, spaces.join(", ")
                    )));
                }
            }
            for other in &net.subnets[i + 1..] {
                if other.name == subnet.name {
                    continue;
                }
                for a in &subnet.prefixes {
                    for b in other.prefixes.iter().filter(|b| overlaps(a, b)) {
                        out.push(finding(&other.address, other.attribute, format!(
                            "subnet {} ({b}) overlaps sibling subnet {} ({a}) declared by {}; Azure refuses it with NetcfgSubnetRangesOverlap",
                            other.name, subnet.name, subnet.address
                        )));
                    }
                }
            }
        }
    }
}

fn check_peerings(
    resources: &[PlannedResource],
    networks: &BTreeMap<String, Network>,
    out: &mut Vec<PlanFinding>,
) {
    for r in resources
        .iter()
        .filter(|r| r.resource_type == "azure_virtual_network_peering")
    {
        let (Some(id), Some(remote)) = (
            string(&r.value, "id"),
            string(&r.value, "remote_virtual_network_id"),
        ) else {
            continue;
        };
        let Some(i) = lower(&id).rfind("/virtualnetworkpeerings/") else {
            continue;
        };
        let local = lower(&id[..i]);
        let (Some(l), Some(rn)) = (networks.get(&local), networks.get(&lower(&remote))) else {
            continue;
        };
        for a in &l.spaces {
            for b in rn.spaces.iter().filter(|b| overlaps(a, b)) {
                out.push(finding(&r.address, "remote_virtual_network_id", format!(
                    "the peered networks' address spaces overlap: {a} ({}) and {b} ({}); peering fails with VnetAddressSpacesOverlap",
                    l.address, rn.address
                )));
            }
        }
    }
}

fn subnet_by_id<'a>(
    networks: &'a BTreeMap<String, Network>,
    subnet_id: &str,
) -> Option<&'a Subnet> {
    let net = networks.get(&network_of_subnet(subnet_id)?)?;
    let name = subnet_id.rsplit('/').next()?;
    net.subnets
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
}

fn check_bastion(
    resources: &[PlannedResource],
    networks: &BTreeMap<String, Network>,
    out: &mut Vec<PlanFinding>,
) {
    for r in resources
        .iter()
        .filter(|r| r.resource_type == "azure_bastion_host")
    {
        for ip in blocks(&r.value, "ip_configuration") {
            let Some(subnet_id) = string(ip, "subnet_id") else {
                continue;
            };
            if !subnet_id.ends_with("/subnets/AzureBastionSubnet") {
                out.push(finding(&r.address, "ip_configuration.subnet_id", format!(
                    "Azure Bastion must be deployed in a subnet named exactly AzureBastionSubnet, not {}",
                    subnet_id.rsplit('/').next().unwrap_or_default()
                )));
                continue;
            }
            if let Some(subnet) = subnet_by_id(networks, &subnet_id) {
                if let Some(small) = subnet.prefixes.iter().find(|p| p.prefix_len() > 26) {
                    out.push(finding(
                        &r.address,
                        "ip_configuration.subnet_id",
                        format!(
                            "AzureBastionSubnet ({small}, declared by {}) must be /26 or larger",
                            subnet.address
                        ),
                    ));
                }
            }
        }
    }
}

/// Every subnet ID a resource places something in, with the attribute that names it.
fn subnet_uses(r: &PlannedResource) -> Vec<String> {
    let mut ids = Vec::new();
    match r.resource_type.as_str() {
        "azure_kubernetes_cluster" => {
            for pool in blocks(&r.value, "default_node_pool") {
                ids.extend(string(pool, "vnet_subnet_id"));
            }
        }
        "azure_kubernetes_node_pool" => ids.extend(string(&r.value, "vnet_subnet_id")),
        "azure_private_endpoint" => ids.extend(string(&r.value, "subnet_id")),
        "azure_bastion_host" => {
            for ip in blocks(&r.value, "ip_configuration") {
                ids.extend(string(ip, "subnet_id"));
            }
        }
        _ => {}
    }
    ids.into_iter().map(|s| lower(&s)).collect()
}

fn check_application_gateways(resources: &[PlannedResource], out: &mut Vec<PlanFinding>) {
    for gw in resources
        .iter()
        .filter(|r| r.resource_type == "azure_application_gateway")
    {
        for cfg in blocks(&gw.value, "gateway_ip_configuration") {
            let Some(subnet) = string(cfg, "subnet_id") else {
                continue;
            };
            for other in resources.iter().filter(|o| o.address != gw.address) {
                if subnet_uses(other).contains(&lower(&subnet)) {
                    out.push(finding(
                        &gw.address,
                        "gateway_ip_configuration.subnet_id",
                        format!(
                            "an Application Gateway needs a dedicated subnet, but {} also uses {}",
                            other.address,
                            subnet.rsplit('/').next().unwrap_or_default()
                        ),
                    ));
                }
            }
        }
    }
}

fn check_clusters(
    resources: &[PlannedResource],
    networks: &BTreeMap<String, Network>,
    out: &mut Vec<PlanFinding>,
) {
    for r in resources
        .iter()
        .filter(|r| r.resource_type == "azure_kubernetes_cluster")
    {
        for profile in blocks(&r.value, "network_profile") {
            let service: Option<IpNet> =
                string(profile, "service_cidr").and_then(|s| s.parse().ok());
            let dns: Option<std::net::IpAddr> =
                string(profile, "dns_service_ip").and_then(|s| s.parse().ok());
            if let (Some(service), Some(dns)) = (service, dns) {
                if !service.contains(&dns) {
                    out.push(finding(
                        &r.address,
                        "network_profile.dns_service_ip",
                        format!("dns_service_ip {dns} is not inside service_cidr {service}"),
                    ));
                }
            }
            let Some(service) = service else { continue };
            for net in networks.values() {
                for space in net.spaces.iter().filter(|s| overlaps(s, &service)) {
                    out.push(finding(&r.address, "network_profile.service_cidr", format!(
                        "service_cidr {service} overlaps the address space {space} of {}; AKS refuses it (ServiceCidrOverlapExistingSubnetsCidr) and pods could not reach that network",
                        net.address
                    )));
                }
            }
        }
    }
}

fn check_node_pools(resources: &[PlannedResource], out: &mut Vec<PlanFinding>) {
    let clusters: BTreeMap<String, &PlannedResource> = resources
        .iter()
        .filter(|r| r.resource_type == "azure_kubernetes_cluster")
        .filter_map(|r| Some((lower(&string(&r.value, "id")?), r)))
        .collect();
    for pool in resources
        .iter()
        .filter(|r| r.resource_type == "azure_kubernetes_node_pool")
    {
        let (Some(cluster_id), Some(subnet)) = (
            string(&pool.value, "kubernetes_cluster_id"),
            string(&pool.value, "vnet_subnet_id"),
        ) else {
            continue;
        };
        let Some(cluster) = clusters.get(&lower(&cluster_id)) else {
            continue;
        };
        let cluster_subnet = blocks(&cluster.value, "default_node_pool")
            .into_iter()
            .find_map(|p| string(p, "vnet_subnet_id"));
        let Some(cluster_subnet) = cluster_subnet else {
            continue;
        };
        if network_of_subnet(&subnet) != network_of_subnet(&cluster_subnet) {
            out.push(finding(&pool.address, "vnet_subnet_id", format!(
                "the node pool's subnet is in a different virtual network than its cluster's ({}); AKS requires every pool in the cluster's network",
                cluster.address
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| s(i)).collect())
    }

    const NET: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks";

    fn vnet(address: &str, name: &str, space: &str, subnets: Vec<(&str, &str)>) -> PlannedResource {
        let subnets = subnets
            .into_iter()
            .map(|(n, p)| map(vec![("name", s(n)), ("address_prefixes", list(&[p]))]))
            .collect();
        PlannedResource {
            address: address.into(),
            resource_type: "azure_virtual_network".into(),
            value: map(vec![
                ("id", s(&format!("{NET}/{name}"))),
                ("address_space", list(&[space])),
                ("subnet", Value::List(subnets)),
            ]),
        }
    }

    fn resource(address: &str, ty: &str, value: Value) -> PlannedResource {
        PlannedResource {
            address: address.into(),
            resource_type: ty.into(),
            value,
        }
    }

    fn peering(address: &str, from: &str, to: &str) -> PlannedResource {
        resource(
            address,
            "azure_virtual_network_peering",
            map(vec![
                ("id", s(&format!("{NET}/{from}/virtualNetworkPeerings/p"))),
                ("remote_virtual_network_id", s(&format!("{NET}/{to}"))),
            ]),
        )
    }

    #[test]
    fn peered_networks_must_not_overlap() {
        let ok = check(&[
            vnet("a", "one", "10.0.0.0/16", vec![]),
            vnet("b", "two", "10.1.0.0/16", vec![]),
            peering("p", "one", "two"),
        ]);
        assert!(ok.is_empty(), "{ok:?}");
        let bad = check(&[
            vnet("a", "one", "10.0.0.0/16", vec![]),
            vnet("b", "two", "10.0.128.0/17", vec![]),
            peering("p", "one", "two"),
        ]);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].message.contains("overlap"), "{bad:?}");
        assert_eq!(bad[0].address, "p");
    }

    #[test]
    fn subnets_inside_their_network_and_apart() {
        let ok = check(&[vnet(
            "a",
            "one",
            "10.0.0.0/16",
            vec![("System", "10.0.0.0/24"), ("User", "10.0.1.0/24")],
        )]);
        assert!(ok.is_empty(), "{ok:?}");
        let outside = check(&[vnet(
            "a",
            "one",
            "10.0.0.0/16",
            vec![("System", "10.9.0.0/24")],
        )]);
        assert!(outside[0].message.contains("outside"), "{outside:?}");
        let overlap = check(&[vnet(
            "a",
            "one",
            "10.0.0.0/16",
            vec![("System", "10.0.0.0/23"), ("User", "10.0.1.0/24")],
        )]);
        assert!(
            overlap[0].message.contains("overlaps sibling"),
            "{overlap:?}"
        );
        let separate = resource(
            "sub",
            "azure_subnet",
            map(vec![
                ("id", s(&format!("{NET}/one/subnets/Extra"))),
                ("name", s("Extra")),
                ("address_prefixes", list(&["10.0.0.128/25"])),
            ]),
        );
        let mixed = check(&[
            vnet("a", "one", "10.0.0.0/16", vec![("System", "10.0.0.0/24")]),
            separate,
        ]);
        assert_eq!(mixed.len(), 1, "{mixed:?}");
        assert_eq!(mixed[0].address, "sub");
    }

    fn bastion(subnet: &str) -> PlannedResource {
        resource(
            "bastion",
            "azure_bastion_host",
            map(vec![(
                "ip_configuration",
                map(vec![(
                    "subnet_id",
                    s(&format!("{NET}/one/subnets/{subnet}")),
                )]),
            )]),
        )
    }

    #[test]
    fn bastion_needs_its_named_subnet_of_at_least_26() {
        let net = |p: &str| vnet("a", "one", "10.0.0.0/16", vec![("AzureBastionSubnet", p)]);
        assert!(check(&[net("10.0.2.0/26"), bastion("AzureBastionSubnet")]).is_empty());
        assert!(
            check(&[net("10.0.2.0/27"), bastion("AzureBastionSubnet")])[0]
                .message
                .contains("/26")
        );
        assert!(check(&[net("10.0.2.0/26"), bastion("Bastion")])[0]
            .message
            .contains("exactly AzureBastionSubnet"));
    }

    fn cluster(service: &str, dns: &str, subnet: &str) -> PlannedResource {
        resource("aks", "azure_kubernetes_cluster", map(vec![
            ("id", s("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks")),
            ("default_node_pool", map(vec![("vnet_subnet_id", s(&format!("{NET}/{subnet}")))])),
            ("network_profile", map(vec![("service_cidr", s(service)), ("dns_service_ip", s(dns))])),
        ]))
    }

    #[test]
    fn aks_service_range_must_not_clash() {
        let net = vnet("a", "one", "10.0.0.0/16", vec![("System", "10.0.0.0/24")]);
        assert!(check(&[
            net,
            cluster("10.100.0.0/16", "10.100.0.10", "one/subnets/System")
        ])
        .is_empty());
        let net = vnet("a", "one", "10.0.0.0/16", vec![("System", "10.0.0.0/24")]);
        let clash = check(&[
            net,
            cluster("10.0.0.0/16", "10.0.0.10", "one/subnets/System"),
        ]);
        assert!(clash[0].message.contains("service_cidr"), "{clash:?}");
        let dns = check(&[cluster(
            "10.100.0.0/16",
            "10.200.0.10",
            "one/subnets/System",
        )]);
        assert!(dns[0].message.contains("not inside"), "{dns:?}");
    }

    #[test]
    fn node_pools_stay_in_the_cluster_network_and_gateways_get_their_own_subnet() {
        let pool = |subnet: &str| {
            resource("pool", "azure_kubernetes_node_pool", map(vec![
            ("kubernetes_cluster_id", s("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks")),
            ("vnet_subnet_id", s(&format!("{NET}/{subnet}"))),
        ]))
        };
        let aks = || cluster("10.100.0.0/16", "10.100.0.10", "one/subnets/System");
        assert!(check(&[aks(), pool("one/subnets/User")]).is_empty());
        assert!(check(&[aks(), pool("two/subnets/User")])[0]
            .message
            .contains("different virtual network"));
        let gw = |subnet: &str| {
            resource(
                "gw",
                "azure_application_gateway",
                map(vec![(
                    "gateway_ip_configuration",
                    Value::List(vec![map(vec![(
                        "subnet_id",
                        s(&format!("{NET}/{subnet}")),
                    )])]),
                )]),
            )
        };
        assert!(check(&[aks(), gw("one/subnets/AppGateway")]).is_empty());
        assert!(check(&[aks(), gw("one/subnets/System")])[0]
            .message
            .contains("dedicated subnet"));
    }
}
