//! Plan-time checks of one `azure_kubernetes_cluster` configuration: names, the system pool,
//! identity, networking ranges and add-on settings.

use std::net::IpAddr;

use ipnet::IpNet;
use mesh_engine::provider::ProviderError;
use mesh_engine::value::Value;

use super::super::config::string;
use super::super::generic_resource::values::{block, error_at, flag, strings};
use super::super::kubernetes_node_pool::pool;

/// The taint `only_critical_addons_enabled` puts on the system pool.
pub const CRITICAL_ADDONS_TAINT: &str = "CriticalAddonsOnly=true:NoSchedule";

fn one_of(v: Option<String>, allowed: &[&str], path: &[&str], errors: &mut Vec<ProviderError>) {
    if let Some(v) = v {
        if !allowed.contains(&v.as_str()) {
            errors.push(error_at(
                format!("\"{v}\" is not one of {}", allowed.join(", ")),
                path,
            ));
        }
    }
}

fn dns_label(s: &str, max: usize, underscores: bool) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || (underscores && c == '_');
    (1..=max).contains(&s.len())
        && s.chars().all(ok_char)
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// True for a duration such as `2m`, `30s` or `1h30m`.
pub fn valid_duration(s: &str) -> bool {
    let mut digits = 0;
    let mut units = 0;
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if "hms".contains(c) && digits > 0 {
            digits = 0;
            units += 1;
        } else {
            return false;
        }
    }
    digits == 0 && units > 0
}

/// The service range checks: a valid range no larger than /12, the DNS address inside it (not
/// its network or first address), no overlap with the pod range.
pub fn check_service_range(np: &Value, errors: &mut Vec<ProviderError>) {
    let at = |a: &'static str| ["network_profile", a];
    let parse = |attr: &'static str, errors: &mut Vec<ProviderError>| -> Option<IpNet> {
        let v = string(np, attr)?;
        match v.parse::<IpNet>() {
            Ok(n) if n.trunc() == n => Some(n),
            _ => {
                errors.push(error_at(
                    format!("\"{v}\" is not a CIDR range such as 10.0.0.0/16"),
                    &at(attr),
                ));
                None
            }
        }
    };
    let service = parse("service_cidr", errors);
    let pods = parse("pod_cidr", errors);
    let dns = string(np, "dns_service_ip");
    let known = |a: &str| np.get(a).is_some_and(|v| !v.is_null());
    if known("service_cidr") != known("dns_service_ip") {
        errors.push(error_at(
            "set service_cidr and dns_service_ip together",
            &at("dns_service_ip"),
        ));
    }
    if let Some(s) = service {
        if s.prefix_len() < 12 && matches!(s, IpNet::V4(_)) {
            errors.push(error_at(
                format!("service_cidr {s} is too large: use /12 or smaller"),
                &at("service_cidr"),
            ));
        }
        if let Some(p) = pods {
            if p.contains(&s.network()) || s.contains(&p.network()) {
                errors.push(error_at(
                    format!("pod_cidr {p} overlaps service_cidr {s}"),
                    &at("pod_cidr"),
                ));
            }
        }
    }
    if let Some(dns) = dns {
        match dns.parse::<IpAddr>() {
            Err(_) => errors.push(error_at(
                format!("\"{dns}\" is not an IP address"),
                &at("dns_service_ip"),
            )),
            Ok(ip) => {
                if let Some(s) = service {
                    let first = s.hosts().next();
                    if !s.contains(&ip) {
                        errors.push(error_at(
                            format!("dns_service_ip {ip} is outside service_cidr {s}"),
                            &at("dns_service_ip"),
                        ));
                    } else if ip == s.network() || Some(ip) == first {
                        errors.push(error_at(format!("dns_service_ip {ip} is reserved: the network and first addresses of {s} cannot be used (the first is the Kubernetes API service)"), &at("dns_service_ip")));
                    }
                }
            }
        }
    }
}

/// Every single-resource check of a cluster configuration.
pub fn validate_cluster(config: &Value) -> Vec<ProviderError> {
    let mut errors = Vec::new();
    if let Some(name) = string(config, "name") {
        if !dns_label(&name, 63, true) {
            errors.push(ProviderError::at_attribute(format!("\"{name}\" is not a valid AKS cluster name: use 1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit"), "name"));
        }
    }
    if let Some(prefix) = string(config, "dns_prefix") {
        if !dns_label(&prefix, 54, false) {
            errors.push(ProviderError::at_attribute(format!("\"{prefix}\" is not a valid DNS prefix: use 1-54 letters, digits and hyphens, starting and ending with a letter or digit"), "dns_prefix"));
        }
    }
    one_of(
        string(config, "sku_tier"),
        &["Free", "Standard", "Premium"],
        &["sku_tier"],
        &mut errors,
    );
    if let Some(dp) = block(config, "default_node_pool") {
        errors.extend(pool::validate(dp, &["default_node_pool"], true));
    }
    let identity_type = block(config, "identity").and_then(|i| string(i, "type"));
    if let Some(i) = block(config, "identity") {
        one_of(
            identity_type.clone(),
            &["UserAssigned", "SystemAssigned"],
            &["identity", "type"],
            &mut errors,
        );
        let ids = strings(i, "identity_ids");
        let ids_unknown = i.get("identity_ids").is_some_and(Value::is_unknown);
        match identity_type.as_deref() {
            Some("UserAssigned") if !ids_unknown && ids.as_ref().is_none_or(|v| v.len() != 1) => {
                errors.push(error_at(
                    "a UserAssigned cluster identity needs exactly one ID in identity_ids",
                    &["identity", "identity_ids"],
                ));
            }
            Some("SystemAssigned") if ids.is_some_and(|v| !v.is_empty()) => {
                errors.push(error_at(
                    "identity_ids is only for type = \"UserAssigned\"",
                    &["identity", "identity_ids"],
                ));
            }
            _ => {}
        }
    }
    if block(config, "kubelet_identity").is_some()
        && identity_type.as_deref() == Some("SystemAssigned")
    {
        errors.push(error_at(
            "a custom kubelet_identity needs a UserAssigned cluster identity",
            &["kubelet_identity"],
        ));
    }
    if flag(config, "workload_identity_enabled") == Some(true)
        && flag(config, "oidc_issuer_enabled") == Some(false)
    {
        errors.push(ProviderError::at_attribute(
            "workload identity needs oidc_issuer_enabled = true",
            "workload_identity_enabled",
        ));
    }
    if let Some(np) = block(config, "network_profile") {
        let at = |a: &'static str| ["network_profile", a];
        one_of(
            string(np, "network_plugin"),
            &["azure", "kubenet", "none"],
            &at("network_plugin"),
            &mut errors,
        );
        one_of(
            string(np, "network_policy"),
            &["azure", "calico", "cilium"],
            &at("network_policy"),
            &mut errors,
        );
        one_of(
            string(np, "load_balancer_sku"),
            &["standard", "basic"],
            &at("load_balancer_sku"),
            &mut errors,
        );
        one_of(
            string(np, "outbound_type"),
            &[
                "loadBalancer",
                "userDefinedRouting",
                "managedNATGateway",
                "userAssignedNATGateway",
            ],
            &at("outbound_type"),
            &mut errors,
        );
        check_service_range(np, &mut errors);
    }
    if let Some(kv) = block(config, "key_vault_secrets_provider") {
        if let Some(i) = string(kv, "secret_rotation_interval") {
            if !valid_duration(&i) {
                errors.push(error_at(
                    format!("\"{i}\" is not a duration such as 2m or 1h30m"),
                    &["key_vault_secrets_provider", "secret_rotation_interval"],
                ));
            }
        }
    }
    if let Some(mesh) = block(config, "service_mesh_profile") {
        one_of(
            string(mesh, "mode"),
            &["Istio"],
            &["service_mesh_profile", "mode"],
            &mut errors,
        );
        let revisions = strings(mesh, "revisions").unwrap_or_default();
        if revisions.len() > 2 {
            errors.push(error_at(
                "at most two Istio revisions (during a canary upgrade)",
                &["service_mesh_profile", "revisions"],
            ));
        }
        for r in revisions {
            let ok = r.strip_prefix("asm-").is_some_and(|v| {
                let parts: Vec<&str> = v.split('-').collect();
                parts.len() == 2
                    && parts
                        .iter()
                        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            });
            if !ok {
                errors.push(error_at(
                    format!("\"{r}\" is not an Istio add-on revision such as asm-1-24"),
                    &["service_mesh_profile", "revisions"],
                ));
            }
        }
    }
    errors
}
