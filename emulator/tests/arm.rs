//! ARM semantics of the local cloud over HTTP: long-running operations, parents, errors,
//! cascading deletes, conflicts.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test]
async fn create_group_and_child_with_lro_polling() {
    let cloud = cloud(0.002).await; // a widget takes 0.2 s
    let c = Client::new(&cloud);
    assert!(cloud.url().starts_with("http://127.0.0.1:"));

    let rg = c
        .arm(
            "PUT",
            &rg_id("rg1"),
            Some(json!({"location": "westeurope", "tags": {"a": "1"}})),
        )
        .await;
    assert_eq!(rg.status, 201, "{:?}", rg.body);
    assert_eq!(rg.state(), "Creating");
    assert_eq!(rg.body["id"], rg_id("rg1"));
    assert_eq!(rg.body["type"], "Microsoft.Resources/resourceGroups");
    let op = rg.header("azure-asyncoperation").unwrap().to_string();
    assert!(op.starts_with(&format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.Resources/operations/",
        cloud.url()
    )));
    assert!(op.ends_with("?api-version=2024-03-01"));
    assert!(rg.header("retry-after").is_some());
    assert_eq!(c.wait_operation(&op).await["status"], "Succeeded");
    assert_eq!(c.arm("GET", &rg_id("RG1"), None).await.state(), "Succeeded");

    let id = widget_id("rg1", "W1");
    let w = c
        .arm(
            "PUT",
            &id,
            Some(json!({"location": "westeurope", "properties": {"color": "red"}})),
        )
        .await;
    assert_eq!(w.status, 201);
    assert_eq!(w.state(), "Creating");
    assert_eq!(w.body["name"], "W1");
    assert_eq!(w.body["type"], "Test.Widgets/widgets");
    let op = w.header("azure-asyncoperation").unwrap().to_string();
    let first = c.send("GET", &op, None).await;
    assert_eq!(first.body["status"], "InProgress");
    assert!(first.header("retry-after-ms").is_some());
    assert_eq!(c.arm("GET", &id, None).await.state(), "Creating");
    assert_eq!(c.wait_operation(&op).await["status"], "Succeeded");
    let got = c.arm("GET", &id.to_lowercase(), None).await;
    assert_eq!(got.state(), "Succeeded");
    assert_eq!(got.body["id"], id, "the ID keeps the case of the first PUT");

    // Update: 200 and Updating, then Succeeded.
    let w = c
        .arm("PUT", &id, Some(json!({"properties": {"color": "blue"}})))
        .await;
    assert_eq!((w.status, w.state()), (200, "Updating"));
    c.wait_operation(w.header("azure-asyncoperation").unwrap())
        .await;
    // PATCH replaces tags and merges properties.
    let p = c
        .arm(
            "PATCH",
            &id,
            Some(json!({"tags": {"env": "test"}, "properties": {"size": 3}})),
        )
        .await;
    assert_eq!(p.status, 200);
    c.wait_operation(p.header("azure-asyncoperation").unwrap())
        .await;
    let got = c.arm("GET", &id, None).await;
    assert_eq!(got.body["tags"], json!({"env": "test"}));
    assert_eq!(got.body["properties"]["color"], "blue");
    assert_eq!(got.body["properties"]["size"], 3);
    // The type validates bodies.
    let bad = c.arm("PUT", &id, Some(json!({"properties": {}}))).await;
    assert_eq!((bad.status, bad.code()), (400, "InvalidRequestContent"));
    // Actions.
    let parts = c.send("POST", &format!("{id}/listParts?{API}"), None).await;
    assert_eq!((parts.status, parts.body["count"].clone()), (200, json!(0)));
    let unknown = c.send("POST", &format!("{id}/reboot?{API}"), None).await;
    assert_eq!(unknown.status, 404);
    // Listing.
    let list = c
        .send("GET", &format!("{}/resources?{API}", rg_id("rg1")), None)
        .await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    let list = c
        .send(
            "GET",
            &format!("{}/providers/Test.Widgets/widgets?{API}", rg_id("rg1")),
            None,
        )
        .await;
    assert_eq!(list.body["value"][0]["name"], "W1");
    assert_eq!(cloud.resource_ids(), vec![rg_id("rg1"), id]);
    cloud.shutdown().await;
}

#[tokio::test]
async fn errors_are_arm_shaped() {
    let cloud = cloud(0.0).await;
    let c = Client::new(&cloud);
    let r = c.arm("GET", &rg_id("nope"), None).await;
    assert_eq!((r.status, r.code()), (404, "ResourceGroupNotFound"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'nope'"));
    let r = c.arm("GET", &widget_id("nope", "w"), None).await;
    assert_eq!((r.status, r.code()), (404, "ResourceGroupNotFound"));
    let r = c
        .arm(
            "PUT",
            &widget_id("nope", "w"),
            Some(json!({"properties": {"color": "red"}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "ResourceGroupNotFound"));

    c.create(&rg_id("rg"), json!({"location": "westeurope"}))
        .await;
    let r = c.arm("GET", &widget_id("rg", "w"), None).await;
    assert_eq!((r.status, r.code()), (404, "ResourceNotFound"));
    let r = c
        .arm(
            "PUT",
            &format!("{}/parts/p", widget_id("rg", "w")),
            Some(json!({})),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "ParentResourceNotFound"));
    let r = c
        .arm(
            "PUT",
            &format!("{}/providers/Microsoft.Nothing/things/x", rg_id("rg")),
            Some(json!({})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "NoRegisteredProviderFound"));
    let r = c.send("GET", &rg_id("rg"), None).await;
    assert_eq!((r.status, r.code()), (400, "MissingApiVersionParameter"));
    let r = c
        .send(
            "PUT",
            &format!("{}?{API}", widget_id("rg", "w")),
            Some(json!([1])),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequestContent"));
    let r = c
        .http
        .get(format!("{}{}?{API}", cloud.url(), rg_id("rg")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "no bearer token");
    // Deleting what is not there: 204.
    let r = c.arm("DELETE", &widget_id("rg", "gone"), None).await;
    assert_eq!(r.status, 204);
    let r = c.arm("DELETE", &rg_id("gone"), None).await;
    assert_eq!((r.status, r.code()), (404, "ResourceGroupNotFound"));
    // Resource groups cannot move.
    let r = c
        .arm("PUT", &rg_id("rg"), Some(json!({"location": "eastus"})))
        .await;
    assert_eq!(r.status, 409);
    cloud.shutdown().await;
}

async fn wait_gone(c: &Client, location: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = c.send("GET", location, None).await;
        match r.status {
            202 => {
                assert!(r.header("retry-after").is_some());
                assert!(std::time::Instant::now() < deadline);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            200 | 204 => return,
            s => panic!("delete failed: {s} {:?}", r.body),
        }
    }
}

#[tokio::test]
async fn deleting_a_group_deletes_its_content_after_the_latency() {
    let cloud = cloud(0.002).await;
    let c = Client::new(&cloud);
    c.create(&rg_id("rg"), json!({"location": "westeurope"}))
        .await;
    c.create(&rg_id("other"), json!({"location": "westeurope"}))
        .await;
    let w = widget_id("rg", "w");
    c.create(&w, json!({"properties": {"color": "red"}})).await;
    c.create(
        &format!("{w}/parts/p"),
        json!({"properties": {"locked": true}}),
    )
    .await;
    c.create(
        &widget_id("other", "keep"),
        json!({"properties": {"color": "red"}}),
    )
    .await;
    assert_eq!(cloud.resource_ids().len(), 5);

    let d = c.arm("DELETE", &rg_id("rg"), None).await;
    assert_eq!(d.status, 202);
    let location = d.header("location").unwrap().to_string();
    assert!(location.contains("/operationResults/"));
    // Still there while deleting, and nothing new may be created in it.
    assert_eq!(c.arm("GET", &rg_id("rg"), None).await.state(), "Deleting");
    assert_eq!(c.arm("GET", &w, None).await.status, 200);
    let r = c
        .arm(
            "PUT",
            &widget_id("rg", "late"),
            Some(json!({"properties": {"color": "red"}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "ResourceGroupBeingDeleted"));
    // A repeated DELETE joins the running one.
    assert_eq!(c.arm("DELETE", &rg_id("rg"), None).await.status, 202);
    wait_gone(&c, &location).await;
    let r = c.arm("GET", &w, None).await;
    assert_eq!((r.status, r.code()), (404, "ResourceGroupNotFound"));
    assert_eq!(
        cloud.resource_ids(),
        vec![rg_id("other"), widget_id("other", "keep")]
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn deleting_a_parent_deletes_children_unless_one_refuses() {
    let cloud = cloud(0.0).await;
    let c = Client::new(&cloud);
    c.create(&rg_id("rg"), json!({"location": "westeurope"}))
        .await;
    let w = widget_id("rg", "w");
    c.create(&w, json!({"properties": {"color": "red"}})).await;
    c.create(
        &format!("{w}/parts/a"),
        json!({"properties": {"locked": true}}),
    )
    .await;
    c.create(&format!("{w}/parts/b"), json!({"properties": {}}))
        .await;
    let r = c.arm("DELETE", &w, None).await;
    assert_eq!((r.status, r.code()), (409, "PartLocked"));
    assert_eq!(cloud.resource_ids().len(), 4);
    c.create(
        &format!("{w}/parts/a"),
        json!({"properties": {"locked": false}}),
    )
    .await;
    let r = c.arm("DELETE", &w, None).await;
    assert_eq!(r.status, 202);
    wait_gone(&c, r.header("location").unwrap()).await;
    assert_eq!(cloud.resource_ids(), vec![rg_id("rg")]);
    cloud.shutdown().await;
}

#[tokio::test]
async fn another_operation_in_progress_is_a_conflict() {
    let cloud = cloud(1.0).await; // a widget takes 100 s
    let c = Client::new(&cloud);
    c.arm("PUT", &rg_id("rg"), Some(json!({"location": "westeurope"})))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let w = widget_id("rg", "w");
    let r = c
        .arm("PUT", &w, Some(json!({"properties": {"color": "red"}})))
        .await;
    assert_eq!(r.status, 201);
    let again = c
        .arm("PUT", &w, Some(json!({"properties": {"color": "blue"}})))
        .await;
    assert_eq!(
        (again.status, again.code()),
        (409, "AnotherOperationInProgress")
    );
    let del = c.arm("DELETE", &w, None).await;
    assert_eq!(
        (del.status, del.code()),
        (409, "AnotherOperationInProgress")
    );
    let patch = c.arm("PATCH", &w, Some(json!({"tags": {}}))).await;
    assert_eq!(patch.status, 409);
    // Deleting the group cancels the creation.
    let d = c.arm("DELETE", &rg_id("rg"), None).await;
    assert_eq!(d.status, 202);
    let op = c
        .send("GET", r.header("azure-asyncoperation").unwrap(), None)
        .await;
    assert_eq!(op.body["status"], "Canceled");
    cloud.shutdown().await;
}

#[tokio::test]
async fn extension_and_subscription_level_ids_route_by_their_own_type() {
    let cloud = cloud(0.0).await;
    let c = Client::new(&cloud);
    c.create(&rg_id("rg"), json!({"location": "westeurope"}))
        .await;
    // Unknown extension type: routed by the last provider's type, not the scope's.
    let r = c
        .arm(
            "PUT",
            &format!("{}/providers/Microsoft.Nope/things/x", widget_id("rg", "w")),
            Some(json!({})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "NoRegisteredProviderFound"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Microsoft.Nope/things"));
    let sub = c.arm("GET", &format!("/subscriptions/{SUB}"), None).await;
    assert_eq!(sub.body["subscriptionId"], SUB);
    let groups = c
        .send(
            "GET",
            &format!("/subscriptions/{SUB}/resourcegroups?{API}"),
            None,
        )
        .await;
    assert_eq!(groups.body["value"][0]["name"], "rg");
    cloud.shutdown().await;
}
