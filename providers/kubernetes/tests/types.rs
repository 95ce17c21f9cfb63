//! The typed Kubernetes resources (namespace, secret, config map, service account) against a
//! cluster of the local cloud: create, read back, drift made outside mesh, update, delete, and
//! a cluster deleted under its objects.

mod common;

use std::collections::BTreeMap;

use common::{json_of, Cluster, Resource, TestCloud};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use kube::api::{Api, Patch, PatchParams};
use mesh_engine::value::Value;
use serde_json::json;

async fn cloud_with_cluster() -> (TestCloud, Cluster) {
    let cloud = TestCloud::start().await;
    let cluster = cloud.create_cluster("one", "a").await;
    (cloud, cluster)
}

/// A merge patch made by someone else (no field manager of mesh's).
async fn merge_patch<K>(api: &Api<K>, name: &str, patch: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("patch {name}: {e}"));
}

#[tokio::test]
async fn a_namespace_reports_only_its_managed_labels_and_update_restores_them() {
    let (cloud, cluster) = cloud_with_cluster().await;
    let provider = cloud.kubernetes();
    let namespaces = Resource::new(&provider, "kubernetes_namespace");
    let config = namespaces.config(
        &cluster,
        json!({"name": "apps", "labels": {"istio-injection": "enabled", "team": "a"}}),
    );
    let state = namespaces.create(&config).await;
    assert_eq!(
        json_of(&state)["labels"],
        json!({"istio-injection": "enabled", "team": "a"})
    );
    assert_eq!(
        json_of(&state)["cluster"],
        json!({"id": cluster.id, "fqdn": cluster.fqdn}),
        "the state keeps only the cluster's ID and FQDN"
    );
    assert_eq!(namespaces.read(&state).await.as_ref(), Some(&state));
    let unchanged = namespaces.plan(Some(&state), &config).await;
    assert_eq!(unchanged.planned, state, "a second plan changes nothing");

    let api: Api<Namespace> = Api::all(cloud.kube(&cluster).await);
    let live = api.get("apps").await.expect("the namespace exists");
    let labels = live.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));

    // A label someone else adds is theirs: not reported.
    merge_patch(
        &api,
        "apps",
        json!({"metadata": {"labels": {"owner": "ops"}}}),
    )
    .await;
    assert_eq!(namespaces.read(&state).await.as_ref(), Some(&state));

    // A managed label changed outside mesh is drift.
    merge_patch(&api, "apps", json!({"metadata": {"labels": {"team": "b"}}})).await;
    let drifted = namespaces.read(&state).await.expect("still there");
    assert_eq!(
        json_of(&drifted)["labels"],
        json!({"istio-injection": "enabled", "team": "b"})
    );

    // The update brings it back and leaves the other label alone.
    let change = namespaces.plan(Some(&drifted), &config).await;
    assert_ne!(change.planned, drifted, "the plan restores the label");
    let updated = namespaces.update(&drifted, &config).await;
    assert_eq!(updated, state);
    let labels = api.get("apps").await.unwrap().metadata.labels.unwrap();
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(labels.get("owner").map(String::as_str), Some("ops"));

    namespaces.delete(&updated).await;
    assert!(api.get_opt("apps").await.unwrap().is_none(), "deleted");
    assert_eq!(namespaces.read(&updated).await, None);
    namespaces.delete(&updated).await;
}

#[tokio::test]
async fn secret_data_is_sensitive_encoded_in_the_cluster_and_decoded_by_read() {
    let (cloud, cluster) = cloud_with_cluster().await;
    let provider = cloud.kubernetes();
    let secrets = Resource::new(&provider, "kubernetes_secret");
    let schema = secrets.schema();
    assert!(
        schema.block.attributes["data"].sensitive,
        "data is sensitive"
    );

    let config = secrets.config(
        &cluster,
        json!({"name": "creds", "data": {"user": "admin", "password": "p@ss word"}}),
    );
    assert_eq!(
        common::text(&config, "type"),
        "Opaque",
        "the schema's default"
    );
    let state = secrets.create(&config).await;
    let data = state.get("data").expect("data in the state");
    assert!(
        matches!(data, Value::Sensitive(_)),
        "the engine keeps data marked"
    );
    assert_eq!(
        data.strip_sensitive().to_json(),
        json!({"user": "admin", "password": "p@ss word"})
    );
    assert_eq!(common::text(&state, "type"), "Opaque");
    assert_eq!(common::text(&state, "namespace"), "default");

    let api: Api<Secret> = Api::namespaced(cloud.kube(&cluster).await, "default");
    let live = api.get("creds").await.expect("the secret exists");
    assert_eq!(live.type_.as_deref(), Some("Opaque"));
    let live_data = live.data.expect("data");
    assert_eq!(live_data["password"].0, b"p@ss word");

    let read = secrets.read(&state).await.expect("still there");
    assert_eq!(read, state, "read decodes what create encoded");

    // A value changed outside mesh reads back decoded; a key others add is not reported.
    let encoded = |text: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(text)
    };
    merge_patch(
        &api,
        "creds",
        json!({"data": {"password": encoded("changed"), "extra": encoded("x")}}),
    )
    .await;
    let drifted = secrets.read(&state).await.expect("still there");
    assert_eq!(
        drifted
            .get("data")
            .map(Value::strip_sensitive)
            .map(|d| d.to_json()),
        Some(json!({"user": "admin", "password": "changed"}))
    );

    // A key taken out of the configuration leaves the Secret; the other key stays.
    let fewer = secrets.config(
        &cluster,
        json!({"name": "creds", "data": {"user": "admin"}}),
    );
    let updated = secrets.update(&drifted, &fewer).await;
    assert_eq!(
        updated
            .get("data")
            .map(Value::strip_sensitive)
            .map(|d| d.to_json()),
        Some(json!({"user": "admin"}))
    );
    let live_data = api.get("creds").await.unwrap().data.unwrap_or_default();
    let mut live_keys: Vec<&str> = live_data.keys().map(String::as_str).collect();
    live_keys.sort_unstable();
    assert_eq!(
        live_keys,
        ["extra", "user"],
        "mesh no longer declares password"
    );

    secrets.delete(&updated).await;
    assert!(api.get_opt("creds").await.unwrap().is_none());
    assert_eq!(secrets.read(&state).await, None);
}

#[tokio::test]
async fn config_maps_and_service_accounts_are_created_read_and_deleted() {
    let (cloud, cluster) = cloud_with_cluster().await;
    let provider = cloud.kubernetes();
    let client = cloud.kube(&cluster).await;

    let config_maps = Resource::new(&provider, "kubernetes_config_map");
    let config = config_maps.config(
        &cluster,
        json!({"name": "settings", "namespace": "kube-system", "data": {"mode": "fast"},
            "annotations": {"owner": "mesh"}}),
    );
    let state = config_maps.create(&config).await;
    assert_eq!(json_of(&state)["data"], json!({"mode": "fast"}));
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let live = api.get("settings").await.expect("the config map exists");
    assert_eq!(
        live.data,
        Some(BTreeMap::from([("mode".to_string(), "fast".to_string())]))
    );
    assert_eq!(config_maps.read(&state).await.as_ref(), Some(&state));
    merge_patch(&api, "settings", json!({"data": {"mode": "slow"}})).await;
    let drifted = config_maps.read(&state).await.expect("still there");
    assert_eq!(json_of(&drifted)["data"], json!({"mode": "slow"}));
    config_maps.delete(&state).await;
    assert!(api.get_opt("settings").await.unwrap().is_none());
    assert_eq!(config_maps.read(&state).await, None);

    let accounts = Resource::new(&provider, "kubernetes_service_account");
    let config = accounts.config(
        &cluster,
        json!({"name": "workload", "annotations": {"azure.workload.identity/client-id": "00000000-1111-2222-3333-444444444444"}}),
    );
    let state = accounts.create(&config).await;
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let live = api.get("workload").await.expect("the account exists");
    let annotations = live.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations
            .get("azure.workload.identity/client-id")
            .map(String::as_str),
        Some("00000000-1111-2222-3333-444444444444")
    );
    assert_eq!(accounts.read(&state).await.as_ref(), Some(&state));
    accounts.delete(&state).await;
    assert!(api.get_opt("workload").await.unwrap().is_none());
    assert_eq!(accounts.read(&state).await, None);
}

#[tokio::test]
async fn objects_of_a_deleted_cluster_read_as_gone_and_delete_quietly() {
    let cloud = TestCloud::start().await;
    let cluster = cloud.create_cluster("doomed", "a").await;
    let provider = cloud.kubernetes();
    let config_maps = Resource::new(&provider, "kubernetes_config_map");
    let config = config_maps.config(&cluster, json!({"name": "c", "data": {"k": "v"}}));
    let state = config_maps.create(&config).await;
    assert!(config_maps.read(&state).await.is_some());

    cloud.delete_cluster(&cluster).await;
    assert!(cloud.cloud.kubeconfig(&cluster.name).is_none());

    // The provider that knew the cluster (its client cached)...
    assert_eq!(config_maps.read(&state).await, None);
    config_maps.delete(&state).await;
    // ...and a fresh one (the next run: no credentials for the cluster).
    let fresh = cloud.kubernetes();
    let fresh_maps = Resource::new(&fresh, "kubernetes_config_map");
    assert_eq!(fresh_maps.read(&state).await, None);
    fresh_maps.delete(&state).await;
    // Creating in it says which cluster is missing.
    let err = fresh_maps.try_create(&config).await.unwrap_err();
    assert!(
        err.message.contains("doomed") && err.message.contains("does not exist"),
        "{err}"
    );
}
