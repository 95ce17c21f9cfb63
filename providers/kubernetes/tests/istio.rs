//! The `istio` provider against clusters of the local cloud: a control plane with a `cacerts`
//! CA and an internal east-west gateway (install, refresh, drift by object, delete that keeps
//! the CRDs), and a remote secret between two clusters whose token never reaches the state.

mod common;

use base64::Engine;
use common::{json_of, text, Cluster, Resource, TestCloud};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use mesh_engine::value::Value;
use mesh_provider_kubernetes::KubernetesProvider;
use serde_json::{json, Value as Json};

const ISTIOD: &str = "apps/v1/Deployment/istio-system/istiod-1-14-1";

/// The istio-system namespace, on `network` when given.
async fn istio_namespace(provider: &KubernetesProvider, cluster: &Cluster, network: Option<&str>) {
    let namespaces = Resource::new(provider, "kubernetes_namespace");
    let labels = match network {
        Some(network) => json!({"topology.istio.io/network": network}),
        None => json!({}),
    };
    let config = namespaces.config(cluster, json!({"name": "istio-system", "labels": labels}));
    namespaces.create(&config).await;
}

/// Istio's plug-in CA Secret (the contents are not checked by the local cloud).
async fn cacerts(provider: &KubernetesProvider, cluster: &Cluster) {
    let secrets = Resource::new(provider, "kubernetes_secret");
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let config = secrets.config(
        cluster,
        json!({"name": "cacerts", "namespace": "istio-system", "data": {
            "ca-cert.pem": pem, "ca-key.pem": "key", "root-cert.pem": pem, "cert-chain.pem": pem}}),
    );
    secrets.create(&config).await;
}

fn control_plane(cluster_name: &str) -> Json {
    json!({"version": "1.14.1", "mesh_id": "mesh1", "cluster_name": cluster_name,
        "network": "net1", "ca_source": "cacerts",
        "eastwest_gateway": {"internal_load_balancer": true}})
}

fn digests(state: &Value) -> serde_json::Map<String, Json> {
    json_of(state)["objects"]
        .as_object()
        .cloned()
        .unwrap_or_else(|| panic!("objects is a map in {state}"))
}

/// Change the value of istiod's first environment variable, as someone with kubectl would.
async fn edit_istiod_env(api: &Api<Deployment>) {
    let mut istiod = api.get("istiod-1-14-1").await.expect("istiod exists");
    let spec = istiod.spec.as_mut().expect("a spec");
    let pod = spec.template.spec.as_mut().expect("a pod spec");
    let env = pod.containers[0].env.as_mut().expect("istiod has env");
    env[0].value = Some("changed-outside-mesh".into());
    istiod.metadata.managed_fields = None;
    api.replace("istiod-1-14-1", &PostParams::default(), &istiod)
        .await
        .expect("istiod replaced");
}

#[tokio::test]
async fn a_control_plane_installs_refreshes_by_object_and_leaves_the_crds_on_delete() {
    let cloud = TestCloud::start().await;
    let cluster = cloud.create_cluster("one", "a").await;
    let provider = cloud.kubernetes();
    istio_namespace(&provider, &cluster, Some("net1")).await;
    cacerts(&provider, &cluster).await;
    let istio = provider.istio();
    let planes = Resource::new(&istio, "istio_control_plane");
    let config = planes.config(&cluster, control_plane("one"));

    let planned = planes.plan(None, &config).await.planned;
    assert_eq!(text(&planned, "revision"), "1-14-1");
    assert!(planned
        .get("eastwest_gateway_address")
        .is_some_and(Value::is_unknown));
    let state = planes.create(&config).await;
    assert_eq!(text(&state, "revision"), "1-14-1");
    let objects = digests(&state);
    assert!(objects.contains_key(ISTIOD), "{:?}", objects.keys());
    assert_eq!(
        json_of(&planned)["objects"],
        json_of(&state)["objects"],
        "the digests planned are those applied"
    );

    let client = cloud.kube(&cluster).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "istio-system");
    let istiod = deployments
        .get("istiod-1-14-1")
        .await
        .expect("istiod exists");
    let status = istiod.status.expect("a status");
    assert_eq!(status.ready_replicas, Some(1), "rolled out");
    assert_eq!(status.observed_generation, istiod.metadata.generation);
    let volumes = istiod.spec.unwrap().template.spec.unwrap().volumes.unwrap();
    let cacerts = volumes.iter().find(|v| v.name == "cacerts");
    assert_eq!(
        cacerts.and_then(|v| v.secret.as_ref()?.secret_name.clone()),
        Some("cacerts".to_string())
    );
    let address: std::net::Ipv4Addr = text(&state, "eastwest_gateway_address")
        .parse()
        .expect("an IP address");
    assert!(
        cluster.subnet.contains(&address),
        "{address} is in the cluster's subnet {}",
        cluster.subnet
    );

    assert_eq!(planes.read(&state).await.as_ref(), Some(&state));
    assert_eq!(planes.plan(Some(&state), &config).await.planned, state);

    // istiod's env edited outside mesh: only its digest changes.
    edit_istiod_env(&deployments).await;
    let drifted = planes.read(&state).await.expect("still installed");
    let drifted_objects = digests(&drifted);
    assert_ne!(drifted_objects[ISTIOD], objects[ISTIOD]);
    for (key, digest) in &objects {
        if key != ISTIOD {
            assert_eq!(&drifted_objects[key], digest, "{key} unchanged");
        }
    }
    let updated = planes.update(&drifted, &config).await;
    assert_eq!(digests(&updated), objects, "the update restores istiod");

    planes.delete(&updated).await;
    assert!(deployments
        .get_opt("istiod-1-14-1")
        .await
        .unwrap()
        .is_none());
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let kept = crds.get_opt("virtualservices.networking.istio.io").await;
    assert!(kept.unwrap().is_some(), "the CRDs stay for other revisions");
}

/// The kubeconfig a remote secret holds for `cluster_name`.
fn remote_kubeconfig(secret: &Secret, cluster_name: &str) -> String {
    let data = secret.data.as_ref().expect("data");
    let bytes = &data
        .get(cluster_name)
        .expect("a key named after the cluster")
        .0;
    String::from_utf8(bytes.clone()).expect("UTF-8")
}

#[tokio::test]
async fn a_remote_secret_gives_the_target_a_kubeconfig_of_the_source_and_keeps_the_token_out_of_state(
) {
    let cloud = TestCloud::start().await;
    let east = cloud.create_cluster("east", "a").await;
    let west = cloud.create_cluster("west", "b").await;
    let provider = cloud.kubernetes();
    istio_namespace(&provider, &east, None).await;
    istio_namespace(&provider, &west, None).await;
    let istio = provider.istio();
    let remote = Resource::new(&istio, "istio_remote_secret");
    let config = remote.config(
        &west,
        json!({"source_cluster": east.json(), "cluster_name": "east"}),
    );
    let state = remote.create(&config).await;

    let secrets: Api<Secret> = Api::namespaced(cloud.kube(&west).await, "istio-system");
    let secret = secrets
        .get("istio-remote-secret-east")
        .await
        .expect("the target has the remote secret");
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("istio/multiCluster").map(String::as_str),
        Some("true")
    );
    let kubeconfig = remote_kubeconfig(&secret, "east");
    let parsed: Json = serde_yaml::from_str(&kubeconfig).expect("a kubeconfig");
    let source: Json = serde_yaml::from_str(&cloud.kubeconfig(&east)).expect("a kubeconfig");
    let server = "/clusters/0/cluster/server";
    assert_eq!(
        parsed.pointer(server),
        source.pointer(server),
        "the source's API server"
    );
    assert!(parsed.pointer(server).is_some_and(Json::is_string));
    let token = parsed
        .pointer("/users/0/user/token")
        .and_then(Json::as_str)
        .expect("a token")
        .to_string();
    assert!(!token.is_empty());

    // The kubeconfig works: it reads the source cluster as the reader.
    let (reader, _) =
        mesh_provider_kubernetes::cluster::client_from_kubeconfig(&kubeconfig, None, "reader")
            .await
            .expect("a client of the source");
    let namespaces: Api<Namespace> = Api::all(reader);
    let listed = namespaces.list(&Default::default()).await.expect("listed");
    assert!(listed
        .items
        .iter()
        .any(|n| n.metadata.name.as_deref() == Some("istio-system")));

    assert_eq!(remote.read(&state).await.as_ref(), Some(&state));
    let serialized = serde_json::to_string(&state.to_json()).expect("JSON");
    for rendered in [serialized, format!("{state:?}"), state.to_string()] {
        assert!(!rendered.contains(&token), "the token is not in the state");
        assert!(!rendered.contains(&base64::engine::general_purpose::STANDARD.encode(&token)));
    }

    remote.delete(&state).await;
    assert!(secrets
        .get_opt("istio-remote-secret-east")
        .await
        .unwrap()
        .is_none());
    let readers: Api<ServiceAccount> = Api::namespaced(cloud.kube(&east).await, "istio-system");
    let reader = readers.get_opt(&reader_account(&state)).await;
    assert!(
        reader.unwrap().is_none(),
        "the reader is gone from the source"
    );
    assert_eq!(remote.read(&state).await, None);
}

/// A cluster that plans refer to but nothing reaches (planning does no I/O).
fn unreached_cluster() -> Cluster {
    Cluster {
        name: "planned".into(),
        id: common::cluster_id("planned"),
        fqdn: "planned.hcp.westeurope.azmk8s.io".into(),
        subnet: "10.10.0.0/24".parse().unwrap(),
    }
}

/// Known bug: `revision` is kept from the prior state once computed, so a new `version`
/// renders the new release under the old revision's names and labels.
#[tokio::test]
async fn a_new_version_plans_the_revision_derived_from_it() {
    let istio = KubernetesProvider::new(None).istio();
    let planes = Resource::new(&istio, "istio_control_plane");
    let cluster = unreached_cluster();
    let old = planes.config(&cluster, control_plane("one"));
    let prior = planes.plan(None, &old).await.planned;
    assert_eq!(text(&prior, "revision"), "1-14-1");
    let mut attrs = control_plane("one");
    attrs["version"] = json!("1.19.1");
    let new = planes.config(&cluster, attrs);
    let change = planes.plan(Some(&prior), &new).await;
    assert_eq!(
        text(&change.planned, "revision"),
        "1-19-1",
        "the revision follows the version when it is not set"
    );
}

/// Known bug: the gateway addresses are planned as their prior values even when the gateway's
/// Service changes, so resources using them get the old address in that apply.
#[tokio::test]
async fn a_gateway_change_plans_its_address_as_unknown() {
    let cloud = TestCloud::start().await;
    let cluster = cloud.create_cluster("one", "a").await;
    let provider = cloud.kubernetes();
    istio_namespace(&provider, &cluster, Some("net1")).await;
    cacerts(&provider, &cluster).await;
    let istio = provider.istio();
    let planes = Resource::new(&istio, "istio_control_plane");
    let state = planes
        .create(&planes.config(&cluster, control_plane("one")))
        .await;
    let internal = text(&state, "eastwest_gateway_address").to_string();
    let mut attrs = control_plane("one");
    attrs["eastwest_gateway"] = json!({"internal_load_balancer": false});
    let public = planes.config(&cluster, attrs);
    let change = planes.plan(Some(&state), &public).await;
    let updated = planes.update(&state, &public).await;
    let address = text(&updated, "eastwest_gateway_address").to_string();
    assert_ne!(
        address, internal,
        "a public address replaces the internal one"
    );
    let planned = change.planned.get("eastwest_gateway_address");
    assert!(
        planned.is_some_and(Value::is_unknown)
            || planned == updated.get("eastwest_gateway_address"),
        "the plan said {planned:?}, the apply gave {address}"
    );
}

/// Two clusters with istio-system, and a remote secret of `east` in `west`.
async fn remote_secret_between_two_clusters(
    cloud: &TestCloud,
    provider: &KubernetesProvider,
) -> (Cluster, Cluster, Value) {
    let east = cloud.create_cluster("east", "a").await;
    let west = cloud.create_cluster("west", "b").await;
    istio_namespace(provider, &east, None).await;
    istio_namespace(provider, &west, None).await;
    let istio = provider.istio();
    let remote = Resource::new(&istio, "istio_remote_secret");
    let config = remote.config(
        &west,
        json!({"source_cluster": east.json(), "cluster_name": "east"}),
    );
    let state = remote.create(&config).await;
    (east, west, state)
}

#[tokio::test]
async fn a_remote_secret_whose_target_cluster_is_deleted_is_still_deleted_from_the_source() {
    let cloud = TestCloud::start().await;
    let provider = cloud.kubernetes();
    let (east, west, state) = remote_secret_between_two_clusters(&cloud, &provider).await;
    let istio = provider.istio();
    let remote = Resource::new(&istio, "istio_remote_secret");
    cloud.delete_cluster(&west).await;
    let fresh = cloud.kubernetes().istio();
    let fresh_remote = Resource::new(&fresh, "istio_remote_secret");
    for remote in [&remote, &fresh_remote] {
        let read = remote
            .read(&state)
            .await
            .expect("the reader is still in the source");
        assert!(!digests(&read).contains_key("v1/Secret/istio-system/istio-remote-secret-east"));
    }
    fresh_remote.delete(&state).await;
    let readers: Api<ServiceAccount> = Api::namespaced(cloud.kube(&east).await, "istio-system");
    let reader = readers.get_opt(&reader_account(&state)).await;
    assert!(
        reader.unwrap().is_none(),
        "the reader is gone from the source"
    );
    assert_eq!(fresh_remote.read(&state).await, None);
}

/// Known bug: with the source cluster gone, read answers None although the Secret is still
/// in the target: mesh forgets it and never deletes it.
#[tokio::test]
async fn a_remote_secret_whose_source_cluster_is_deleted_is_still_tracked_in_the_target() {
    let cloud = TestCloud::start().await;
    let provider = cloud.kubernetes();
    let (east, west, state) = remote_secret_between_two_clusters(&cloud, &provider).await;
    cloud.delete_cluster(&east).await;
    let istio = cloud.kubernetes().istio();
    let remote = Resource::new(&istio, "istio_remote_secret");
    let secrets: Api<Secret> = Api::namespaced(cloud.kube(&west).await, "istio-system");
    assert!(secrets
        .get_opt("istio-remote-secret-east")
        .await
        .unwrap()
        .is_some());
    assert!(
        remote.read(&state).await.is_some(),
        "the target still has the Secret"
    );
    remote.delete(&state).await;
    assert!(secrets
        .get_opt("istio-remote-secret-east")
        .await
        .unwrap()
        .is_none());
}

/// The reader ServiceAccount a remote secret made in its source cluster, from its state.
fn reader_account(state: &Value) -> String {
    let key = digests(state)
        .keys()
        .find(|k| k.starts_with("v1/ServiceAccount/"))
        .cloned()
        .expect("the state names the reader ServiceAccount");
    key.rsplit('/').next().unwrap_or_default().to_string()
}
