//! A cluster's API answering a fifth of its requests with 429, 500, 503, 409 Conflict or a
//! dropped connection: every typed resource is still created, read, updated and deleted, with
//! no error reaching the caller.

mod common;

use common::{json_of, Resource, TestCloud};
use mesh_emulator::Faults;
use serde_json::json;

/// Faults on the clusters' APIs only (the ARM calls that made the cluster are done).
fn kube_faults(seed: u64) -> Faults {
    Faults {
        seed,
        throttle: 0.05,
        server_error: 0.04,
        unavailable: 0.04,
        drop_connection: 0.03,
        conflict: 0.06,
        slow: 0.02,
        slow_ms: 20,
        retry_after_ms: 10,
        path_contains: Some("/aks/".to_string()),
        ..Faults::default()
    }
}

/// How many faults the cloud injected so far.
async fn injected(cloud: &TestCloud) -> u64 {
    let url = format!("{}/_admin/faults", cloud.cloud.http_url());
    let body: serde_json::Value = reqwest::get(&url)
        .await
        .expect("the admin API answers")
        .json()
        .await
        .expect("JSON");
    body["injected"].as_u64().expect("a count")
}

#[tokio::test]
async fn objects_converge_through_a_fifth_of_api_requests_failing() {
    let cloud = TestCloud::start().await;
    let cluster = cloud.create_cluster("flaky", "a").await;
    cloud.cloud.set_faults(kube_faults(7));
    let provider = cloud.kubernetes();

    let namespaces = Resource::new(&provider, "kubernetes_namespace");
    let maps = Resource::new(&provider, "kubernetes_config_map");
    for round in 0..4 {
        let ns_name = format!("team-{round}");
        let ns_config =
            namespaces.config(&cluster, json!({"name": ns_name, "labels": {"round": "a"}}));
        let ns = namespaces.create(&ns_config).await;
        let config = maps.config(
            &cluster,
            json!({"name": "settings", "namespace": ns_name, "data": {"mode": "fast"}}),
        );
        let map = maps.create(&config).await;
        assert_eq!(maps.read(&map).await.as_ref(), Some(&map));
        let changed = maps.config(
            &cluster,
            json!({"name": "settings", "namespace": ns_name, "data": {"mode": "slow"}}),
        );
        let updated = maps.update(&map, &changed).await;
        assert_eq!(json_of(&updated)["data"], json!({"mode": "slow"}));
        maps.delete(&updated).await;
        assert_eq!(maps.read(&updated).await, None);
        namespaces.delete(&ns).await;
    }
    assert!(
        injected(&cloud).await > 0,
        "no fault was injected: the test proved nothing"
    );

    // Writes racing other writers: 409 Conflict on 40% of them.
    cloud.cloud.set_faults(Faults {
        seed: 3,
        conflict: 0.4,
        path_contains: Some("/aks/".to_string()),
        ..Faults::default()
    });
    let config = maps.config(
        &cluster,
        json!({"name": "raced", "namespace": "default", "data": {"n": "1"}}),
    );
    let map = maps.create(&config).await;
    let changed = maps.config(
        &cluster,
        json!({"name": "raced", "namespace": "default", "data": {"n": "2"}}),
    );
    let updated = maps.update(&map, &changed).await;
    maps.delete(&updated).await;
    assert!(injected(&cloud).await > 0, "no conflict was injected");
}
