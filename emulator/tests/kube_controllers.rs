//! What a simulated cluster does by itself, seen through kube-rs over HTTPS with the
//! cluster's kubeconfig: Deployments become available, LoadBalancer Services get addresses
//! (internal ones from the subnet), CRDs become Established, sidecars are injected,
//! service-account tokens are issued and accepted.

#[path = "common/aks.rs"]
mod aks;
mod common;

use std::time::Duration;

use aks::{arm, create_cluster, kube_client, options, start, Kube, CLUSTER};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use mesh_emulator::LocalCloud;
use serde_json::json;

/// A cloud with HTTPS on (the kubeconfig trusts its CA) and a cluster; controllers take
/// `time_factor` × their real durations.
async fn cluster(
    time_factor: f64,
    extra: serde_json::Value,
) -> (LocalCloud, kube::Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cloud = start(options(time_factor, Some(dir.path()), true)).await;
    create_cluster(&arm(&cloud), CLUSTER, extra).await;
    let config = cloud.kubeconfig(CLUSTER).expect("a kubeconfig");
    assert!(config.contains("certificate-authority-data"), "{config}");
    assert!(config.contains(&format!("server: {}/aks/{CLUSTER}", cloud.url())));
    let client = kube_client(&config).await;
    (cloud, client, dir)
}

const WAIT: Duration = Duration::from_secs(60);

fn deployment(name: &str, namespace: &str, image: &str, labels: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": image}]}}},
    }))
    .unwrap()
}

#[tokio::test]
async fn deployments_become_available_with_pods_and_crds_established() {
    let (cloud, client, _dir) = cluster(0.01, json!({})).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d = deployment("web", "default", "nginx:1.27", json!({}));
    let created = deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let status = created.status.unwrap_or_default();
    assert_ne!(status.available_replicas, Some(2), "not available at once");
    let done = tokio::time::timeout(
        WAIT,
        await_condition(
            deployments.clone(),
            "web",
            conditions::is_deployment_completed(),
        ),
    )
    .await
    .expect("the deployment completes in time")
    .unwrap()
    .unwrap();
    let status = done.status.unwrap();
    assert_eq!(
        (
            status.ready_replicas,
            status.available_replicas,
            status.updated_replicas
        ),
        (Some(2), Some(2), Some(2))
    );
    assert_eq!(status.observed_generation, Some(1));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 2);
    for pod in &list.items {
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "ReplicaSet");
        assert_eq!(
            pod.spec.as_ref().unwrap().containers[0].image.as_deref(),
            Some("nginx:1.27")
        );
        assert_eq!(
            pod.status.as_ref().unwrap().phase.as_deref(),
            Some("Running")
        );
    }
    // A new image rolls out again; scaling changes the pods.
    let patch = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}});
    let applied = deployments
        .patch("web", &PatchParams::apply("mesh"), &Patch::Apply(&patch))
        .await
        .unwrap();
    assert_eq!(applied.metadata.generation, Some(2));
    let done = tokio::time::timeout(
        WAIT,
        await_condition(deployments.clone(), "web", |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref()).is_some_and(|s| {
                s.observed_generation == Some(2)
                    && s.available_replicas == Some(1)
                    && s.updated_replicas == Some(1)
            })
        }),
    )
    .await
    .expect("the rollout completes")
    .unwrap();
    assert!(done.is_some());
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(
        list.items[0].spec.as_ref().unwrap().containers[0]
            .image
            .as_deref(),
        Some("nginx:1.28")
    );
    // Deleting the Deployment deletes its ReplicaSets and Pods.
    deployments
        .delete("web", &Default::default())
        .await
        .unwrap();
    assert!(pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());

    // A CRD becomes Established, and its kind is served.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Gadget", "plural": "gadgets"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})).unwrap();
    crds.patch(
        "gadgets.example.com",
        &PatchParams::apply("mesh"),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    tokio::time::timeout(
        WAIT,
        await_condition(
            crds,
            "gadgets.example.com",
            conditions::is_crd_established(),
        ),
    )
    .await
    .expect("established in time")
    .unwrap();
    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    assert!(discovery.groups().any(|g| g.name() == "example.com"));
    cloud.shutdown().await;
}

#[tokio::test]
async fn load_balancer_services_get_public_or_internal_addresses() {
    let (cloud, client, _dir) = cluster(0.01, json!({})).await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc = |name: &str, annotations: serde_json::Value| -> Service {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
        .unwrap()
    };
    let public = services
        .create(&PostParams::default(), &svc("public", json!({})))
        .await
        .unwrap();
    let spec = public.spec.unwrap();
    let cluster_ip: std::net::Ipv4Addr = spec.cluster_ip.unwrap().parse().unwrap();
    assert_eq!(cluster_ip.octets()[..2], [172, 16], "from the service CIDR");
    let node_port = spec.ports.unwrap()[0].node_port.unwrap();
    assert!((30000..=32767).contains(&node_port));
    let internal = svc(
        "internal",
        json!({"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}),
    );
    services
        .create(&PostParams::default(), &internal)
        .await
        .unwrap();
    let other_subnet = svc(
        "other",
        json!({"service.beta.kubernetes.io/azure-load-balancer-internal": "true",
        "service.beta.kubernetes.io/azure-load-balancer-internal-subnet": "ilb"}),
    );
    services
        .create(&PostParams::default(), &other_subnet)
        .await
        .unwrap();
    let mut addresses = Vec::new();
    for name in ["public", "internal", "other"] {
        let ready = tokio::time::timeout(
            WAIT,
            await_condition(
                services.clone(),
                name,
                conditions::is_service_loadbalancer_provisioned(),
            ),
        )
        .await
        .expect("an address in time")
        .unwrap()
        .unwrap();
        let ip = ready
            .status
            .unwrap()
            .load_balancer
            .unwrap()
            .ingress
            .unwrap()[0]
            .ip
            .clone()
            .unwrap();
        addresses.push(ip.parse::<std::net::Ipv4Addr>().unwrap());
    }
    assert_eq!(
        addresses[0].octets()[0],
        20,
        "public-looking: {}",
        addresses[0]
    );
    let nodes: ipnet::Ipv4Net = "10.10.0.0/24".parse().unwrap();
    let ilb: ipnet::Ipv4Net = "10.10.1.0/24".parse().unwrap();
    assert!(
        nodes.contains(&addresses[1]),
        "{} in the node subnet",
        addresses[1]
    );
    assert!(
        ilb.contains(&addresses[2]),
        "{} in the ilb subnet",
        addresses[2]
    );
    // Headless Services have no cluster IP.
    let headless: Service = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "headless"},
        "spec": {"clusterIP": "None", "selector": {"app": "x"}, "ports": [{"port": 80}]}}),
    )
    .unwrap();
    let created = services
        .create(&PostParams::default(), &headless)
        .await
        .unwrap();
    assert_eq!(created.spec.unwrap().cluster_ip.as_deref(), Some("None"));
    cloud.shutdown().await;
}

#[tokio::test]
async fn pods_of_labelled_namespaces_get_the_sidecar_of_a_running_istiod() {
    let (cloud, client, _dir) = cluster(0.0, json!({})).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for (name, labels) in [
        ("istio-system", json!({})),
        ("rev", json!({"istio.io/rev": "1-22-3"})),
        ("default-rev", json!({"istio-injection": "enabled"})),
        ("plain", json!({})),
        ("missing-rev", json!({"istio.io/rev": "9-9-9"})),
    ] {
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap();
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .unwrap();
    }
    let istio: Api<Deployment> = Api::namespaced(client.clone(), "istio-system");
    istio
        .create(
            &PostParams::default(),
            &deployment(
                "istiod-1-22-3",
                "istio-system",
                "mcr.microsoft.com/oss/istio/pilot:1.22.3",
                json!({"istio.io/rev": "1-22-3", "app": "istiod"}),
            ),
        )
        .await
        .unwrap();
    istio
        .create(
            &PostParams::default(),
            &deployment(
                "istiod",
                "istio-system",
                "docker.io/istio/pilot:1.14.1",
                json!({"app": "istiod"}),
            ),
        )
        .await
        .unwrap();
    let pod = |name: &str| -> Pod {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]}})).unwrap()
    };
    let cases = [
        (
            "rev",
            Some(("mcr.microsoft.com/oss/istio/proxyv2:1.22.3", "1-22-3")),
        ),
        (
            "default-rev",
            Some(("docker.io/istio/proxyv2:1.14.1", "default")),
        ),
        ("plain", None),
        ("missing-rev", None),
    ];
    for (namespace, expected) in cases {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let created = pods
            .create(&PostParams::default(), &pod("p"))
            .await
            .unwrap();
        let containers = created.spec.unwrap().containers;
        let proxy = containers.iter().find(|c| c.name == "istio-proxy");
        match expected {
            Some((image, revision)) => {
                assert_eq!(
                    proxy.and_then(|c| c.image.as_deref()),
                    Some(image),
                    "{namespace}"
                );
                let annotations = created.metadata.annotations.unwrap();
                let status: serde_json::Value =
                    serde_json::from_str(&annotations["sidecar.istio.io/status"]).unwrap();
                assert_eq!(status["revision"], revision);
                assert_eq!(containers[0].name, "app");
            }
            None => assert!(proxy.is_none(), "{namespace}: {containers:?}"),
        }
    }
    // Pods a Deployment makes are injected as well.
    let apps: Api<Deployment> = Api::namespaced(client.clone(), "rev");
    apps.create(
        &PostParams::default(),
        &deployment("echo", "rev", "echo:1", json!({})),
    )
    .await
    .unwrap();
    tokio::time::timeout(
        WAIT,
        await_condition(apps, "echo", conditions::is_deployment_completed()),
    )
    .await
    .unwrap()
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "rev");
    let echo = pods
        .list(&ListParams::default().labels("app=echo"))
        .await
        .unwrap();
    assert_eq!(echo.items.len(), 2);
    assert!(echo.items.iter().all(|p| p
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .any(|c| c.name == "istio-proxy")));
    cloud.shutdown().await;
}

#[tokio::test]
async fn service_account_tokens_act_as_their_service_account() {
    let (cloud, client, _dir) = cluster(0.0, json!({})).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    // The Secret comes first; its service account later (istioctl does it the other way).
    let secret: Secret = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "reader-token", "annotations": {"kubernetes.io/service-account.name": "reader"}},
        "type": "kubernetes.io/service-account-token"})).unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "kube-system");
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "reader"}})).unwrap();
    accounts.create(&PostParams::default(), &sa).await.unwrap();
    let filled = secrets.get("reader-token").await.unwrap();
    let data = filled.data.unwrap();
    let token = String::from_utf8(data["token"].0.clone()).unwrap();
    assert_eq!(data["namespace"].0, b"kube-system");
    let ca = String::from_utf8(data["ca.crt"].0.clone()).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        std::fs::read_to_string(cloud.ca_file().unwrap()).unwrap(),
        ca
    );
    // stringData is folded into data.
    let plain: Secret =
        serde_json::from_value(json!({"metadata": {"name": "plain"}, "stringData": {"a": "b"}}))
            .unwrap();
    let created = secrets
        .create(&PostParams::default(), &plain)
        .await
        .unwrap();
    assert_eq!(created.data.unwrap()["a"].0, b"b");
    assert_eq!(created.type_.as_deref(), Some("Opaque"));

    // The token works as a bearer token; a TokenRequest gives another.
    let base = Kube::admin_https(&cloud, CLUSTER);
    let as_sa = base.with_token(Some(&token));
    assert_eq!(as_sa.get("/api/v1/namespaces").await.status, 200);
    let request = base.post("/api/v1/namespaces/kube-system/serviceaccounts/reader/token", json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": ["istio-ca"], "expirationSeconds": 3600}})).await;
    assert_eq!(request.status, 201, "{}", request.text);
    let requested = request.body["status"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        base.with_token(Some(&requested)).get("/api").await.status,
        200
    );
    // Deleting the service account revokes its tokens.
    accounts
        .delete("reader", &Default::default())
        .await
        .unwrap();
    assert_eq!(as_sa.get("/api/v1/namespaces").await.status, 401);
    assert_eq!(
        base.with_token(Some(&requested)).get("/api").await.status,
        401
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn the_key_vault_add_on_brings_the_csi_crds() {
    let (cloud, client, _dir) = cluster(
        0.0,
        json!({"addonProfiles": {"azureKeyvaultSecretsProvider": {"enabled": true}}}),
    )
    .await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let spc = crds
        .get("secretproviderclasses.secrets-store.csi.x-k8s.io")
        .await
        .unwrap();
    assert_eq!(
        spc.spec.versions.iter().find(|v| v.storage).unwrap().name,
        "v1"
    );
    crds.get("secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io")
        .await
        .unwrap();
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(
                "secrets-store.csi.x-k8s.io",
                "v1",
                "SecretProviderClass",
            ),
            "secretproviderclasses",
        ),
    );
    let spc: kube::api::DynamicObject = serde_json::from_value(json!({"apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
        "metadata": {"name": "istio-ca"}, "spec": {"provider": "azure", "parameters": {"keyvaultName": "kv"}}})).unwrap();
    api.create(&PostParams::default(), &spc).await.unwrap();
    assert_eq!(
        api.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    cloud.shutdown().await;
}
