//! Unit tests of the cluster mapping: the body against the REST spec's shape (2025-10-01
//! examples, same shape in 2026-08-01), state round trips, plans and checks.

use std::collections::BTreeMap;

use mesh_engine::value::Value;
use serde_json::json;

use super::*;

const RG: &str = "/subscriptions/sub/resourceGroups/rg";

fn m(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn sv(s: &str) -> Value {
    Value::string(s)
}

fn uai() -> String {
    format!("{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks-id")
}

fn subnet() -> String {
    format!("{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/System")
}

fn config() -> Value {
    let computed = [
        "id",
        "fqdn",
        "oidc_issuer_url",
        "kubelet_identity_object_id",
        "kubelet_identity_client_id",
        "addon_identity_object_ids",
        "addon_identity_client_ids",
    ];
    let mut c = m(&[
        ("name", sv("aks-one")),
        ("resource_group_name", sv("rg")),
        ("location", sv("westeurope")),
        ("dns_prefix", sv("aks-one")),
        ("kubernetes_version", sv("1.33")),
        ("sku_tier", sv("Standard")),
        ("node_resource_group", Value::Null),
        ("oidc_issuer_enabled", Value::Bool(true)),
        ("workload_identity_enabled", Value::Bool(true)),
        ("tags", m(&[("env", sv("dev"))])),
        (
            "default_node_pool",
            m(&[
                ("name", sv("system")),
                ("vm_size", sv("Standard_D4s_v5")),
                ("node_count", Value::Number(3.0)),
                ("enable_auto_scaling", Value::Bool(false)),
                ("min_count", Value::Null),
                ("max_count", Value::Null),
                ("vnet_subnet_id", sv(&subnet())),
                ("os_disk_size_gb", Value::Null),
                ("only_critical_addons_enabled", Value::Bool(true)),
            ]),
        ),
        (
            "identity",
            m(&[
                ("type", sv("UserAssigned")),
                ("identity_ids", Value::List(vec![sv(&uai())])),
            ]),
        ),
        ("kubelet_identity", Value::Null),
        (
            "network_profile",
            m(&[
                ("network_plugin", sv("azure")),
                ("network_policy", sv("azure")),
                ("service_cidr", sv("172.16.0.0/16")),
                ("dns_service_ip", sv("172.16.0.10")),
                ("pod_cidr", Value::Null),
                ("load_balancer_sku", sv("standard")),
                ("outbound_type", sv("loadBalancer")),
            ]),
        ),
        (
            "key_vault_secrets_provider",
            m(&[
                ("secret_rotation_enabled", Value::Bool(true)),
                ("secret_rotation_interval", sv("2m")),
            ]),
        ),
        (
            "ingress_application_gateway",
            m(&[(
                "gateway_id",
                sv(&format!(
                    "{RG}/providers/Microsoft.Network/applicationGateways/agw"
                )),
            )]),
        ),
        (
            "oms_agent",
            m(&[(
                "log_analytics_workspace_id",
                sv(&format!(
                    "{RG}/providers/Microsoft.OperationalInsights/workspaces/law"
                )),
            )]),
        ),
        (
            "service_mesh_profile",
            m(&[
                ("mode", sv("Istio")),
                ("revisions", Value::List(vec![sv("asm-1-24")])),
                (
                    "certificate_authority",
                    m(&[
                        (
                            "key_vault_id",
                            sv(&format!("{RG}/providers/Microsoft.KeyVault/vaults/kv")),
                        ),
                        ("root_cert_object_name", sv("root-cert")),
                        ("cert_object_name", sv("ca-cert")),
                        ("key_object_name", sv("ca-key")),
                        ("cert_chain_object_name", sv("cert-chain")),
                    ]),
                ),
            ]),
        ),
    ]);
    for a in computed {
        c.set_or_insert(a, Value::Null);
    }
    c
}

/// What ARM returns for `body`: the body plus server-set values.
fn response_for(body: &Json) -> Json {
    let mut r = body.clone();
    r["id"] = json!(format!(
        "{RG}/providers/Microsoft.ContainerService/managedClusters/aks-one"
    ));
    r["name"] = json!("aks-one");
    let p = &mut r["properties"];
    p["provisioningState"] = json!("Succeeded");
    p["fqdn"] = json!("aks-one-abcd1234.hcp.westeurope.azmk8s.io");
    p["nodeResourceGroup"] = json!("MC_rg_aks-one_westeurope");
    p["oidcIssuerProfile"]["issuerURL"] = json!("https://westeurope.oic.prod-aks.azure.com/t/c/");
    p["identityProfile"] =
        json!({"kubeletidentity": {"resourceId": "k", "clientId": "kc", "objectId": "ko"}});
    p["addonProfiles"]["ingressApplicationGateway"]["identity"] =
        json!({"resourceId": "a", "clientId": "ac", "objectId": "agic-oid"});
    p["agentPoolProfiles"][0]["provisioningState"] = json!("Succeeded");
    p["agentPoolProfiles"][0]["osDiskSizeGB"] = json!(128);
    p["networkProfile"]["podCidrs"] = json!([]);
    r["identity"]["userAssignedIdentities"] =
        json!({uai().to_ascii_lowercase(): {"principalId": "p", "clientId": "c"}});
    r
}

#[test]
fn body_matches_the_rest_shape() {
    let c = config();
    assert!(
        validate_cluster(&c).is_empty(),
        "{:?}",
        validate_cluster(&c)
    );
    let body = KubernetesCluster.to_body(&c).unwrap();
    assert_eq!(body["sku"], json!({"name": "Base", "tier": "Standard"}));
    assert_eq!(
        body["identity"],
        json!({"type": "UserAssigned", "userAssignedIdentities": {uai(): {}}})
    );
    let p = &body["properties"];
    assert_eq!(p["dnsPrefix"], json!("aks-one"));
    assert_eq!(p["kubernetesVersion"], json!("1.33"));
    assert_eq!(
        p["agentPoolProfiles"],
        json!([{
        "name": "system", "count": 3, "vmSize": "Standard_D4s_v5", "vnetSubnetID": subnet(), "enableAutoScaling": false,
        "type": "VirtualMachineScaleSets", "osType": "Linux", "mode": "System", "nodeTaints": ["CriticalAddonsOnly=true:NoSchedule"]}])
    );
    assert_eq!(
        p["networkProfile"],
        json!({"networkPlugin": "azure", "networkPolicy": "azure", "serviceCidr": "172.16.0.0/16",
        "dnsServiceIP": "172.16.0.10", "loadBalancerSku": "standard", "outboundType": "loadBalancer"})
    );
    assert_eq!(p["oidcIssuerProfile"], json!({"enabled": true}));
    assert_eq!(
        p["securityProfile"],
        json!({"workloadIdentity": {"enabled": true}})
    );
    assert_eq!(
        p["addonProfiles"]["azureKeyvaultSecretsProvider"],
        json!({"enabled": true, "config": {"enableSecretRotation": "true", "rotationPollInterval": "2m"}})
    );
    assert_eq!(
        p["addonProfiles"]["ingressApplicationGateway"]["config"]["applicationGatewayId"],
        json!(format!(
            "{RG}/providers/Microsoft.Network/applicationGateways/agw"
        ))
    );
    assert_eq!(
        p["addonProfiles"]["omsagent"]["config"]["logAnalyticsWorkspaceResourceID"],
        json!(format!(
            "{RG}/providers/Microsoft.OperationalInsights/workspaces/law"
        ))
    );
    assert_eq!(
        p["serviceMeshProfile"],
        json!({"mode": "Istio", "istio": {"revisions": ["asm-1-24"], "certificateAuthority": {"plugin": {
        "keyVaultId": format!("{RG}/providers/Microsoft.KeyVault/vaults/kv"), "rootCertObjectName": "root-cert", "certObjectName": "ca-cert",
        "keyObjectName": "ca-key", "certChainObjectName": "cert-chain"}}}})
    );
    assert!(p.get("identityProfile").is_none());
}

#[test]
fn state_round_trips_and_plans_no_change() {
    let t = KubernetesCluster;
    let c = config();
    let body = t.to_body(&c).unwrap();
    let id = t.resource_id("sub", &c).unwrap();
    let state = t.to_state(&c, &id, &response_for(&body));
    assert_eq!(
        state.get("fqdn").and_then(Value::as_str),
        Some("aks-one-abcd1234.hcp.westeurope.azmk8s.io")
    );
    assert_eq!(
        state
            .get("kubelet_identity_object_id")
            .and_then(Value::as_str),
        Some("ko")
    );
    assert_eq!(
        state
            .get("addon_identity_object_ids")
            .and_then(|m| m.get("ingress_application_gateway")),
        Some(&sv("agic-oid"))
    );
    for settable in [
        "default_node_pool",
        "identity",
        "network_profile",
        "key_vault_secrets_provider",
        "service_mesh_profile",
        "oms_agent",
        "tags",
    ] {
        assert_eq!(state.get(settable), c.get(settable), "{settable}");
    }
    let planned = t.plan("sub", Some(&state), &c);
    assert_eq!(planned.planned, state);
    assert!(planned.requires_replace.is_empty());
}

#[test]
fn changes_plan_updates_or_replacements() {
    let t = KubernetesCluster;
    let c = config();
    let state = t.to_state(&c, "id", &response_for(&t.to_body(&c).unwrap()));
    let with = |path: &[&str], v: Value| {
        let mut c = config();
        let steps: Vec<_> = path
            .iter()
            .map(|p| mesh_engine::value::PathStep::Key(p.to_string()))
            .collect();
        c.set_at(&steps, v);
        t.plan("sub", Some(&state), &c)
    };
    assert!(
        with(&["default_node_pool", "node_count"], Value::Number(4.0))
            .requires_replace
            .is_empty()
    );
    assert!(
        !with(&["default_node_pool", "vm_size"], sv("Standard_D8s_v5"))
            .requires_replace
            .is_empty()
    );
    assert!(!with(&["dns_prefix"], sv("other"))
        .requires_replace
        .is_empty());
    assert!(
        !with(&["network_profile", "service_cidr"], sv("172.17.0.0/16"))
            .requires_replace
            .is_empty()
    );
    let no_agic = with(&["ingress_application_gateway"], Value::Null);
    assert!(no_agic.requires_replace.is_empty());
    assert!(no_agic
        .planned
        .get("addon_identity_object_ids")
        .unwrap()
        .is_unknown());
    let body = t.to_body(&no_agic.planned).unwrap();
    assert_eq!(
        body["properties"]["addonProfiles"]["ingressApplicationGateway"],
        json!({"enabled": false})
    );
}

#[test]
fn drift_in_add_ons_shows() {
    let t = KubernetesCluster;
    let mut c = config();
    c.set_or_insert("oms_agent", Value::Null);
    c.set_or_insert("service_mesh_profile", Value::Null);
    let body = t.to_body(&c).unwrap();
    assert_eq!(
        body["properties"]["serviceMeshProfile"],
        json!({"mode": "Disabled"})
    );
    let mut response = response_for(&body);
    response["properties"]["addonProfiles"]
        .as_object_mut()
        .unwrap()
        .remove("omsagent");
    response["properties"]["addonProfiles"]["omsAgent"] =
        json!({"enabled": true, "config": {"logAnalyticsWorkspaceResourceID": "/x"}});
    let state = t.to_state(&c, "id", &response);
    assert_eq!(
        state.get("oms_agent"),
        Some(&m(&[("log_analytics_workspace_id", sv("/x"))]))
    );
    assert_eq!(state.get("service_mesh_profile"), Some(&Value::Null));
}

#[test]
fn checks() {
    let bad = |path: &[&str], v: Value| {
        let mut c = config();
        let steps: Vec<_> = path
            .iter()
            .map(|p| mesh_engine::value::PathStep::Key(p.to_string()))
            .collect();
        c.set_at(&steps, v);
        validate_cluster(&c)
    };
    assert_eq!(bad(&["name"], sv("-aks")).len(), 1);
    assert_eq!(bad(&["dns_prefix"], sv("aks_one")).len(), 1);
    assert_eq!(
        bad(&["network_profile", "dns_service_ip"], sv("10.0.0.10")).len(),
        1
    );
    assert_eq!(
        bad(&["network_profile", "dns_service_ip"], sv("172.16.0.1")).len(),
        1
    );
    assert_eq!(
        bad(&["network_profile", "service_cidr"], sv("10.0.0.0/8")).len(),
        2
    );
    assert_eq!(
        bad(&["network_profile", "pod_cidr"], sv("172.16.128.0/17")).len(),
        1
    );
    assert_eq!(bad(&["default_node_pool", "name"], sv("System")).len(), 1);
    assert_eq!(
        bad(&["default_node_pool", "node_count"], Value::Number(0.0)).len(),
        1
    );
    assert_eq!(bad(&["oidc_issuer_enabled"], Value::Bool(false)).len(), 1);
    assert_eq!(
        bad(&["identity", "identity_ids"], Value::List(vec![])).len(),
        1
    );
    assert_eq!(
        bad(
            &["key_vault_secrets_provider", "secret_rotation_interval"],
            sv("2 minutes")
        )
        .len(),
        1
    );
    assert_eq!(
        bad(
            &["service_mesh_profile", "revisions"],
            Value::List(vec![sv("1-14-1")])
        )
        .len(),
        1
    );
    assert!(bad(&["network_profile", "dns_service_ip"], Value::Unknown).is_empty());
    assert!(checks::valid_duration("1h30m") && !checks::valid_duration("m"));
}
