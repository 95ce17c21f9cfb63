//! A cluster's Kubernetes objects over time: kept across restarts on the same data directory,
//! gone with the cluster; watches from a resourceVersion, with selectors, and after a
//! restart (410 Expired).

#[path = "common/aks.rs"]
mod aks;
mod common;

use std::time::Duration;

use aks::{arm, cluster_id, create_cluster, names, options, start, Kube, CLUSTER};
use serde_json::{json, Value as Json};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str, labels: Json) -> Json {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}})
}

#[tokio::test]
async fn objects_survive_a_restart_and_go_with_their_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = start(options(0.0, Some(dir.path()), false)).await;
    let c = arm(&cloud);
    create_cluster(&c, CLUSTER, json!({})).await;
    let kube = Kube::admin(&cloud, CLUSTER);
    let created = kube.post(CMS, cm("kept", json!({}))).await;
    assert_eq!(created.status, 201);
    let apply =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n  b: '2'\n";
    let r = kube
        .patch(
            &format!("{CMS}/applied?fieldManager=mesh"),
            "application/apply-patch+yaml",
            apply,
        )
        .await;
    assert_eq!(r.status, 201);
    cloud.shutdown().await;

    let cloud = start(options(0.0, Some(dir.path()), false)).await;
    let kube = Kube::admin(&cloud, CLUSTER);
    let again = kube.get(&format!("{CMS}/kept")).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        again.body["metadata"]["uid"],
        created.body["metadata"]["uid"]
    );
    // What the manager applied is remembered: a field it stops applying goes.
    let apply = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n";
    let r = kube
        .patch(
            &format!("{CMS}/applied?fieldManager=mesh"),
            "application/apply-patch+yaml",
            apply,
        )
        .await;
    assert_eq!(r.body["data"], json!({"a": "1"}));
    // New objects keep counting resourceVersions up.
    let newer = kube.post(CMS, cm("newer", json!({}))).await;
    let rv = |r: &Json| {
        r["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(rv(&newer.body) > rv(&created.body));

    // Deleting the cluster deletes its objects; a new cluster of that name starts afresh.
    let c = arm(&cloud);
    let r = c.arm("DELETE", &cluster_id(CLUSTER), None).await;
    assert!(r.status == 202 || r.status == 200, "{:?}", r.body);
    assert_eq!(kube.get("/api").await.status, 404);
    assert!(!std::fs::read_to_string(dir.path().join("cloud.json"))
        .unwrap()
        .contains("\"kept\""));
    create_cluster(&c, CLUSTER, json!({})).await;
    let fresh = Kube::admin(&cloud, CLUSTER);
    assert_ne!(
        fresh.token, kube.token,
        "a recreated cluster has new credentials"
    );
    assert_eq!(fresh.get(&format!("{CMS}/kept")).await.status, 404);
    assert_eq!(names(&fresh.get("/api/v1/namespaces").await.body).len(), 4);
    cloud.shutdown().await;
}

/// Read watch lines until `n` arrived (or the stream ended).
async fn watch_lines(kube: &Kube, path: &str, n: usize) -> Vec<Json> {
    let mut resp = kube
        .http
        .get(format!("{}{path}", kube.server))
        .bearer_auth(kube.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
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

fn summary(events: &[Json]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

fn pair(t: &str, n: &str) -> (String, String) {
    (t.to_string(), n.to_string())
}

#[tokio::test]
async fn watches_replay_from_a_resource_version_and_follow_selectors() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = start(options(0.0, Some(dir.path()), false)).await;
    create_cluster(&arm(&cloud), CLUSTER, json!({})).await;
    let kube = Kube::admin(&cloud, CLUSTER);
    let first = kube.post(CMS, cm("a", json!({"app": "web"}))).await;
    let from = first.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    kube.post(CMS, cm("b", json!({"app": "db"}))).await;
    kube.patch(
        &format!("{CMS}/a"),
        "application/merge-patch+json",
        r#"{"data": {"x": "1"}}"#,
    )
    .await;
    kube.delete(&format!("{CMS}/b")).await;
    let events = watch_lines(
        &kube,
        &format!("{CMS}?watch=true&resourceVersion={from}&timeoutSeconds=5"),
        3,
    )
    .await;
    assert_eq!(
        summary(&events),
        [
            pair("ADDED", "b"),
            pair("MODIFIED", "a"),
            pair("DELETED", "b")
        ]
    );
    assert_eq!(events[0]["object"]["kind"], "ConfigMap");

    // From a resourceVersion with a selector: an object that stops matching is DELETED for the
    // watch, one that starts matching ADDED.
    let list = kube
        .get(&format!("{CMS}?labelSelector=app%3Dweb"))
        .await
        .body;
    assert_eq!(names(&list), ["a"]);
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    kube.post(CMS, cm("c", json!({"app": "db"}))).await;
    kube.post(CMS, cm("d", json!({"app": "web"}))).await;
    kube.patch(
        &format!("{CMS}/a"),
        "application/merge-patch+json",
        r#"{"metadata": {"labels": {"app": "other"}}}"#,
    )
    .await;
    kube.patch(
        &format!("{CMS}/c"),
        "application/merge-patch+json",
        r#"{"metadata": {"labels": {"app": "web"}}}"#,
    )
    .await;
    let path =
        format!("{CMS}?watch=1&labelSelector=app%3Dweb&resourceVersion={from}&timeoutSeconds=20");
    let events = watch_lines(&kube, &path, 3).await;
    assert_eq!(
        summary(&events),
        [pair("ADDED", "d"), pair("DELETED", "a"), pair("ADDED", "c")]
    );

    // Without a resourceVersion: the current objects first, then changes as they come.
    let kube2 = Kube::admin(&cloud, CLUSTER);
    let watcher = tokio::spawn(async move {
        watch_lines(
            &kube2,
            &format!("{CMS}?watch=1&fieldSelector=metadata.name%3De&timeoutSeconds=20"),
            1,
        )
        .await
    });
    kube.post(CMS, cm("e", json!({}))).await;
    kube.patch(
        &format!("{CMS}/e"),
        "application/merge-patch+json",
        r#"{"data": {"x": "1"}}"#,
    )
    .await;
    let events = watcher.await.unwrap();
    // Whether the watch started before "e" was created or after, it sees it ADDED first.
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "e");

    // A watch that ends by its timeout closes the stream.
    let start_time = std::time::Instant::now();
    let events = watch_lines(
        &kube,
        &format!(
            "{CMS}?watch=true&resourceVersion={}&timeoutSeconds=1",
            kube.get(CMS).await.body["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
        ),
        1,
    )
    .await;
    assert!(events.is_empty());
    assert!(start_time.elapsed() >= Duration::from_millis(900));
    cloud.shutdown().await;

    // After a restart, old resourceVersions are gone: 410 Expired in an ERROR event.
    let cloud = start(options(0.0, Some(dir.path()), false)).await;
    let kube = Kube::admin(&cloud, CLUSTER);
    let events = watch_lines(
        &kube,
        &format!("{CMS}?watch=true&resourceVersion={from}"),
        1,
    )
    .await;
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    cloud.shutdown().await;
}
