//! Remote secrets of one source cluster read by two targets: each has a reader of its own in
//! the source, so deleting one leaves the other's token working; and state from before
//! per-remote readers refreshes and converges by an update.

mod common;

use std::collections::BTreeMap;

use common::{json_of, Cluster, Resource, TestCloud};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::ByteString;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use mesh_engine::value::Value;
use mesh_provider_kubernetes::cluster::ClusterRef;
use mesh_provider_kubernetes::KubernetesProvider;
use serde_json::{json, Value as Json};

const LEGACY_ACCOUNT: &str = "istio-reader-service-account";
const LEGACY_TOKEN: &str = "istio-reader-service-account-istio-remote-secret-token";

async fn istio_namespace(provider: &KubernetesProvider, cluster: &Cluster) {
    let namespaces = Resource::new(provider, "kubernetes_namespace");
    let config = namespaces.config(cluster, json!({"name": "istio-system"}));
    namespaces.create(&config).await;
}

/// The configuration of a remote secret giving `target` the endpoints of `source`.
fn remote_config(remote: &Resource<'_>, source: &Cluster, target: &Cluster) -> Value {
    remote.config(
        target,
        json!({"source_cluster": source.json(), "cluster_name": source.name}),
    )
}

/// `kind/name` of each source-cluster object a remote secret's state tracks.
fn source_objects(state: &Value, source: &str) -> Vec<(String, String)> {
    let objects = json_of(state)["objects"].clone();
    let keys = objects
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>());
    let target_secret = format!("v1/Secret/istio-system/istio-remote-secret-{source}");
    keys.unwrap_or_default()
        .into_iter()
        .filter(|key| *key != target_secret)
        .map(|key| {
            let mut parts = key.rsplit('/');
            let name = parts.next().unwrap_or_default().to_string();
            let kind = key
                .split('/')
                .rev()
                .find(|part| part.starts_with(char::is_uppercase))
                .unwrap_or_default()
                .to_string();
            (kind, name)
        })
        .collect()
}

/// Whether the source cluster has an object of `kind` named `name`.
async fn exists(client: &kube::Client, kind: &str, name: &str) -> bool {
    let (group, namespaced) = match kind {
        "ClusterRole" | "ClusterRoleBinding" => ("rbac.authorization.k8s.io", false),
        _ => ("", true),
    };
    let gvk = GroupVersionKind::gvk(group, "v1", kind);
    let resource = ApiResource::from_gvk(&gvk);
    let api: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(client.clone(), "istio-system", &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    };
    let found = api.get_opt(name).await;
    found
        .unwrap_or_else(|e| panic!("{kind}/{name}: {e}"))
        .is_some()
}

/// The kubeconfig `target` holds for `source`.
async fn kubeconfig_in(cloud: &TestCloud, target: &Cluster, source: &str) -> String {
    let secrets: Api<Secret> = Api::namespaced(cloud.kube(target).await, "istio-system");
    let name = format!("istio-remote-secret-{source}");
    let secret = secrets.get(&name).await.expect("the remote secret");
    let data = secret.data.unwrap_or_default();
    let bytes = data.get(source).expect("a key named after the source");
    String::from_utf8(bytes.0.clone()).expect("UTF-8")
}

/// Whether a kubeconfig's credentials still let a client list the namespaces of its cluster.
async fn authenticates(kubeconfig: &str) -> Result<(), kube::Error> {
    let (client, _) =
        mesh_provider_kubernetes::cluster::client_from_kubeconfig(kubeconfig, None, "reader")
            .await
            .expect("a client");
    Api::<Namespace>::all(client)
        .list(&Default::default())
        .await
        .map(|_| ())
}

fn token_of(kubeconfig: &str) -> String {
    let parsed: Json = serde_yaml::from_str(kubeconfig).expect("a kubeconfig");
    let token = parsed.pointer("/users/0/user/token").and_then(Json::as_str);
    token.expect("a token").to_string()
}

#[tokio::test]
async fn deleting_one_remote_secret_of_a_source_leaves_the_others_token_working() {
    let cloud = TestCloud::start().await;
    let a = cloud.create_cluster("a", "a").await;
    let b = cloud.create_cluster("b", "b").await;
    let c = cloud.create_cluster("c", "b").await;
    let provider = cloud.kubernetes();
    for cluster in [&a, &b, &c] {
        istio_namespace(&provider, cluster).await;
    }
    let istio = provider.istio();
    let remote = Resource::new(&istio, "istio_remote_secret");
    let a_in_b = remote.create(&remote_config(&remote, &a, &b)).await;
    let a_in_c = remote.create(&remote_config(&remote, &a, &c)).await;

    let of_b = source_objects(&a_in_b, "a");
    let of_c = source_objects(&a_in_c, "a");
    let in_c = kubeconfig_in(&cloud, &c, "a").await;
    authenticates(&in_c).await.expect("A→C's token works");
    let in_b = kubeconfig_in(&cloud, &b, "a").await;

    remote.delete(&a_in_b).await;
    authenticates(&in_c)
        .await
        .expect("C's istiod still reads A after A→B is deleted");
    assert!(
        token_of(&in_c) != token_of(&in_b),
        "each target has its own token"
    );
    let b_secrets: Api<Secret> = Api::namespaced(cloud.kube(&b).await, "istio-system");
    let gone = b_secrets.get_opt("istio-remote-secret-a").await.unwrap();
    assert!(gone.is_none(), "B no longer holds A's secret");
    let kinds: Vec<&str> = of_b.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Secret",
            "ServiceAccount"
        ],
        "{of_b:?}"
    );
    let names = mesh_provider_kubernetes::remote_secret::reader_names_of(
        &ClusterRef::Aks {
            id: b.id.clone(),
            fqdn: None,
        },
        "a",
    );
    assert!(
        of_b.contains(&("ServiceAccount".to_string(), names.account.clone())),
        "{names:?} in {of_b:?}"
    );
    let source = cloud.kube(&a).await;
    for (kind, name) in &of_b {
        assert!(
            !of_c.contains(&(kind.clone(), name.clone())),
            "{kind}/{name} is shared"
        );
        assert!(!exists(&source, kind, name).await, "{kind}/{name} is gone");
    }
    for (kind, name) in &of_c {
        assert!(exists(&source, kind, name).await, "{kind}/{name} stays");
    }
    assert_eq!(remote.read(&a_in_c).await.as_ref(), Some(&a_in_c));
}

/// What an earlier mesh left: the shared reader in the source, its token in the target.
async fn legacy_wiring(cloud: &TestCloud, source: &Cluster, target: &Cluster) -> String {
    let client = cloud.kube(source).await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "istio-system");
    let account = json!({"metadata": {"name": LEGACY_ACCOUNT}});
    let account = serde_json::from_value(account).expect("a ServiceAccount");
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("created");
    let secrets: Api<Secret> = Api::namespaced(client, "istio-system");
    let token = json!({"metadata": {"name": LEGACY_TOKEN,
        "annotations": {"kubernetes.io/service-account.name": LEGACY_ACCOUNT}},
        "type": "kubernetes.io/service-account-token"});
    let token = serde_json::from_value(token).expect("a Secret");
    secrets
        .create(&PostParams::default(), &token)
        .await
        .expect("created");
    let filled = secrets.get(LEGACY_TOKEN).await.expect("the token Secret");
    let data = filled.data.unwrap_or_default();
    let token = String::from_utf8(data.get("token").expect("filled").0.clone()).expect("UTF-8");
    let kubeconfig = serde_yaml::to_string(&json!({
        "apiVersion": "v1", "kind": "Config", "current-context": source.name,
        "clusters": [{"name": source.name, "cluster": {"server": "https://unused.example"}}],
        "contexts": [{"name": source.name, "context": {"cluster": source.name, "user": source.name}}],
        "users": [{"name": source.name, "user": {"token": token}}],
    }))
    .expect("YAML");
    let remote: Secret = serde_json::from_value(json!({"metadata": {
        "name": format!("istio-remote-secret-{}", source.name),
        "labels": {"istio/multiCluster": "true"}}}))
    .expect("a Secret");
    let remote = Secret {
        data: Some(BTreeMap::from([(
            source.name.clone(),
            ByteString(kubeconfig.into_bytes()),
        )])),
        ..remote
    };
    let targets: Api<Secret> = Api::namespaced(cloud.kube(target).await, "istio-system");
    targets
        .create(&PostParams::default(), &remote)
        .await
        .expect("created");
    token
}

#[tokio::test]
async fn state_from_before_per_remote_readers_refreshes_and_converges_by_an_update() {
    let cloud = TestCloud::start().await;
    let a = cloud.create_cluster("a", "a").await;
    let b = cloud.create_cluster("b", "b").await;
    let provider = cloud.kubernetes();
    for cluster in [&a, &b] {
        istio_namespace(&provider, cluster).await;
    }
    let legacy_token = legacy_wiring(&cloud, &a, &b).await;
    let istio = provider.istio();
    let remote = Resource::new(&istio, "istio_remote_secret");
    let config = remote_config(&remote, &a, &b);
    let mut legacy = remote.plan(None, &config).await.planned;
    let old_keys = [
        format!("v1/ServiceAccount/istio-system/{LEGACY_ACCOUNT}"),
        format!("v1/Secret/istio-system/{LEGACY_TOKEN}"),
        "v1/Secret/istio-system/istio-remote-secret-a".to_string(),
    ];
    let old_digests = old_keys.iter().map(|k| (k.clone(), Value::string("old")));
    legacy.set_or_insert("objects", Value::Map(old_digests.collect()));

    let refreshed = remote.read(&legacy).await.expect("still tracked");
    let update = remote.plan(Some(&refreshed), &config).await;
    assert!(update.requires_replace.is_empty());
    assert_ne!(update.planned, refreshed, "an update is planned");
    let updated = remote.update(&refreshed, &config).await;
    assert_eq!(remote.read(&updated).await.as_ref(), Some(&updated));
    assert_eq!(remote.plan(Some(&updated), &config).await.planned, updated);

    let kubeconfig = kubeconfig_in(&cloud, &b, "a").await;
    assert_ne!(
        token_of(&kubeconfig),
        legacy_token,
        "the new reader's token"
    );
    authenticates(&kubeconfig)
        .await
        .expect("the new token works");
    let source = cloud.kube(&a).await;
    assert!(
        exists(&source, "ServiceAccount", LEGACY_ACCOUNT).await,
        "the shared reader of earlier versions is left alone"
    );
    remote.delete(&updated).await;
    assert!(exists(&source, "ServiceAccount", LEGACY_ACCOUNT).await);
    for (kind, name) in source_objects(&updated, "a") {
        assert!(
            !exists(&source, &kind, &name).await,
            "{kind}/{name} is gone"
        );
    }
}
