//! Throttling, fault injection (from options and at run time) and persistence.

mod common;

use common::*;
use mesh_emulator::{Faults, LocalCloudOptions, Throttle};
use serde_json::json;

#[tokio::test]
async fn throttling_answers_429_with_retry_after_and_counts_down() {
    let cloud = cloud_with(LocalCloudOptions {
        time_factor: 0.0,
        throttle: Some(Throttle {
            read_capacity: 3.0,
            reads_per_second: 0.5,
            write_capacity: 1.0,
            writes_per_second: 0.25,
        }),
        ..LocalCloudOptions::default()
    })
    .await;
    let c = Client::new(&cloud);
    let w = c
        .arm("PUT", &rg_id("rg"), Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!(w.status, 201);
    assert_eq!(
        w.header("x-ms-ratelimit-remaining-subscription-writes"),
        Some("0")
    );
    let w = c
        .arm(
            "PUT",
            &rg_id("rg2"),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!((w.status, w.code()), (429, "SubscriptionRequestsThrottled"));
    assert_eq!(w.header("retry-after"), Some("4"));
    let remaining: Vec<String> = futures_three(&c).await;
    assert_eq!(remaining, ["2", "1", "0"]);
    let r = c.arm("GET", &rg_id("rg"), None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert!(r.header("retry-after-ms").is_some());
    // Another subscription has its own buckets.
    let other = c
        .arm(
            "GET",
            "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg",
            None,
        )
        .await;
    assert_eq!((other.status, other.code()), (404, "ResourceGroupNotFound"));
    // Turned off at run time.
    let off = c.send("POST", "/_admin/throttle", Some(json!(null))).await;
    assert_eq!(off.status, 204);
    assert_eq!(c.arm("GET", &rg_id("rg"), None).await.status, 200);
    cloud.shutdown().await;
}

async fn futures_three(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..3 {
        let r = c.arm("GET", &rg_id("rg"), None).await;
        assert_eq!(r.status, 200);
        out.push(
            r.header("x-ms-ratelimit-remaining-subscription-reads")
                .unwrap()
                .to_string(),
        );
    }
    out
}

#[tokio::test]
async fn injected_faults_from_options_and_admin_endpoint() {
    let cloud = cloud_with(LocalCloudOptions {
        time_factor: 0.0,
        faults: Faults {
            throttle: 1.0,
            limit: Some(2),
            retry_after_ms: 250,
            ..Faults::default()
        },
        ..LocalCloudOptions::default()
    })
    .await;
    let c = Client::new(&cloud);
    for _ in 0..2 {
        let r = c.arm("GET", &rg_id("rg"), None).await;
        assert_eq!((r.status, r.code()), (429, "TooManyRequests"));
        assert_eq!(r.header("retry-after-ms"), Some("250"));
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    assert_eq!(
        c.arm("GET", &rg_id("rg"), None).await.code(),
        "ResourceGroupNotFound"
    );

    // 500 and 503 for PUTs only.
    let set = c
        .send(
            "POST",
            "/_admin/faults",
            Some(json!({"server_error": 1.0, "methods": ["PUT"], "limit": 1})),
        )
        .await;
    assert_eq!(set.status, 204);
    let r = c
        .arm("PUT", &rg_id("rg"), Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!((r.status, r.code()), (500, "InternalServerError"));
    assert!(
        cloud.resource_ids().is_empty(),
        "a failed request changes nothing"
    );
    c.send(
        "POST",
        "/_admin/faults",
        Some(json!({"unavailable": 1.0, "limit": 1})),
    )
    .await;
    let r = c.arm("GET", &rg_id("rg"), None).await;
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    let state = c.send("GET", "/_admin/faults", None).await;
    assert_eq!(state.body["injected"], 1);
    let r = c
        .send("POST", "/_admin/faults", Some(json!({"nonsense": 1})))
        .await;
    assert_eq!(r.status, 400);

    // A dropped connection is a transport error.
    c.send(
        "POST",
        "/_admin/faults",
        Some(json!({"drop_connection": 1.0, "limit": 1})),
    )
    .await;
    let dropped = c
        .try_send("GET", &format!("{}?{API}", rg_id("rg")), None)
        .await;
    assert!(dropped.is_err(), "{dropped:?}");

    // Slow responses.
    c.send(
        "POST",
        "/_admin/faults",
        Some(json!({"slow": 1.0, "slow_ms": 300, "limit": 1})),
    )
    .await;
    let started = std::time::Instant::now();
    c.arm("GET", &rg_id("rg"), None).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));

    // A failed long-running operation: the status says Failed and so does the resource.
    c.send(
        "POST",
        "/_admin/faults",
        Some(json!({"failed_operation": 1.0, "path_contains": "/Test.Widgets/"})),
    )
    .await;
    c.create(&rg_id("rg"), json!({"location": "westeurope"}))
        .await;
    let w = widget_id("rg", "w");
    let r = c
        .arm("PUT", &w, Some(json!({"properties": {"color": "red"}})))
        .await;
    assert_eq!(r.status, 201);
    let status = c
        .wait_operation(r.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(status["status"], "Failed");
    assert_eq!(status["error"]["code"], "InternalServerError");
    assert_eq!(c.arm("GET", &w, None).await.state(), "Failed");
    // A failed delete answers its error on the Location URL and keeps the resource.
    let d = c.arm("DELETE", &w, None).await;
    let r = c.send("GET", d.header("location").unwrap(), None).await;
    assert_eq!(r.status, 500);
    assert_eq!(c.arm("GET", &w, None).await.state(), "Failed");
    // Faults off: the retry works.
    c.send("POST", "/_admin/faults", Some(json!({}))).await;
    assert_eq!(
        c.create(&w, json!({"properties": {"color": "red"}}))
            .await
            .state(),
        "Succeeded"
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn faults_follow_their_seed() {
    async fn run(seed: u64) -> Vec<u16> {
        let cloud = cloud_with(LocalCloudOptions {
            faults: Faults {
                seed,
                server_error: 0.5,
                ..Faults::default()
            },
            ..LocalCloudOptions::default()
        })
        .await;
        let c = Client::new(&cloud);
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(c.arm("GET", &rg_id("rg"), None).await.status);
        }
        cloud.shutdown().await;
        statuses
    }
    let a = run(42).await;
    assert_eq!(a, run(42).await);
    assert!(a.contains(&500) && a.contains(&404), "{a:?}");
    assert_ne!(a, run(43).await);
}

#[tokio::test]
async fn the_cloud_persists_across_restarts_and_resets() {
    let dir = tempfile::tempdir().unwrap();
    let options = LocalCloudOptions {
        data_dir: Some(dir.path().join("local-cloud")),
        time_factor: 0.01, // a widget: 1 s
        ..LocalCloudOptions::default()
    };
    let cloud = cloud_with(options.clone()).await;
    let c = Client::new(&cloud);
    c.create(
        &rg_id("rg"),
        json!({"location": "westeurope", "tags": {"k": "v"}}),
    )
    .await;
    let w = widget_id("rg", "w");
    let r = c
        .arm("PUT", &w, Some(json!({"properties": {"color": "red"}})))
        .await;
    let op = r.header("azure-asyncoperation").unwrap().to_string();
    let ids = cloud.resource_ids();
    cloud.shutdown().await;
    assert!(dir.path().join("local-cloud/cloud.json").exists());

    let summary = mesh_emulator::inspect_data(&dir.path().join("local-cloud"))
        .unwrap()
        .unwrap();
    assert_eq!(summary.resource_ids, ids);
    assert_eq!(summary.by_type.get("Test.Widgets/widgets"), Some(&1));

    // A new server on the same data: same port, same resources; the operation goes on
    // where it was.
    let first_url = c.base.clone();
    let cloud = cloud_with(options.clone()).await;
    assert_eq!(cloud.url(), first_url, "a persisted cloud keeps its port");
    assert!(cloud.moved_from().is_none());
    assert_eq!(cloud.resource_ids(), ids);
    let c = Client::new(&cloud);
    assert_eq!(
        c.arm("GET", &rg_id("rg"), None).await.body["tags"],
        json!({"k": "v"})
    );
    let op = op.replace(&op[..op.find("/subscriptions").unwrap()], &cloud.url());
    assert_eq!(c.wait_operation(&op).await["status"], "Succeeded");
    assert_eq!(c.arm("GET", &w, None).await.state(), "Succeeded");
    // Admin listing and reset.
    let listed = c.send("GET", "/_admin/resources", None).await;
    assert_eq!(listed.body["resources"].as_array().unwrap().len(), 2);
    assert_eq!(c.send("POST", "/_admin/reset", None).await.status, 204);
    assert!(cloud.resource_ids().is_empty());
    cloud.shutdown().await;
    let cloud = cloud_with(options.clone()).await;
    assert!(cloud.resource_ids().is_empty());
    cloud.shutdown().await;
    assert!(mesh_emulator::reset_data(&dir.path().join("local-cloud")).unwrap());
    assert!(mesh_emulator::inspect_data(&dir.path().join("local-cloud"))
        .unwrap()
        .is_none());
    assert!(!mesh_emulator::reset_data(&dir.path().join("local-cloud")).unwrap());
}

#[tokio::test]
async fn a_persisted_cloud_whose_port_is_taken_moves_and_rewrites_its_urls() {
    let dir = tempfile::tempdir().unwrap();
    let options = LocalCloudOptions {
        data_dir: Some(dir.path().to_path_buf()),
        time_factor: 0.0,
        ..LocalCloudOptions::default()
    };
    let cloud = cloud_with(options.clone()).await;
    let old_url = cloud.url();
    let c = Client::new(&cloud);
    c.create(&rg_id("rg"), json!({"location": "westeurope"}))
        .await;
    let vault = format!("{}/providers/Microsoft.KeyVault/vaults/kv", rg_id("rg"));
    let v = c.create(&vault, json!({"location": "westeurope"})).await;
    assert!(v.body["properties"]["vaultUri"]
        .as_str()
        .unwrap()
        .starts_with(&old_url));
    cloud.shutdown().await;

    let squatter = std::net::TcpListener::bind(old_url.trim_start_matches("http://")).unwrap();
    let cloud = cloud_with(options.clone()).await;
    assert_ne!(cloud.url(), old_url);
    assert_eq!(cloud.moved_from(), Some(old_url.as_str()));
    let c = Client::new(&cloud);
    let v = c.arm("GET", &vault, None).await;
    assert_eq!(
        v.body["properties"]["vaultUri"],
        format!("{}/keyvault/kv/", cloud.url())
    );
    cloud.shutdown().await;
    drop(squatter);
}
