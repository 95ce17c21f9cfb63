//! Behaviour tests of managed clusters against an in-memory cloud.

use base64::Engine as _;
use serde_json::{json, Value as Json};

use super::super::virtual_network::tests::Fake;
use super::*;

const RG: &str = "/subscriptions/s/resourceGroups/rg";

fn uai() -> String {
    format!("{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks-id")
}

fn cloud() -> Fake {
    let mut c = Fake::default();
    c.add(&format!("{RG}/providers/Microsoft.Network/virtualNetworks/vnet"), json!({"properties": {"addressSpace": {"addressPrefixes": ["10.10.0.0/16"]},
        "subnets": [{"name": "System", "properties": {"addressPrefix": "10.10.0.0/24"}}, {"name": "User", "properties": {"addressPrefix": "10.10.1.0/24"}}]}}));
    c.add(
        &uai(),
        json!({"properties": {"principalId": "p-1", "clientId": "c-1"}}),
    );
    c.add(
        &format!("{RG}/providers/Microsoft.OperationalInsights/workspaces/law"),
        json!({"properties": {}}),
    );
    c.add(
        &format!("{RG}/providers/Microsoft.KeyVault/vaults/kv"),
        json!({"properties": {}}),
    );
    c
}

fn body() -> Json {
    json!({
        "location": "westeurope",
        "sku": {"name": "Base", "tier": "Free"},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {uai(): {}}},
        "properties": {
            "dnsPrefix": "aks-one",
            "kubernetesVersion": "1.33",
            "agentPoolProfiles": [{"name": "system", "count": 3, "vmSize": "Standard_D4s_v5", "mode": "System",
                "vnetSubnetID": format!("{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/System"),
                "nodeTaints": ["CriticalAddonsOnly=true:NoSchedule"]}],
            "networkProfile": {"networkPlugin": "azure", "serviceCidr": "172.16.0.0/16", "dnsServiceIP": "172.16.0.10"},
            "oidcIssuerProfile": {"enabled": true},
            "securityProfile": {"workloadIdentity": {"enabled": true}},
            "addonProfiles": {
                "azureKeyvaultSecretsProvider": {"enabled": true, "config": {"enableSecretRotation": "true"}},
                "omsagent": {"enabled": true, "config": {"logAnalyticsWorkspaceResourceID": format!("{RG}/providers/Microsoft.OperationalInsights/workspaces/law")}},
                "ingressApplicationGateway": {"enabled": false},
            },
            "serviceMeshProfile": {"mode": "Istio", "istio": {"certificateAuthority": {"plugin": {"keyVaultId": format!("{RG}/providers/Microsoft.KeyVault/vaults/kv"),
                "certObjectName": "ca-cert", "keyObjectName": "ca-key", "rootCertObjectName": "root-cert", "certChainObjectName": "cert-chain"}}}},
        },
    })
}

fn id() -> ArmId {
    ArmId::parse(&format!(
        "{RG}/providers/Microsoft.ContainerService/managedClusters/aks-one"
    ))
    .unwrap()
}

fn put(cloud: &Fake, existing: Option<&StoredResource>, body: Json) -> Result<Json, ArmErrorBody> {
    ManagedCluster.accept_put(cloud, &id(), existing, body)
}

fn with(path: &str, value: Json) -> Json {
    let mut b = body();
    *b.pointer_mut(path).unwrap() = value;
    b
}

#[test]
fn fills_server_set_values_and_keeps_them() {
    let c = cloud();
    let first = put(&c, None, body()).unwrap();
    let p = &first["properties"];
    assert!(p["fqdn"].as_str().unwrap().starts_with("aks-one-"));
    assert_eq!(p["nodeResourceGroup"], json!("MC_rg_aks-one_westeurope"));
    assert_eq!(
        p["oidcIssuerProfile"]["issuerURL"],
        json!("http://127.0.0.1:1/aks/aks-one/oidc/")
    );
    assert!(p["identityProfile"]["kubeletidentity"]["objectId"].is_string());
    assert!(p["addonProfiles"]["omsagent"]["identity"]["objectId"].is_string());
    assert!(p["addonProfiles"]["ingressApplicationGateway"]
        .get("identity")
        .is_none());
    assert_eq!(
        p["addonProfiles"]["azureKeyvaultSecretsProvider"]["config"]["rotationPollInterval"],
        json!("2m")
    );
    assert_eq!(
        p["serviceMeshProfile"]["istio"]["revisions"],
        json!(["asm-1-25"])
    );
    assert_eq!(
        first["identity"]["userAssignedIdentities"][uai()]["principalId"],
        json!("p-1")
    );
    let stored = StoredResource {
        id: id().to_id(),
        body: first.clone(),
    };
    let again = put(
        &c,
        Some(&stored),
        with("/properties/agentPoolProfiles/0/count", json!(4)),
    )
    .unwrap();
    for ptr in [
        "/properties/fqdn",
        "/properties/identityProfile",
        "/properties/addonProfiles/omsagent/identity",
    ] {
        assert_eq!(again.pointer(ptr), first.pointer(ptr), "{ptr}");
    }
    assert_eq!(
        again["properties"]["agentPoolProfiles"][0]["count"],
        json!(4)
    );
}

#[test]
fn refuses_what_azure_refuses() {
    let c = cloud();
    let code = |b: Json| put(&c, None, b).unwrap_err().code;
    assert_eq!(
        code(with(
            "/properties/agentPoolProfiles/0/vnetSubnetID",
            json!(format!(
                "{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/Nope"
            ))
        )),
        "SubnetNotFound"
    );
    assert_eq!(
        code(with(
            "/properties/agentPoolProfiles/0/vnetSubnetID",
            json!("/subscriptions/s/oops")
        )),
        "InvalidSubnetId"
    );
    assert_eq!(
        code(with(
            "/properties/networkProfile/serviceCidr",
            json!("10.10.0.0/16")
        )),
        "DnsServiceIPOutOfServiceCidr"
    );
    let mut overlap = with(
        "/properties/networkProfile/serviceCidr",
        json!("10.10.128.0/17"),
    );
    overlap["properties"]["networkProfile"]["dnsServiceIP"] = json!("10.10.128.10");
    assert_eq!(code(overlap), "ServiceCidrOverlapExistingSubnetsCidr");
    assert_eq!(
        code(with("/properties/agentPoolProfiles/0/mode", json!("User"))),
        "MustDefineAtLeastOneSystemPool"
    );
    assert_eq!(
        code(with("/properties/oidcIssuerProfile/enabled", json!(false))),
        "InvalidParameter"
    );
    assert_eq!(
        code(with(
            "/properties/addonProfiles/omsagent/config/logAnalyticsWorkspaceResourceID",
            json!(format!(
                "{RG}/providers/Microsoft.OperationalInsights/workspaces/gone"
            ))
        )),
        "InvalidParameter"
    );
    assert_eq!(
        code(with(
            "/identity/userAssignedIdentities",
            json!({format!("{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gone"): {}})
        )),
        "InvalidParameter"
    );
    let first = put(&c, None, body()).unwrap();
    let stored = StoredResource {
        id: id().to_id(),
        body: first,
    };
    let update = |b: Json| put(&c, Some(&stored), b).unwrap_err().code;
    assert_eq!(
        update(with("/properties/dnsPrefix", json!("other"))),
        "PropertyChangeNotAllowed"
    );
    assert_eq!(
        update(with(
            "/properties/agentPoolProfiles/0/vmSize",
            json!("Standard_D8s_v5")
        )),
        "PropertyChangeNotAllowed"
    );
    assert_eq!(
        update(with(
            "/properties/networkProfile/serviceCidr",
            json!("172.17.0.0/16")
        )),
        "DnsServiceIPOutOfServiceCidr"
    );
    assert_eq!(
        update(with("/properties/kubernetesVersion", json!("1.32"))),
        "NotAllowedDowngrade"
    );
    let mut no_oidc = with("/properties/oidcIssuerProfile/enabled", json!(false));
    no_oidc["properties"]["securityProfile"]["workloadIdentity"]["enabled"] = json!(false);
    assert_eq!(update(no_oidc), "OIDCIssuerFeatureCannotBeDisabled");
    assert_eq!(
        update(with("/location", json!("eastus"))),
        "InvalidResourceLocation"
    );
}

#[test]
fn admin_kubeconfig() {
    let c = cloud();
    let stored = StoredResource {
        id: id().to_id(),
        body: put(&c, None, body()).unwrap(),
    };
    let reply = ManagedCluster
        .action(&c, &id(), &stored, "listClusterAdminCredential", None)
        .unwrap()
        .unwrap();
    assert_eq!(reply["kubeconfigs"][0]["name"], json!("clusterAdmin"));
    let yaml = base64::engine::general_purpose::STANDARD
        .decode(reply["kubeconfigs"][0]["value"].as_str().unwrap())
        .unwrap();
    let yaml = String::from_utf8(yaml).unwrap();
    assert!(
        yaml.contains("server: http://127.0.0.1:1/aks/aks-one\n"),
        "{yaml}"
    );
    let token = cluster_token(&stored, "clusterAdmin");
    assert_eq!(token.len(), 64);
    assert!(yaml.contains(&format!("token: {token}\n")));
    assert_ne!(token, cluster_token(&stored, "clusterUser"));
    assert!(ManagedCluster
        .action(&c, &id(), &stored, "rotateClusterCertificates", None)
        .is_none());
}

#[test]
fn one_operation_at_a_time_per_cluster() {
    let mut c = cloud();
    let first = put(&c, None, body()).unwrap();
    let stored = StoredResource {
        id: id().to_id(),
        body: first.clone(),
    };
    let pool_id = format!("{}/agentPools/user", id().to_id());
    let mut creating =
        json!({"properties": {"vmSize": "x", "count": 1, "provisioningState": "Creating"}});
    c.add(&pool_id, creating.clone());
    let busy = put(&c, Some(&stored), body()).unwrap_err();
    assert_eq!(
        (busy.status, busy.code.as_str()),
        (409, "OperationNotAllowed")
    );
    creating["properties"]["provisioningState"] = json!("Succeeded");
    c.add(&pool_id, creating.clone());
    assert!(put(&c, Some(&stored), body()).is_ok());
    // A pool cannot go while its cluster updates.
    let mut updating = first;
    updating["properties"]["provisioningState"] = json!("Updating");
    c.add(&id().to_id(), updating);
    let pool = StoredResource {
        id: pool_id.clone(),
        body: creating,
    };
    let refused = super::super::agent_pool::AgentPool
        .check_delete(&c, &ArmId::parse(&pool_id).unwrap(), &pool)
        .unwrap_err();
    assert_eq!(refused.code, "OperationNotAllowed");
}
