//! Changes to a cluster's objects behind its clients' backs (`kube-patch` and `kube-delete`
//! of `LocalCloud::mutate` and `POST /_admin/mutate`): they bypass admission but are writes
//! like any other (resourceVersion, generation, watch events, persisted data), name what
//! changed, and refuse unknown clusters, kinds and objects with messages that say so.

#[path = "common/aks.rs"]
mod aks;
mod common;

use std::time::Duration;

use aks::{arm, create_cluster, options, start, Kube, CLUSTER};
use mesh_emulator::LocalCloud;
use serde_json::{json, Value as Json};

const WIDGETS: &str = "/apis/example.com/v1/namespaces/default/widgets";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

/// A cloud on `dir` with a cluster serving the custom kind Widget, and one widget `w`.
async fn cluster_with_widget(dir: &std::path::Path) -> (LocalCloud, Kube) {
    let cloud = start(options(0.0, Some(dir), false)).await;
    create_cluster(&arm(&cloud), CLUSTER, json!({})).await;
    let kube = Kube::admin(&cloud, CLUSTER);
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let r = kube
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "labels": {"app": "w"}},
        "spec": {"routes": [{"weight": 50}, {"weight": 50}]}});
    let r = kube.post(WIDGETS, widget).await;
    assert_eq!(r.status, 201, "{}", r.text);
    (cloud, kube)
}

fn patch(kind: &str, patch: Json) -> Json {
    json!({"op": "kube-patch", "cluster": "AKS-ONE", "kind": kind, "namespace": "default", "name": "w", "patch": patch})
}

/// Open a watch of `path` (the server has answered its headers), then read `n` events.
async fn watch(kube: &Kube, path: &str) -> reqwest::Response {
    let resp = kube
        .http
        .get(format!("{}{path}", kube.server))
        .bearer_auth(kube.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp
}

async fn events(mut resp: reqwest::Response, n: usize) -> Vec<Json> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let read = async {
        while events.len() < n {
            let Some(chunk) = resp.chunk().await.unwrap() else {
                break;
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some((line, rest)) = buffer.split_once('\n') {
                events.push(serde_json::from_str::<Json>(line).unwrap());
                buffer = rest.to_string();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("watch events in time");
    events
}

#[tokio::test]
async fn a_patch_is_a_write_watches_see_and_the_data_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, kube) = cluster_with_widget(dir.path()).await;
    let before = kube.get(&format!("{WIDGETS}/w")).await.body;
    let from = before["metadata"]["resourceVersion"].as_str().unwrap();
    let watching = watch(
        &kube,
        &format!("{WIDGETS}?watch=true&resourceVersion={from}&timeoutSeconds=20"),
    )
    .await;

    let op = json!([{"op": "replace", "path": "/spec/routes/0/weight", "value": 90}]);
    let answer = cloud
        .mutate(&patch("widgets.example.com", op))
        .expect("patched");
    assert_eq!(answer["cluster"], "aks-one");
    assert_eq!(answer["kind"], "Widget");
    assert_eq!(answer["apiVersion"], "example.com/v1");
    assert_eq!(answer["namespace"], "default");
    assert_eq!(
        answer["changes"],
        json!([{"path": "spec.routes[0].weight", "before": 50, "after": 90}])
    );
    assert_eq!(answer["generation"], 2);

    let events = events(watching, 1).await;
    assert_eq!(events[0]["type"], "MODIFIED");
    assert_eq!(events[0]["object"]["spec"]["routes"][0]["weight"], 90);
    let after = kube.get(&format!("{WIDGETS}/w")).await.body;
    assert_eq!(after["spec"]["routes"][0]["weight"], 90);
    assert_eq!(
        after["metadata"]["resourceVersion"],
        answer["resourceVersion"]
    );
    assert_ne!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_eq!(after["metadata"]["generation"], 2);

    // A merge patch of metadata only: no new generation; the kind by its short name.
    let answer = cloud
        .mutate(&patch(
            "wd",
            json!({"metadata": {"labels": {"app": null, "by": "hand"}}}),
        ))
        .expect("patched");
    assert_eq!(
        answer["changes"],
        json!([{"path": "metadata.labels.app", "before": "w"},
               {"path": "metadata.labels.by", "after": "hand"}])
    );
    assert_eq!(answer["generation"], 2);
    // A patch that changes nothing is no write.
    let same = cloud
        .mutate(&patch(
            "Widget",
            json!({"spec": {"routes": [{"weight": 90}, {"weight": 50}]}}),
        ))
        .expect("nothing to change");
    assert_eq!(same["changes"], json!([]));
    assert_eq!(same["resourceVersion"], answer["resourceVersion"]);

    cloud.shutdown().await;
    let cloud = start(options(0.0, Some(dir.path()), false)).await;
    let kube = Kube::admin(&cloud, CLUSTER);
    let kept = kube.get(&format!("{WIDGETS}/w")).await.body;
    assert_eq!(kept["spec"]["routes"][0]["weight"], 90);
    assert_eq!(kept["metadata"]["labels"], json!({"by": "hand"}));
    cloud.shutdown().await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_what_there_is() {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, kube) = cluster_with_widget(dir.path()).await;
    let refused = |request: Json| {
        let answer = cloud.mutate(&request);
        answer.expect_err("refused")
    };
    let mut unknown_cluster = patch("Widget", json!({}));
    unknown_cluster["cluster"] = json!("nope");
    let (code, message) = refused(unknown_cluster);
    assert_eq!(code, 404);
    assert!(
        message.contains("no AKS cluster named \"nope\" (its clusters: aks-one)"),
        "{message}"
    );
    let (code, message) = refused(patch("Gadget", json!({})));
    assert_eq!(code, 404);
    assert!(message.contains("serves no kind \"Gadget\""), "{message}");
    let mut missing = patch("Widget", json!({}));
    missing["name"] = json!("other");
    let (code, message) = refused(missing);
    assert_eq!(code, 404);
    assert!(
        message.contains("has no Widget named other in namespace default"),
        "{message}"
    );
    let (code, message) = refused(patch(
        "Widget",
        json!([{"op": "remove", "path": "/spec/nothing"}]),
    ));
    assert_eq!(code, 422);
    assert!(message.starts_with("the patch does not apply"), "{message}");
    let (code, message) = refused(patch("Widget", json!({"metadata": {"name": "renamed"}})));
    assert_eq!(code, 422);
    assert!(message.contains("cannot change metadata.name"), "{message}");
    let mut no_name = patch("Widget", json!({}));
    no_name.as_object_mut().unwrap().remove("name");
    assert_eq!(refused(no_name).0, 400);
    // Nothing changed.
    let w = kube.get(&format!("{WIDGETS}/w")).await.body;
    assert_eq!(w["metadata"]["generation"], 1);
    assert_eq!(w["spec"]["routes"][0]["weight"], 50);
    cloud.shutdown().await;
}

fn web() -> Json {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}})
}

async fn pods(kube: &Kube) -> usize {
    let list = kube.get("/api/v1/namespaces/default/pods").await.body;
    list["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_deployment_patched_rolls_out_and_deleted_takes_its_pods_along() {
    let cloud = start(options(0.0, None, false)).await;
    create_cluster(&arm(&cloud), CLUSTER, json!({})).await;
    let kube = Kube::admin(&cloud, CLUSTER);
    let r = kube.post(DEPLOYMENTS, web()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    kube.poll(&format!("{DEPLOYMENTS}/web"), |d| {
        d["status"]["availableReplicas"] == 1
    })
    .await;
    assert_eq!(pods(&kube).await, 1);

    let request = json!({"op": "kube-patch", "cluster": CLUSTER, "kind": "deploy",
        "apiVersion": "apps/v1", "name": "web", "patchType": "merge", "patch": {"spec": {"replicas": 3}}});
    let answer = cloud.mutate(&request).expect("patched");
    assert_eq!(
        answer["changes"],
        json!([{"path": "spec.replicas", "before": 1, "after": 3}])
    );
    kube.poll(&format!("{DEPLOYMENTS}/web"), |d| {
        d["status"]["availableReplicas"] == 3
    })
    .await;
    assert_eq!(pods(&kube).await, 3);

    // Through the admin endpoint, as `mesh local kube-delete` does with a server running.
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/_admin/mutate", cloud.http_url()))
        .json(
            &json!({"op": "kube-delete", "cluster": CLUSTER, "kind": "Deployment",
            "namespace": "default", "name": "web"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Json = resp.json().await.unwrap();
    let removed = answer["removed"].as_array().unwrap();
    assert_eq!(
        removed[0],
        json!({"kind": "Deployment", "namespace": "default", "name": "web"})
    );
    let kinds: Vec<&str> = removed.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "Pod").count(),
        3,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"ReplicaSet"), "{kinds:?}");
    assert_eq!(kube.get(&format!("{DEPLOYMENTS}/web")).await.status, 404);
    assert_eq!(pods(&kube).await, 0);
    let again = http
        .post(format!("{}/_admin/mutate", cloud.http_url()))
        .json(
            &json!({"op": "kube-delete", "cluster": CLUSTER, "kind": "Deployment", "name": "web"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("has no Deployment named web"));
    cloud.shutdown().await;
}
