//! Services: a cluster IP from the cluster's service CIDR (unless headless), node ports for
//! NodePort and LoadBalancer Services, and for LoadBalancer Services an address after the
//! time Azure takes to program a load balancer: a public-looking one derived from the
//! cluster and the Service, or with `service.beta.kubernetes.io/azure-load-balancer-internal:
//! "true"` a free one from the node subnet (or the subnet the
//! `azure-load-balancer-internal-subnet` annotation names in the same virtual network).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde_json::{json, Value as Json};

use super::super::cluster::ClusterCtx;
use super::super::kinds::Kind;
use super::super::objects::{annotation, meta_str, split_key, stable_hash, ClusterObjects};
use super::super::status::KubeError;
use super::super::writes::Writer;
use crate::store::Cloud;

/// How long Azure takes to give a LoadBalancer Service its address (seconds).
const LOAD_BALANCER_SECONDS: f64 = 30.0;
const INTERNAL: &str = "service.beta.kubernetes.io/azure-load-balancer-internal";
const INTERNAL_SUBNET: &str = "service.beta.kubernetes.io/azure-load-balancer-internal-subnet";
/// The node subnet of clusters whose pools name none (AKS's managed virtual network).
const DEFAULT_NODE_SUBNET: &str = "10.224.0.0/16";
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

fn services(objects: &ClusterObjects) -> impl Iterator<Item = &Json> {
    objects.with_prefix("/services/").map(|(_, s)| &s.object)
}

fn text<'a>(v: &'a Json, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Json::as_str)
        .unwrap_or_default()
}

fn nth_address(net: &IpNet, offset: u64) -> Option<IpAddr> {
    match net.network() {
        IpAddr::V4(a) => {
            let size = 1u64 << (32 - u32::from(net.prefix_len()));
            (offset < size).then(|| IpAddr::V4(Ipv4Addr::from(u32::from(a) + offset as u32)))
        }
        IpAddr::V6(a) => Some(IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(a) + u128::from(offset),
        ))),
    }
}

fn host_count(net: &IpNet) -> u64 {
    match net {
        IpNet::V4(n) => 1u64 << (32 - u32::from(n.prefix_len())),
        IpNet::V6(_) => 1 << 32,
    }
}

/// Cluster IP, node ports and defaults of a Service; a LoadBalancer without its address is
/// due when Azure would have programmed it.
pub(crate) fn admit_service(
    objects: &ClusterObjects,
    cluster: &ClusterCtx,
    kind: &Kind,
    old: Option<&Json>,
    new: &mut Json,
) -> Result<Option<f64>, KubeError> {
    let name = meta_str(new, "name").to_string();
    let namespace = meta_str(new, "namespace").to_string();
    if !new.get("spec").is_some_and(Json::is_object) {
        new["spec"] = json!({});
    }
    let service_type = match text(new, "/spec/type") {
        "" => "ClusterIP".to_string(),
        t => t.to_string(),
    };
    if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&service_type.as_str()) {
        return Err(KubeError::invalid(
            kind,
            &name,
            "spec.type",
            &format!("Unsupported value: \"{service_type}\""),
        ));
    }
    let spec = &mut new["spec"];
    spec["type"] = json!(service_type);
    if spec.get("sessionAffinity").is_none() {
        spec["sessionAffinity"] = json!("None");
    }
    let others = || {
        services(objects)
            .filter(|s| !(meta_str(s, "name") == name && meta_str(s, "namespace") == namespace))
    };
    // Cluster IP: kept once set.
    let old_ip = old
        .map(|o| text(o, "/spec/clusterIP").to_string())
        .filter(|ip| !ip.is_empty());
    let given = text(spec, "/clusterIP").to_string();
    if let Some(before) = &old_ip {
        if !given.is_empty() && given != *before {
            return Err(KubeError::invalid(
                kind,
                &name,
                "spec.clusterIP",
                "Invalid value: field is immutable",
            ));
        }
    }
    if service_type != "ExternalName" {
        let ip = match (old_ip, given.as_str()) {
            (Some(before), _) => before,
            (None, "None") => "None".to_string(),
            (None, "") => {
                let used: BTreeSet<String> = others()
                    .map(|s| text(s, "/spec/clusterIP").to_string())
                    .collect();
                (1..host_count(&cluster.service_cidr).saturating_sub(1))
                    .filter_map(|i| nth_address(&cluster.service_cidr, i))
                    .map(|a| a.to_string())
                    .find(|a| !used.contains(a))
                    .ok_or_else(|| KubeError::internal("the service CIDR has no free address"))?
            }
            (None, ip) => {
                let in_range = ip
                    .parse::<IpAddr>()
                    .is_ok_and(|a| cluster.service_cidr.contains(&a));
                if !in_range {
                    return Err(KubeError::invalid(kind, &name, "spec.clusterIP", &format!("Invalid value: \"{ip}\": provided IP is not in the valid range. The range of valid IPs is {}", cluster.service_cidr)));
                }
                ip.to_string()
            }
        };
        spec["clusterIP"] = json!(ip);
        spec["clusterIPs"] = json!([ip]);
        spec["ipFamilies"] = json!(["IPv4"]);
        spec["ipFamilyPolicy"] = json!("SingleStack");
        spec["internalTrafficPolicy"] = spec
            .get("internalTrafficPolicy")
            .cloned()
            .unwrap_or(json!("Cluster"));
    }
    let needs_node_ports = service_type == "NodePort" || service_type == "LoadBalancer";
    let taken: BTreeSet<i64> = others()
        .flat_map(|s| {
            s.pointer("/spec/ports")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["nodePort"].as_i64())
        .collect();
    let old_ports = old
        .and_then(|o| o.pointer("/spec/ports"))
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(ports) = spec.get_mut("ports").and_then(Json::as_array_mut) {
        let mut mine: BTreeSet<i64> = BTreeSet::new();
        for port in ports.iter_mut() {
            if port.get("protocol").is_none() {
                port["protocol"] = json!("TCP");
            }
            if port.get("targetPort").is_none() {
                port["targetPort"] = port["port"].clone();
            }
            if !needs_node_ports {
                if let Some(p) = port.as_object_mut() {
                    p.remove("nodePort");
                }
                continue;
            }
            if port.get("nodePort").and_then(Json::as_i64).is_none() {
                let kept = old_ports
                    .iter()
                    .find(|o| o["port"] == port["port"] && o["protocol"] == port["protocol"])
                    .and_then(|o| o["nodePort"].as_i64());
                let free = kept.or_else(|| {
                    NODE_PORTS
                        .clone()
                        .find(|p| !taken.contains(p) && !mine.contains(p))
                });
                port["nodePort"] = json!(free);
            }
            if let Some(p) = port["nodePort"].as_i64() {
                mine.insert(p);
            }
        }
    }
    if needs_node_ports && spec.get("externalTrafficPolicy").is_none() {
        spec["externalTrafficPolicy"] = json!("Cluster");
    }
    if service_type != "LoadBalancer" {
        new["status"] = json!({"loadBalancer": {}});
        return Ok(None);
    }
    let same_lb = old.is_some_and(|o| {
        text(o, "/spec/type") == "LoadBalancer"
            && annotation(o, INTERNAL) == annotation(new, INTERNAL)
            && annotation(o, INTERNAL_SUBNET) == annotation(new, INTERNAL_SUBNET)
            && o.pointer("/spec/loadBalancerIP") == new.pointer("/spec/loadBalancerIP")
            && o.pointer("/status/loadBalancer/ingress/0").is_some()
    });
    if same_lb {
        return Ok(None);
    }
    new["status"] = json!({"loadBalancer": {}});
    Ok(Some(cluster.after(LOAD_BALANCER_SECONDS)))
}

/// Every load balancer address given out, in every cluster.
pub(crate) fn addresses_in_use(cloud: &Cloud) -> BTreeSet<IpAddr> {
    cloud
        .kube
        .values()
        .flat_map(|objects| services(objects).cloned().collect::<Vec<_>>())
        .filter_map(|s| {
            s.pointer("/status/loadBalancer/ingress/0/ip")
                .and_then(Json::as_str)
                .and_then(|ip| ip.parse().ok())
        })
        .collect()
}

/// A public-looking address derived from the cluster and the Service (20.x.y.z, Azure's).
fn public_address(seed: &str, used: &BTreeSet<IpAddr>) -> IpAddr {
    let mut hash = stable_hash(seed);
    loop {
        let [a, b, c] = [(hash >> 16) as u8, (hash >> 8) as u8, hash as u8];
        let ip = IpAddr::V4(Ipv4Addr::new(20, a, b, c.clamp(1, 254)));
        if !used.contains(&ip) {
            return ip;
        }
        hash = hash.wrapping_add(1);
    }
}

/// A free address of `subnet`, from the top (nodes take addresses from the bottom); Azure
/// keeps the first four and the last.
fn internal_address(subnet: &IpNet, used: &BTreeSet<IpAddr>) -> Option<IpAddr> {
    let size = host_count(subnet);
    (4..size.saturating_sub(1))
        .rev()
        .filter_map(|i| nth_address(subnet, i))
        .find(|ip| !used.contains(ip))
}

/// The address a LoadBalancer Service gets now.
fn load_balancer_address(
    cluster: &ClusterCtx,
    service: &Json,
    used: &BTreeSet<IpAddr>,
) -> Option<IpAddr> {
    if let Ok(ip) = text(service, "/spec/loadBalancerIP").parse::<IpAddr>() {
        return Some(ip);
    }
    if annotation(service, INTERNAL) != Some("true") {
        let seed = format!(
            "{}|{}/{}",
            cluster.id.to_ascii_lowercase(),
            meta_str(service, "namespace"),
            meta_str(service, "name")
        );
        return Some(public_address(&seed, used));
    }
    let default: IpNet = DEFAULT_NODE_SUBNET.parse().ok()?;
    let subnet = match annotation(service, INTERNAL_SUBNET) {
        Some(name) => cluster
            .vnet_subnets
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| *p)?,
        None => cluster
            .node_subnet
            .as_ref()
            .map(|(_, p)| *p)
            .unwrap_or(default),
    };
    internal_address(&subnet, used)
}

/// A LoadBalancer Service that is due gets its address.
pub(crate) fn provision_load_balancer(w: &mut Writer<'_>, key: &str, used: &mut BTreeSet<IpAddr>) {
    let Some(service) = w.objects.get(key).map(|s| s.object.clone()) else {
        return;
    };
    if text(&service, "/spec/type") != "LoadBalancer" || split_key(key).is_none() {
        return;
    }
    let Some(ip) = load_balancer_address(w.cluster, &service, used) else {
        // No free address (or an unknown subnet): Azure leaves the Service pending.
        return;
    };
    used.insert(ip);
    w.set_status(
        key,
        json!({"loadBalancer": {"ingress": [{"ip": ip.to_string(), "ipMode": "VIP"}]}}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_come_from_the_top_of_the_subnet() {
        let subnet: IpNet = "10.1.0.0/24".parse().unwrap();
        let mut used = BTreeSet::new();
        let first = internal_address(&subnet, &used).unwrap();
        assert_eq!(first.to_string(), "10.1.0.254");
        used.insert(first);
        assert_eq!(
            internal_address(&subnet, &used).unwrap().to_string(),
            "10.1.0.253"
        );
        let tiny: IpNet = "10.1.0.0/30".parse().unwrap();
        assert!(internal_address(&tiny, &BTreeSet::new()).is_none());
    }

    #[test]
    fn public_addresses_are_stable_and_distinct() {
        let used = BTreeSet::new();
        let a = public_address("x", &used);
        assert_eq!(a, public_address("x", &used));
        let used: BTreeSet<IpAddr> = [a].into();
        assert_ne!(public_address("x", &used), a);
    }
}
