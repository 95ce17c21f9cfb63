//! Child resources over HTTP: a network's subnets and peerings, a cluster's agent pools.
//! Resources show their children as they are now, a parent's PUT writes and deletes them,
//! peerings connect and disconnect in both directions.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mesh_emulator::{LocalCloud, LocalCloudOptions};
use serde_json::{json, Value as Json};

const NET: &str = "api-version=2024-05-01";

async fn start() -> (LocalCloud, Client) {
    let cloud = LocalCloud::start(LocalCloudOptions {
        time_factor: 0.0,
        ..LocalCloudOptions::default()
    })
    .await
    .expect("the local cloud starts");
    let c = Client::new(&cloud);
    c.create(&rg_id("rg"), json!({"location": "westeurope"}))
        .await;
    (cloud, c)
}

fn vnet_id(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Network/virtualNetworks/{name}",
        rg_id("rg")
    )
}

fn vnet(space: &str, subnets: Json) -> Json {
    json!({"location": "westeurope", "properties": {
        "addressSpace": {"addressPrefixes": [space]},
        "subnets": subnets,
    }})
}

fn subnet(name: &str, prefix: &str) -> Json {
    json!({"name": name, "properties": {"addressPrefix": prefix}})
}

fn peering(remote: &str) -> Json {
    json!({"properties": {"remoteVirtualNetwork": {"id": remote}, "allowVirtualNetworkAccess": true}})
}

fn names(list: &Json) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn state(peering: &Resp) -> &str {
    peering.body["properties"]["peeringState"]
        .as_str()
        .unwrap_or("")
}

/// DELETE and wait until the operation is over.
async fn delete(c: &Client, id: &str) {
    let r = c.arm("DELETE", id, None).await;
    assert!(r.status == 202 || r.status == 204, "{id}: {:?}", r.body);
    let Some(location) = r.header("location").map(str::to_string) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = c.send("GET", &location, None).await;
        if r.status != 202 {
            assert!(r.status == 200 || r.status == 204, "{id}: {:?}", r.body);
            return;
        }
        assert!(Instant::now() < deadline, "{id}: delete still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_network_lists_its_subnets_and_peerings_as_they_are_now() {
    let (_cloud, c) = start().await;
    let one = vnet_id("one");
    c.create(
        &one,
        vnet("10.0.0.0/16", json!([subnet("a", "10.0.1.0/24")])),
    )
    .await;
    let b = c
        .create(
            &format!("{one}/subnets/b"),
            json!({"properties": {"addressPrefix": "10.0.2.0/24"}}),
        )
        .await;
    assert_eq!(b.state(), "Succeeded");
    let two = vnet_id("two");
    c.create(&two, vnet("10.1.0.0/16", json!([]))).await;
    c.create(
        &format!("{one}/virtualNetworkPeerings/to-two"),
        peering(&two),
    )
    .await;

    let got = c.arm("GET", &one, None).await;
    assert_eq!(got.status, 200);
    let subnets = &got.body["properties"]["subnets"];
    assert_eq!(names(subnets), ["a", "b"]);
    let later = subnets
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "b"))
        .expect("subnet b");
    assert_eq!(later["id"], json!(format!("{one}/subnets/b")));
    assert_eq!(later["properties"]["addressPrefix"], "10.0.2.0/24");
    assert_eq!(later["properties"]["provisioningState"], "Succeeded");
    let peerings = &got.body["properties"]["virtualNetworkPeerings"];
    assert_eq!(names(peerings), ["to-two"]);
    assert_eq!(
        peerings[0]["id"],
        json!(format!("{one}/virtualNetworkPeerings/to-two"))
    );
    assert_eq!(
        peerings[0]["properties"]["remoteVirtualNetwork"]["id"],
        json!(two)
    );
    // The collection and the resource group listing show the same.
    let listed = c.send("GET", &format!("{one}/subnets?{NET}"), None).await;
    assert_eq!(names(&listed.body["value"]), ["a", "b"]);
    let in_group = c
        .send("GET", &format!("{}/resources?{NET}", rg_id("rg")), None)
        .await;
    let listed_one = in_group.body["value"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "one"))
        .expect("vnet one listed")
        .clone();
    assert_eq!(names(&listed_one["properties"]["subnets"]), ["a", "b"]);

    // A subnet deleted on its own disappears from the network.
    delete(&c, &format!("{one}/subnets/b")).await;
    let got = c.arm("GET", &one, None).await;
    assert_eq!(names(&got.body["properties"]["subnets"]), ["a"]);
}

#[tokio::test]
async fn inline_subnets_are_child_resources_and_unlisted_ones_are_deleted() {
    let (cloud, c) = start().await;
    let one = vnet_id("one");
    let put = c
        .arm(
            "PUT",
            &one,
            Some(vnet(
                "10.0.0.0/16",
                json!([subnet("a", "10.0.1.0/24"), subnet("b", "10.0.2.0/24")]),
            )),
        )
        .await;
    assert_eq!(put.status, 201, "{:?}", put.body);
    assert_eq!(names(&put.body["properties"]["subnets"]), ["a", "b"]);
    // Created with the network: Creating while it is, then Succeeded with it.
    let early = c.arm("GET", &format!("{one}/subnets/a"), None).await;
    assert_eq!(early.status, 200, "{:?}", early.body);
    let op = put
        .header("azure-asyncoperation")
        .expect("async")
        .to_string();
    assert_eq!(c.wait_operation(&op).await["status"], "Succeeded");
    let a = c.arm("GET", &format!("{one}/subnets/a"), None).await;
    assert_eq!(a.state(), "Succeeded");
    assert_eq!(a.body["name"], "a");
    assert_eq!(a.body["type"], "Microsoft.Network/virtualNetworks/subnets");
    assert_eq!(a.body["properties"]["addressPrefix"], "10.0.1.0/24");

    // The list is complete: a changes, b goes, c comes.
    c.create(
        &one,
        vnet(
            "10.0.0.0/16",
            json!([subnet("a", "10.0.5.0/24"), subnet("c", "10.0.3.0/24")]),
        ),
    )
    .await;
    let a = c.arm("GET", &format!("{one}/subnets/a"), None).await;
    assert_eq!(a.body["properties"]["addressPrefix"], "10.0.5.0/24");
    assert_eq!(a.state(), "Succeeded");
    assert_eq!(
        c.arm("GET", &format!("{one}/subnets/b"), None).await.status,
        404
    );
    assert_eq!(
        c.arm("GET", &format!("{one}/subnets/c"), None)
            .await
            .state(),
        "Succeeded"
    );
    assert!(!cloud
        .resource_ids()
        .iter()
        .any(|id| id.ends_with("/subnets/b")));

    // A subnet in use cannot be left out; the refused PUT changes nothing.
    let cluster = cluster_id("aks");
    c.create(&cluster, cluster_body(&format!("{one}/subnets/c")))
        .await;
    let refused = c
        .arm(
            "PUT",
            &one,
            Some(vnet(
                "10.0.0.0/16",
                json!([subnet("a", "10.0.5.0/24"), subnet("d", "10.0.4.0/24")]),
            )),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.code(), "InUseSubnetCannotBeDeleted");
    assert_eq!(
        c.arm("GET", &format!("{one}/subnets/d"), None).await.status,
        404
    );
    let got = c.arm("GET", &one, None).await;
    assert_eq!(names(&got.body["properties"]["subnets"]), ["a", "c"]);
    // A PATCH (tags) keeps the subnets.
    let patched = c
        .arm("PATCH", &one, Some(json!({"tags": {"env": "test"}})))
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(names(&patched.body["properties"]["subnets"]), ["a", "c"]);
}

#[tokio::test]
async fn peerings_connect_both_ways_and_disconnect_when_the_other_side_goes() {
    let (_cloud, c) = start().await;
    let (one, two) = (vnet_id("one"), vnet_id("two"));
    c.create(&one, vnet("10.0.0.0/16", json!([]))).await;
    c.create(&two, vnet("10.1.0.0/16", json!([]))).await;
    let one_two = format!("{one}/virtualNetworkPeerings/one-to-two");
    let two_one = format!("{two}/virtualNetworkPeerings/two-to-one");

    assert_eq!(state(&c.create(&one_two, peering(&two)).await), "Initiated");
    assert_eq!(state(&c.create(&two_one, peering(&one)).await), "Connected");
    assert_eq!(state(&c.arm("GET", &one_two, None).await), "Connected");
    let listed = c.arm("GET", &one, None).await;
    assert_eq!(
        listed.body["properties"]["virtualNetworkPeerings"][0]["properties"]["peeringState"],
        "Connected"
    );

    // The other direction goes: Disconnected, and a new peering back is refused until this
    // one is updated.
    delete(&c, &two_one).await;
    assert_eq!(state(&c.arm("GET", &one_two, None).await), "Disconnected");
    let refused = c.arm("PUT", &two_one, Some(peering(&one))).await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.code(), "RemotePeeringIsDisconnected");
    assert_eq!(state(&c.create(&one_two, peering(&two)).await), "Initiated");
    assert_eq!(state(&c.create(&two_one, peering(&one)).await), "Connected");
    assert_eq!(state(&c.arm("GET", &one_two, None).await), "Connected");

    // The other network goes (with its peering): Disconnected too.
    delete(&c, &two).await;
    assert_eq!(state(&c.arm("GET", &one_two, None).await), "Disconnected");
}

#[tokio::test]
async fn deleting_a_network_deletes_its_subnets_and_peerings() {
    let (cloud, c) = start().await;
    let (one, two) = (vnet_id("one"), vnet_id("two"));
    c.create(
        &one,
        vnet("10.0.0.0/16", json!([subnet("a", "10.0.1.0/24")])),
    )
    .await;
    c.create(&two, vnet("10.1.0.0/16", json!([]))).await;
    c.create(
        &format!("{one}/subnets/b"),
        json!({"properties": {"addressPrefix": "10.0.2.0/24"}}),
    )
    .await;
    let one_two = format!("{one}/virtualNetworkPeerings/one-to-two");
    c.create(&one_two, peering(&two)).await;
    let children = |ids: Vec<String>| {
        ids.into_iter()
            .filter(|id| id.starts_with(&format!("{one}/")))
            .count()
    };
    assert_eq!(children(cloud.resource_ids()), 3);
    delete(&c, &one).await;
    assert_eq!(
        children(cloud.resource_ids()),
        0,
        "{:?}",
        cloud.resource_ids()
    );
    for id in [
        format!("{one}/subnets/a"),
        format!("{one}/subnets/b"),
        one_two,
    ] {
        assert_eq!(c.arm("GET", &id, None).await.status, 404, "{id}");
    }
    assert_eq!(c.arm("GET", &two, None).await.status, 200);
}

fn cluster_id(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.ContainerService/managedClusters/{name}",
        rg_id("rg")
    )
}

fn cluster_body(subnet: &str) -> Json {
    json!({
        "location": "westeurope",
        "properties": {
            "dnsPrefix": "aks",
            "kubernetesVersion": "1.33",
            "agentPoolProfiles": [{"name": "system", "mode": "System", "count": 3,
                "vmSize": "Standard_D4s_v5", "vnetSubnetID": subnet}],
            "networkProfile": {"networkPlugin": "azure", "serviceCidr": "172.16.0.0/16", "dnsServiceIP": "172.16.0.10"},
        },
    })
}

#[tokio::test]
async fn a_cluster_serves_its_pools_as_children_and_lists_them_all() {
    let (_cloud, c) = start().await;
    let net = vnet_id("net");
    c.create(
        &net,
        vnet(
            "10.10.0.0/16",
            json!([
                subnet("system", "10.10.0.0/24"),
                subnet("user", "10.10.1.0/24")
            ]),
        ),
    )
    .await;
    let cluster = cluster_id("aks");
    let created = c
        .create(&cluster, cluster_body(&format!("{net}/subnets/system")))
        .await;
    assert_eq!(
        names(&created.body["properties"]["agentPoolProfiles"]),
        ["system"]
    );

    // The default pool is an agent pool resource.
    let system = c
        .arm("GET", &format!("{cluster}/agentPools/system"), None)
        .await;
    assert_eq!(system.status, 200, "{:?}", system.body);
    assert_eq!(system.state(), "Succeeded");
    assert_eq!(
        system.body["type"],
        "Microsoft.ContainerService/managedClusters/agentPools"
    );
    assert_eq!(system.body["properties"]["vmSize"], "Standard_D4s_v5");
    assert_eq!(system.body["properties"]["count"], 3);
    assert_eq!(system.body["properties"]["mode"], "System");

    // A pool created on its own shows in the cluster's profiles.
    c.create(
        &format!("{cluster}/agentPools/user"),
        json!({"properties": {"mode": "User", "count": 2, "vmSize": "Standard_D8s_v5",
            "vnetSubnetID": format!("{net}/subnets/user")}}),
    )
    .await;
    let got = c.arm("GET", &cluster, None).await;
    let profiles = &got.body["properties"]["agentPoolProfiles"];
    assert_eq!(names(profiles), ["system", "user"]);
    let user = profiles
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "user"))
        .expect("user pool");
    assert_eq!(user["count"], 2);
    assert_eq!(user["provisioningState"], "Succeeded");
    let listed = c
        .send("GET", &format!("{cluster}/agentPools?{NET}"), None)
        .await;
    assert_eq!(names(&listed.body["value"]), ["system", "user"]);

    // Scaling the default pool through the cluster updates the pool resource; the separate
    // pool stays although the cluster's PUT does not list it.
    let mut scaled = cluster_body(&format!("{net}/subnets/system"));
    scaled["properties"]["agentPoolProfiles"][0]["count"] = json!(5);
    let updated = c.create(&cluster, scaled).await;
    assert_eq!(
        names(&updated.body["properties"]["agentPoolProfiles"]),
        ["system", "user"]
    );
    let system = c
        .arm("GET", &format!("{cluster}/agentPools/system"), None)
        .await;
    assert_eq!(system.body["properties"]["count"], 5);
    assert_eq!(system.state(), "Succeeded");

    // Scaling the default pool through the pool shows in the cluster.
    let mut pool = system.body.clone();
    pool["properties"]["count"] = json!(4);
    c.create(&format!("{cluster}/agentPools/system"), pool)
        .await;
    let got = c.arm("GET", &cluster, None).await;
    let system = got.body["properties"]["agentPoolProfiles"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "system"))
        .cloned()
        .expect("system pool");
    assert_eq!(system["count"], 4);
}
