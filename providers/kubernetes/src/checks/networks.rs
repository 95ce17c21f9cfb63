//! Networks: in a multi-primary mesh, clusters on different networks reach each other only
//! through east-west gateways that expose their services (the cross-network Gateway);
//! clusters on one network connect pod to pod, so their pod ranges must be routable between
//! them (one virtual network, or networks peered both ways) and must not overlap.
//!
//! Pod ranges are read from the AKS clusters of the deployment: with Azure CNI pods take
//! addresses from their node pools' subnets; with a `pod_cidr` (kubenet, overlay) they are
//! private to the cluster. Service ranges may repeat across clusters: service IPs never leave
//! the calling pod, whose sidecar routes to endpoint pod IPs. (The Azure provider's own plan
//! check already refuses service ranges that overlap a virtual network.)

use std::collections::BTreeMap;
use std::net::IpAddr;

use mesh_engine::provider::PlanFinding;
use mesh_engine::value::Value;

use super::model::{AksCluster, Cluster, ClusterKey, MeshMode, MeshModel};
use super::values::{blocks, known_string};
use super::{FindingExt, Rule};

/// Every networks rule.
pub fn check(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    if model.mode() != MeshMode::MultiPrimary {
        return Vec::new();
    }
    let mut by_network: BTreeMap<String, Vec<&Cluster>> = BTreeMap::new();
    for cluster in model.primaries() {
        if let Some(network) = cluster.network() {
            by_network.entry(network).or_default().push(cluster);
        }
    }
    let mut out = Vec::new();
    if by_network.len() > 1 {
        for (network, clusters) in &by_network {
            for cluster in clusters {
                out.extend(eastwest_gateway(cluster, network, &by_network));
            }
        }
    }
    let plan = AddressPlan::of(model);
    for clusters in by_network.values().filter(|c| c.len() > 1) {
        out.extend(same_network(model, &plan, clusters));
    }
    out
}

/// A cluster that other networks cannot reach.
fn eastwest_gateway(
    cluster: &Cluster,
    network: &str,
    by_network: &BTreeMap<String, Vec<&Cluster>>,
) -> Option<PlanFinding> {
    let control_plane = cluster.control_planes.first()?;
    let others: Vec<String> = by_network
        .iter()
        .filter(|(n, _)| n.as_str() != network)
        .flat_map(|(n, cs)| cs.iter().map(move |c| format!("{} ({})", c.name, shown(n))))
        .collect();
    let exposed = cluster
        .control_planes
        .iter()
        .filter_map(|cp| cp.eastwest)
        .any(|e| e)
        || declares_cross_network_gateway(cluster);
    let has_gateway = cluster
        .control_planes
        .iter()
        .any(|cp| cp.eastwest.is_some());
    if has_gateway && exposed {
        return None;
    }
    let (problem, fix) = if has_gateway {
        (
            "its east-west gateway does not expose the cluster's services (no cross-network Gateway)",
            "set eastwest_gateway = { expose_services = true }, or declare a Gateway on port 15443 \
             with tls mode AUTO_PASSTHROUGH for *.local selecting istio: eastwestgateway",
        )
    } else {
        (
            "it has no east-west gateway",
            "set eastwest_gateway = {} on its istio_control_plane (the gateway and the \
             cross-network Gateway that exposes *.local services)",
        )
    };
    Some(
        Rule::Networks
            .error(
                &control_plane.address,
                format!(
                    "{} is on network {} and {problem}: clusters on other networks ({}) cannot \
                     reach its endpoints, so their calls to its services fail",
                    cluster.name,
                    shown(network),
                    others.join(", ")
                ),
            )
            .at("eastwest_gateway")
            .fix(fix),
    )
}

fn shown(network: &str) -> String {
    if network.is_empty() {
        "the default network".to_string()
    } else {
        format!("\"{network}\"")
    }
}

/// A Gateway the user declares in place of `expose_services`.
fn declares_cross_network_gateway(cluster: &Cluster) -> bool {
    cluster
        .objects
        .iter()
        .filter(|o| o.is_istio("Gateway"))
        .any(|gateway| {
            let selects = gateway
                .json
                .pointer("/spec/selector/istio")
                .and_then(|v| v.as_str())
                == Some("eastwestgateway");
            let passthrough = gateway
                .json
                .pointer("/spec/servers")
                .and_then(|s| s.as_array())
                .is_some_and(|servers| {
                    servers.iter().any(|s| {
                        s.pointer("/port/number").and_then(|n| n.as_u64()) == Some(15443)
                            && s.pointer("/tls/mode").and_then(|m| m.as_str())
                                == Some("AUTO_PASSTHROUGH")
                    })
                });
            selects && passthrough
        })
}

/// Clusters of one network: routable and disjoint pod ranges.
fn same_network(
    model: &MeshModel<'_>,
    plan: &AddressPlan,
    clusters: &[&Cluster],
) -> Vec<PlanFinding> {
    let mut out = Vec::new();
    let mut ranges: Vec<(&Cluster, &AksCluster, PodRange)> = Vec::new();
    for cluster in clusters {
        let ClusterKey::Aks(id) = &cluster.key else {
            continue;
        };
        let Some(aks) = model.aks.get(id) else {
            continue;
        };
        match plan.pod_range(aks) {
            Some(PodRange::Private(cidr)) => out.push(
                Rule::Networks
                    .error(
                        &aks.address,
                        format!(
                            "pods of {} take addresses from {cidr} (kubenet or overlay), which \
                             the other clusters of its network cannot route to: on one Istio \
                             network sidecars connect straight to remote pod IPs",
                            cluster.name
                        ),
                    )
                    .at("network_profile")
                    .related([cluster.anchor()])
                    .fix("use Azure CNI with pods in routable subnets, or put the cluster on its own network with an east-west gateway"),
            ),
            Some(range) => ranges.push((cluster, aks, range)),
            None => {}
        }
    }
    for (i, (a, a_aks, a_range)) in ranges.iter().enumerate() {
        for (b, b_aks, b_range) in &ranges[i + 1..] {
            let (PodRange::Subnets(a_nets), PodRange::Subnets(b_nets)) = (a_range, b_range) else {
                continue;
            };
            if let Some((x, y)) = first_overlap(a_nets, b_nets) {
                out.push(
                    Rule::Networks
                        .error(
                            &b_aks.address,
                            format!(
                                "pod range {y} of {} overlaps pod range {x} of {}: one pod IP \
                                 would name two pods, and calls reach the wrong one",
                                b.name, a.name
                            ),
                        )
                        .related([a_aks.address.clone()])
                        .fix("give the clusters disjoint node subnets"),
                );
                continue;
            }
            if let Some(finding) = plan.unrouted(a, a_aks, a_nets, b, b_aks, b_nets) {
                out.push(finding);
            }
        }
    }
    out
}

/// A cluster's pod addresses.
#[derive(Debug, Clone)]
enum PodRange {
    /// A range private to the cluster.
    Private(String),
    /// Its node subnets: (virtual network ID, prefix).
    Subnets(Vec<(String, Cidr)>),
}

/// An IPv4 or IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    address: IpAddr,
    length: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (address, length) = text.trim().split_once('/')?;
        Some(Cidr {
            address: address.parse().ok()?,
            length: length.parse().ok()?,
        })
    }

    fn bits(&self) -> (u128, u8) {
        match self.address {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    fn overlaps(&self, other: &Cidr) -> bool {
        let ((a, width), (b, other_width)) = (self.bits(), other.bits());
        if width != other_width {
            return false;
        }
        let shortest = self.length.min(other.length).min(width);
        let shift = u32::from(width - shortest);
        let (a, b) = if shift >= 128 {
            (0, 0)
        } else {
            (a >> shift, b >> shift)
        };
        a == b
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.length)
    }
}

fn first_overlap(a: &[(String, Cidr)], b: &[(String, Cidr)]) -> Option<(Cidr, Cidr)> {
    a.iter()
        .flat_map(|(_, x)| b.iter().map(move |(_, y)| (*x, *y)))
        .find(|(x, y)| x.overlaps(y))
}

/// Subnets, node pools and peerings of the deployment.
struct AddressPlan {
    /// Subnet ID (lowercase) → prefixes.
    subnets: BTreeMap<String, Vec<Cidr>>,
    /// Node pool subnets by cluster ID (lowercase).
    pool_subnets: BTreeMap<String, Vec<String>>,
    /// (local network, remote network) of every peering, lowercase.
    peerings: Vec<(String, String)>,
    /// Network ID (lowercase) → its resource address.
    network_addresses: BTreeMap<String, String>,
}

impl AddressPlan {
    fn of(model: &MeshModel<'_>) -> AddressPlan {
        let mut plan = AddressPlan {
            subnets: BTreeMap::new(),
            pool_subnets: BTreeMap::new(),
            peerings: Vec::new(),
            network_addresses: BTreeMap::new(),
        };
        for (address, value) in model.of_type("azure_virtual_network") {
            let Some(id) = known_string(&value, "id") else {
                continue;
            };
            plan.network_addresses
                .insert(id.to_ascii_lowercase(), address.to_string());
            for subnet in blocks(&value, "subnet") {
                if let Some(name) = known_string(subnet, "name") {
                    let key = format!("{id}/subnets/{name}").to_ascii_lowercase();
                    plan.subnets.insert(key, prefixes(subnet));
                }
            }
        }
        for (_, value) in model.of_type("azure_subnet") {
            if let Some(id) = known_string(&value, "id") {
                plan.subnets
                    .insert(id.to_ascii_lowercase(), prefixes(&value));
            }
        }
        for (_, value) in model.of_type("azure_kubernetes_node_pool") {
            let (Some(cluster), Some(subnet)) = (
                known_string(&value, "kubernetes_cluster_id"),
                known_string(&value, "vnet_subnet_id"),
            ) else {
                continue;
            };
            plan.pool_subnets
                .entry(cluster.to_ascii_lowercase())
                .or_default()
                .push(subnet.to_ascii_lowercase());
        }
        for (_, value) in model.of_type("azure_virtual_network_peering") {
            let (Some(id), Some(remote)) = (
                known_string(&value, "id"),
                known_string(&value, "remote_virtual_network_id"),
            ) else {
                continue;
            };
            let id = id.to_ascii_lowercase();
            if let Some(i) = id.rfind("/virtualnetworkpeerings/") {
                plan.peerings
                    .push((id[..i].to_string(), remote.to_ascii_lowercase()));
            }
        }
        plan
    }

    /// Where a cluster's pods get their addresses; `None` when not known.
    fn pod_range(&self, aks: &AksCluster) -> Option<PodRange> {
        let profile = blocks(&aks.value, "network_profile")
            .first()
            .copied()
            .cloned();
        let plugin = profile
            .as_ref()
            .and_then(|p| known_string(p, "network_plugin"));
        if let Some(cidr) = profile.as_ref().and_then(|p| known_string(p, "pod_cidr")) {
            return Some(PodRange::Private(cidr));
        }
        match plugin.as_deref() {
            Some("kubenet") => return Some(PodRange::Private("the kubenet pod range".into())),
            Some("azure") => {}
            _ => return None,
        }
        let id = known_string(&aks.value, "id")?.to_ascii_lowercase();
        let mut subnet_ids: Vec<String> = blocks(&aks.value, "default_node_pool")
            .iter()
            .filter_map(|p| known_string(p, "vnet_subnet_id"))
            .map(|s| s.to_ascii_lowercase())
            .collect();
        subnet_ids.extend(self.pool_subnets.get(&id).into_iter().flatten().cloned());
        let mut ranges = Vec::new();
        for subnet in subnet_ids {
            let network = subnet.split("/subnets/").next()?.to_string();
            for cidr in self.subnets.get(&subnet)? {
                ranges.push((network.clone(), *cidr));
            }
        }
        (!ranges.is_empty()).then_some(PodRange::Subnets(ranges))
    }

    /// Two clusters whose pods sit in networks that are neither the same nor peered both ways.
    fn unrouted(
        &self,
        a: &Cluster,
        a_aks: &AksCluster,
        a_nets: &[(String, Cidr)],
        b: &Cluster,
        b_aks: &AksCluster,
        b_nets: &[(String, Cidr)],
    ) -> Option<PlanFinding> {
        for (x, _) in a_nets {
            for (y, _) in b_nets {
                if x == y {
                    continue;
                }
                let forward = self.peerings.iter().any(|(l, r)| l == x && r == y);
                let back = self.peerings.iter().any(|(l, r)| l == y && r == x);
                if forward && back {
                    continue;
                }
                let name = |id: &str| {
                    self.network_addresses
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| id.to_string())
                };
                let mut missing = Vec::new();
                if !forward {
                    missing.push(format!("no peering from {} to {}", name(x), name(y)));
                }
                if !back {
                    missing.push(format!("no peering from {} to {}", name(y), name(x)));
                }
                return Some(
                    Rule::Networks
                        .error(
                            &b_aks.address,
                            format!(
                                "{} and {} are on one Istio network, but their pods' virtual \
                                 networks are not peered both ways ({}): sidecars cannot reach \
                                 the other cluster's pod IPs",
                                a.name,
                                b.name,
                                missing.join(", ")
                            ),
                        )
                        .related([a_aks.address.clone()])
                        .related(self.network_addresses.get(x).cloned())
                        .related(self.network_addresses.get(y).cloned())
                        .fix("peer the virtual networks both ways (azure_virtual_network_peering), or put the clusters on different networks with east-west gateways"),
                );
            }
        }
        None
    }
}

fn prefixes(value: &Value) -> Vec<Cidr> {
    let mut out = Vec::new();
    for key in ["address_prefixes", "address_prefix"] {
        match value.get(key).map(|v| v.unmark().0) {
            Some(Value::List(items)) => out.extend(
                items
                    .iter()
                    .filter_map(|i| i.unmark().0.as_str())
                    .filter_map(Cidr::parse),
            ),
            Some(Value::String(s)) => out.extend(Cidr::parse(s)),
            _ => {}
        }
    }
    out
}
