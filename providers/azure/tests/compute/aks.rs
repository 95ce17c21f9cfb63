//! AKS against the local cloud: a cluster with its system pool, identity, add-ons and managed
//! Istio, its admin kubeconfig, and a user pool in its own subnet.

use mesh_engine::value::Value;

use super::*;

fn cluster_config(
    c: &Cloud,
    identity_id: &str,
    workspace_id: &str,
    vault_id: &str,
    service_cidr: &str,
    dns: &str,
) -> Value {
    const T: &str = "azure_kubernetes_cluster";
    let pool = c.block(
        T,
        &["default_node_pool"],
        vec![
            ("name", s("system")),
            ("vm_size", s("Standard_D4s_v5")),
            ("node_count", num(3.0)),
            ("vnet_subnet_id", s(&subnet_id("vnet-aks", "System"))),
            ("only_critical_addons_enabled", Value::Bool(true)),
        ],
    );
    let identity = c.block(
        T,
        &["identity"],
        vec![
            ("type", s("UserAssigned")),
            ("identity_ids", list(&[identity_id])),
        ],
    );
    let network = c.block(
        T,
        &["network_profile"],
        vec![
            ("network_plugin", s("azure")),
            ("network_policy", s("azure")),
            ("service_cidr", s(service_cidr)),
            ("dns_service_ip", s(dns)),
        ],
    );
    let kv = c.block(
        T,
        &["key_vault_secrets_provider"],
        vec![("secret_rotation_enabled", Value::Bool(true))],
    );
    let oms = c.block(
        T,
        &["oms_agent"],
        vec![("log_analytics_workspace_id", s(workspace_id))],
    );
    let ca = c.block(
        T,
        &["service_mesh_profile", "certificate_authority"],
        vec![
            ("key_vault_id", s(vault_id)),
            ("root_cert_object_name", s("root-cert")),
            ("cert_object_name", s("aks-one-ca-cert")),
            ("key_object_name", s("aks-one-ca-cert")),
            ("cert_chain_object_name", s("aks-one-cert-chain")),
        ],
    );
    let mesh = c.block(
        T,
        &["service_mesh_profile"],
        vec![
            ("revisions", list(&["asm-1-24"])),
            ("certificate_authority", ca),
        ],
    );
    c.config(
        T,
        vec![
            ("name", s("aks-one")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
            ("dns_prefix", s("aks-one")),
            ("kubernetes_version", s("1.33")),
            ("oidc_issuer_enabled", Value::Bool(true)),
            ("workload_identity_enabled", Value::Bool(true)),
            ("default_node_pool", pool),
            ("identity", identity),
            ("network_profile", network),
            ("key_vault_secrets_provider", kv),
            ("oms_agent", oms),
            ("service_mesh_profile", mesh),
        ],
    )
}

#[tokio::test]
async fn kubernetes_cluster_and_node_pool_lifecycle() {
    const T: &str = "azure_kubernetes_cluster";
    const P: &str = "azure_kubernetes_node_pool";
    let c = Cloud::start().await;
    c.network(
        "vnet-aks",
        "10.10.0.0/16",
        &[("System", "10.10.0.0/24"), ("User", "10.10.1.0/24")],
    )
    .await;
    c.network("vnet-other", "10.20.0.0/16", &[("User", "10.20.1.0/24")])
        .await;
    let identity = c.identity("aks-one-identity").await;
    let law = c.config(
        "azure_log_analytics_workspace",
        vec![
            ("name", s("law-compute")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
        ],
    );
    let law = c
        .create("azure_log_analytics_workspace", &law)
        .await
        .expect("workspace");
    let vault = c.config(
        "azure_key_vault",
        vec![
            ("name", s("kv-compute-1")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
            ("tenant_id", s(sub())),
            ("sku_name", s("standard")),
        ],
    );
    let vault = c.create("azure_key_vault", &vault).await.expect("vault");
    let (identity_id, law_id, vault_id) = (
        str_of(&identity, "id"),
        str_of(&law, "id"),
        str_of(&vault, "id"),
    );

    // ARM's refusals come back with their codes.
    let overlapping = cluster_config(
        &c,
        &identity_id,
        &law_id,
        &vault_id,
        "10.10.128.0/17",
        "10.10.128.10",
    );
    assert!(
        error_of(c.create(T, &overlapping).await).contains("ServiceCidrOverlapExistingSubnetsCidr")
    );
    let mut no_subnet = cluster_config(
        &c,
        &identity_id,
        &law_id,
        &vault_id,
        "172.16.0.0/16",
        "172.16.0.10",
    );
    no_subnet.set_at(
        &path(&["default_node_pool", "vnet_subnet_id"]),
        s(&subnet_id("vnet-aks", "Missing")),
    );
    assert!(error_of(c.create(T, &no_subnet).await).contains("SubnetNotFound"));

    // Create: computed values; the admin kubeconfig is fetched on demand, never stored.
    let config = cluster_config(
        &c,
        &identity_id,
        &law_id,
        &vault_id,
        "172.16.0.0/16",
        "172.16.0.10",
    );
    let cluster = c.create(T, &config).await.expect("cluster");
    assert!(cluster.get("kube_admin_config_raw").is_none());
    let raw = c
        .provider
        .admin_kubeconfig(&str_of(&cluster, "id"))
        .await
        .expect("kubeconfig")
        .expect("the cluster exists");
    assert!(
        raw.contains(&format!("server: {}/aks/aks-one\n", c.cloud.url())),
        "{}",
        raw.len()
    );
    assert!(raw.contains("token: "));
    assert!(str_of(&cluster, "fqdn").ends_with(".hcp.westeurope.azmk8s.io"));
    assert!(str_of(&cluster, "oidc_issuer_url").contains("/aks/aks-one/oidc/"));
    assert_eq!(
        str_of(&cluster, "node_resource_group"),
        format!("MC_{RG}_aks-one_westeurope")
    );
    let addons = cluster
        .get("addon_identity_object_ids")
        .and_then(Value::as_map)
        .expect("addon identities");
    assert!(addons.contains_key("key_vault_secrets_provider") && addons.contains_key("oms_agent"));
    assert!(!str_of(&cluster, "kubelet_identity_object_id").is_empty());
    c.assert_no_op(T, &cluster, &config).await;

    // Replacement detection: VM size of the system pool, DNS prefix, service range.
    assert!(!c
        .replace_paths(
            T,
            &cluster,
            &config,
            &["default_node_pool", "vm_size"],
            s("Standard_D8s_v5")
        )
        .await
        .is_empty());
    assert!(!c
        .replace_paths(T, &cluster, &config, &["dns_prefix"], s("aks-uno"))
        .await
        .is_empty());
    assert!(!c
        .replace_paths(
            T,
            &cluster,
            &config,
            &["network_profile", "service_cidr"],
            s("172.17.0.0/16")
        )
        .await
        .is_empty());

    // In-place update: scale the system pool, tag, drop the Log Analytics add-on.
    let mut scaled = config.clone();
    scaled.set_at(&path(&["default_node_pool", "node_count"]), num(4.0));
    scaled.set_or_insert("tags", map(&[("env", "dev")]));
    scaled.set_or_insert("oms_agent", Value::Null);
    let updated = c.update(T, &cluster, &scaled).await.expect("update");
    assert_eq!(
        updated.get_at(&path(&["default_node_pool", "node_count"])),
        Some(&num(4.0))
    );
    assert_eq!(updated.get("oms_agent"), Some(&Value::Null));
    assert_eq!(str_of(&updated, "fqdn"), str_of(&cluster, "fqdn"));
    let after_update = c
        .provider
        .admin_kubeconfig(&str_of(&updated, "id"))
        .await
        .expect("kubeconfig");
    assert_eq!(after_update, Some(raw.clone()));
    c.assert_no_op(T, &updated, &scaled).await;

    // The user pool, in its own subnet of the cluster's network.
    let cluster_id = str_of(&updated, "id");
    let pool = c.config(
        P,
        vec![
            ("name", s("user")),
            ("kubernetes_cluster_id", s(&cluster_id)),
            ("vm_size", s("Standard_D4s_v5")),
            ("node_count", num(2.0)),
            ("vnet_subnet_id", s(&subnet_id("vnet-aks", "User"))),
            ("node_taints", list(&["dedicated=apps:NoSchedule"])),
            ("node_labels", map(&[("tier", "apps")])),
        ],
    );
    let mut elsewhere = pool.clone();
    elsewhere.set_or_insert("vnet_subnet_id", s(&subnet_id("vnet-other", "User")));
    assert!(error_of(c.create(P, &elsewhere).await).contains("same virtual network"));
    let user = c.create(P, &pool).await.expect("node pool");
    assert_eq!(str_of(&user, "id"), format!("{cluster_id}/agentPools/user"));
    c.assert_no_op(P, &user, &pool).await;
    assert!(!c
        .replace_paths(P, &user, &pool, &["vm_size"], s("Standard_D8s_v5"))
        .await
        .is_empty());
    let mut autoscaled = pool.clone();
    autoscaled.set_or_insert("enable_auto_scaling", Value::Bool(true));
    autoscaled.set_or_insert("min_count", num(2.0));
    autoscaled.set_or_insert("max_count", num(5.0));
    let user = c.update(P, &user, &autoscaled).await.expect("autoscale");
    c.assert_no_op(P, &user, &autoscaled).await;

    // AKS runs one operation per cluster at a time: a pool deleted while the cluster updates
    // waits for it (the local cloud answers 409 OperationNotAllowed meanwhile).
    let mut retagged = scaled.clone();
    retagged.set_or_insert("tags", map(&[("env", "prod")]));
    let planned = c.plan(T, Some(&updated), &retagged).await.planned;
    let cluster_update = c.provider.update(c.apply(T, Some(&updated), planned));
    let pool_delete = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        c.provider
            .delete(c.apply(P, Some(&user.strip_sensitive()), Value::Null))
            .await
    };
    let (updated, deleted) = tokio::join!(cluster_update, pool_delete);
    let updated = updated.expect("cluster update");
    deleted.expect("pool delete after the cluster update");
    assert!(c.read(P, &user).await.is_none());
    c.delete(T, &updated).await;
}
