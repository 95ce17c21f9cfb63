//! The Kubernetes API of an AKS cluster, over raw HTTP: discovery, CRUD and Status errors,
//! selectors, patches, server-side apply, CRDs and custom resources, authentication.

#[path = "common/aks.rs"]
mod aks;
mod common;

use aks::{arm, create_cluster, names, options, start, Kube, CLUSTER};
use mesh_emulator::LocalCloud;
use serde_json::{json, Value as Json};

async fn cluster() -> (LocalCloud, Kube) {
    let cloud = start(options(0.0, None, false)).await;
    create_cluster(&arm(&cloud), CLUSTER, json!({})).await;
    let kube = Kube::admin(&cloud, CLUSTER);
    (cloud, kube)
}

fn cm(name: &str, labels: Json) -> Json {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn discovery_lists_groups_versions_and_resources() {
    let (cloud, kube) = cluster().await;
    assert!(kube.server.ends_with("/aks/aks-one"), "{}", kube.server);
    let version = kube.get("/version").await;
    assert_eq!(version.body["major"], "1");
    assert_eq!(version.body["gitVersion"], "v1.33.0");
    let api = kube.get("/api").await;
    assert_eq!(api.body["versions"], json!(["v1"]));
    let core = kube.get("/api/v1").await.body;
    let core_names: Vec<&str> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for r in [
        "namespaces",
        "secrets",
        "configmaps",
        "serviceaccounts",
        "serviceaccounts/token",
        "services",
        "pods",
        "pods/status",
        "endpoints",
        "events",
    ] {
        assert!(core_names.contains(&r), "{r} in {core_names:?}");
    }
    let groups = kube.get("/apis").await.body;
    let group_names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in [
        "apps",
        "rbac.authorization.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "networking.k8s.io",
        "policy",
        "autoscaling",
    ] {
        assert!(group_names.contains(&g), "{g} in {group_names:?}");
    }
    let apps = kube.get("/apis/apps/v1").await.body;
    let deploy = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "deployments")
        .unwrap()
        .clone();
    assert_eq!(deploy["namespaced"], true);
    assert_eq!(deploy["kind"], "Deployment");
    assert_eq!(deploy["shortNames"], json!(["deploy"]));
    let hpa = kube.get("/apis/autoscaling/v2").await;
    assert_eq!(hpa.status, 200);
    assert_eq!(kube.get("/apis/nothing.example.com/v1").await.status, 404);
    // Namespaces every cluster starts with.
    let ns = kube.get("/api/v1/namespaces").await.body;
    assert_eq!(
        names(&ns),
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    // No Key Vault add-on: no CSI CRDs.
    let crds = kube
        .get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        .await
        .body;
    assert!(names(&crds).is_empty());
    cloud.shutdown().await;
}

#[tokio::test]
async fn objects_are_created_read_replaced_and_deleted_with_kubernetes_errors() {
    let (cloud, kube) = cluster().await;
    let created = kube.post(CMS, cm("one", json!({}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let meta = &created.body["metadata"];
    assert_eq!(meta["namespace"], "default");
    assert_eq!(meta["generation"], 1);
    assert!(meta["uid"].as_str().unwrap().len() == 36);
    assert!(meta["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    let rv: u64 = meta["resourceVersion"].as_str().unwrap().parse().unwrap();

    let again = kube.post(CMS, cm("one", json!({}))).await;
    assert_eq!((again.status, again.reason()), (409, "AlreadyExists"));
    assert_eq!(again.body["kind"], "Status");
    assert_eq!(again.body["message"], "configmaps \"one\" already exists");

    let missing = kube.get(&format!("{CMS}/nope")).await;
    assert_eq!((missing.status, missing.reason()), (404, "NotFound"));
    assert_eq!(
        missing.body["details"],
        json!({"name": "nope", "group": "", "kind": "configmaps"})
    );

    let no_ns = kube
        .post("/api/v1/namespaces/ghost/configmaps", cm("x", json!({})))
        .await;
    assert_eq!((no_ns.status, no_ns.reason()), (404, "NotFound"));
    assert_eq!(no_ns.body["message"], "namespaces \"ghost\" not found");

    let nameless = kube
        .post(
            CMS,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
        )
        .await;
    assert_eq!((nameless.status, nameless.reason()), (422, "Invalid"));
    let wrong_kind = kube
        .post(
            CMS,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}),
        )
        .await;
    assert_eq!((wrong_kind.status, wrong_kind.reason()), (422, "Invalid"));

    // YAML bodies work too.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n";
    let r = kube
        .send("POST", CMS, Some(("application/yaml", yaml.to_string())))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Replace: a stale resourceVersion is a Conflict; the current one works.
    let mut body = created.body.clone();
    body["data"]["k"] = json!("v2");
    let replaced = kube.put(&format!("{CMS}/one"), body.clone()).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    let rv2: u64 = replaced.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv);
    assert_eq!(replaced.body["metadata"]["generation"], 2);
    let stale = kube.put(&format!("{CMS}/one"), body).await;
    assert_eq!((stale.status, stale.reason()), (409, "Conflict"));
    // Changing only labels keeps the generation.
    let mut labelled = replaced.body.clone();
    labelled["metadata"]["labels"] = json!({"x": "y"});
    let r = kube.put(&format!("{CMS}/one"), labelled).await;
    assert_eq!(r.body["metadata"]["generation"], 2);

    // Cluster-scoped kinds have no namespace; namespaced ones need one for objects.
    let ns = kube
        .post("/api/v1/namespaces", json!({"metadata": {"name": "team"}}))
        .await;
    assert_eq!(ns.status, 201, "{}", ns.text);
    assert_eq!(ns.body["status"]["phase"], "Active");
    assert!(ns.body["metadata"].get("namespace").is_none());
    assert_eq!(
        kube.get("/api/v1/namespaces/team/namespaces/x")
            .await
            .status,
        404
    );
    assert_eq!(kube.get("/api/v1/configmaps/one").await.status, 404);

    // Deleting a namespace deletes what is in it.
    let r = kube
        .post(
            "/api/v1/namespaces/team/configmaps",
            cm("inside", json!({})),
        )
        .await;
    assert_eq!(r.status, 201);
    let deleted = kube.delete("/api/v1/namespaces/team").await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        kube.get("/api/v1/namespaces/team/configmaps/inside")
            .await
            .status,
        404
    );
    assert_eq!(kube.delete(&format!("{CMS}/one")).await.status, 200);
    assert_eq!(kube.delete(&format!("{CMS}/one")).await.status, 404);
    cloud.shutdown().await;
}

#[tokio::test]
async fn lists_filter_by_label_and_field_selectors_across_namespaces() {
    let (cloud, kube) = cluster().await;
    kube.post("/api/v1/namespaces", json!({"metadata": {"name": "other"}}))
        .await;
    kube.post(CMS, cm("a", json!({"app": "web", "tier": "front"})))
        .await;
    kube.post(CMS, cm("b", json!({"app": "web", "tier": "back"})))
        .await;
    kube.post(CMS, cm("c", json!({"app": "db"}))).await;
    kube.post(
        "/api/v1/namespaces/other/configmaps",
        cm("d", json!({"app": "web"})),
    )
    .await;
    let list = |q: &str| {
        let kube = &kube;
        let q = q.to_string();
        async move { names(&kube.get(&format!("{CMS}?{q}")).await.body) }
    };
    assert_eq!(list("labelSelector=app%3Dweb").await, ["a", "b"]);
    assert_eq!(list("labelSelector=app%3D%3Dweb,tier!%3Dback").await, ["a"]);
    assert_eq!(
        list("labelSelector=tier%20in%20(front,back)").await,
        ["a", "b"]
    );
    assert_eq!(list("labelSelector=app%20notin%20(web)").await, ["c"]);
    assert_eq!(list("labelSelector=tier").await, ["a", "b"]);
    assert_eq!(list("labelSelector=!tier").await, ["c"]);
    assert_eq!(list("fieldSelector=metadata.name%3Db").await, ["b"]);
    assert_eq!(list("fieldSelector=metadata.name!%3Db").await, ["a", "c"]);
    let all = kube
        .get("/api/v1/configmaps?labelSelector=app%3Dweb")
        .await
        .body;
    assert_eq!(names(&all), ["a", "b", "d"]);
    assert_eq!(all["kind"], "ConfigMapList");
    assert!(all["metadata"]["resourceVersion"].as_str().is_some());
    let other = kube
        .get("/api/v1/configmaps?fieldSelector=metadata.namespace%3Dother")
        .await
        .body;
    assert_eq!(names(&other), ["d"]);
    let bad = kube
        .get(&format!("{CMS}?labelSelector=tier%20in%20front"))
        .await;
    assert_eq!(bad.status, 400);
    cloud.shutdown().await;
}

#[tokio::test]
async fn merge_json_and_strategic_patches() {
    let (cloud, kube) = cluster().await;
    kube.post(CMS, cm("p", json!({"a": "1"}))).await;
    let path = format!("{CMS}/p");
    let merged = kube
        .patch(
            &path,
            "application/merge-patch+json",
            r#"{"data": {"k": null, "n": "2"}, "metadata": {"labels": {"b": "2"}}}"#,
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(merged.body["data"], json!({"n": "2"}));
    assert_eq!(
        merged.body["metadata"]["labels"],
        json!({"a": "1", "b": "2"})
    );
    let patched = kube.patch(&path, "application/json-patch+json", r#"[{"op": "add", "path": "/data/j", "value": "3"}, {"op": "remove", "path": "/metadata/labels/a"}]"#).await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["data"], json!({"n": "2", "j": "3"}));
    assert_eq!(patched.body["metadata"]["labels"], json!({"b": "2"}));
    let bad = kube
        .patch(
            &path,
            "application/json-patch+json",
            r#"[{"op": "remove", "path": "/nothing"}]"#,
        )
        .await;
    assert_eq!(bad.status, 422);
    let stale = kube
        .patch(
            &path,
            "application/merge-patch+json",
            r#"{"metadata": {"resourceVersion": "1"}, "data": {"x": "y"}}"#,
        )
        .await;
    assert_eq!((stale.status, stale.reason()), (409, "Conflict"));
    assert_eq!(
        kube.patch(&format!("{CMS}/none"), "application/merge-patch+json", "{}")
            .await
            .status,
        404
    );
    let unknown = kube.patch(&path, "text/plain", "{}").await;
    assert_eq!(unknown.status, 415);

    // Strategic merge: one container changes, the other stays.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]}, {"name": "b", "image": "b:1"}]}}}});
    let r = kube
        .post("/apis/apps/v1/namespaces/default/deployments", deploy)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let smp = r#"{"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "a", "image": "a:2"}]}}}}"#;
    let r = kube
        .patch(
            "/apis/apps/v1/namespaces/default/deployments/web",
            "application/strategic-merge-patch+json",
            smp,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let containers = &r.body["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers[0],
        json!({"name": "a", "image": "a:2", "ports": [{"containerPort": 80}]})
    );
    assert_eq!(containers[1]["image"], "b:1");
    assert_eq!(r.body["metadata"]["generation"], 2);
    cloud.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_removes_fields_no_longer_applied() {
    let (cloud, kube) = cluster().await;
    let path = format!("{CMS}/applied");
    let apply = |manager: &str, force: bool, yaml: &str| {
        let kube = &kube;
        let url = format!(
            "{path}?fieldManager={manager}{}",
            if force { "&force=true" } else { "" }
        );
        let yaml = yaml.to_string();
        async move {
            kube.patch(&url, "application/apply-patch+yaml", &yaml)
                .await
        }
    };
    let first = apply("mesh", false, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels:\n    a: '1'\ndata:\n  x: '1'\n  y: '2'\n").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["data"], json!({"x": "1", "y": "2"}));
    let same = apply("mesh", false, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels:\n    a: '1'\ndata:\n  x: '1'\n  y: '2'\n").await;
    assert_eq!(same.status, 200);
    assert_eq!(
        same.body["metadata"]["resourceVersion"], first.body["metadata"]["resourceVersion"],
        "a no-op apply changes nothing"
    );
    let second = apply("mesh", false, r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"x": "3"}}"#).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["data"], json!({"x": "3"}));
    assert!(
        second.body["metadata"]
            .get("labels")
            .is_none_or(|l| l.get("a").is_none()),
        "{}",
        second.body
    );
    // Another manager setting x differently conflicts, unless forced.
    let conflict = apply("other", false, r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"x": "4"}}"#).await;
    assert_eq!((conflict.status, conflict.reason()), (409, "Conflict"));
    assert!(
        conflict.body["message"]
            .as_str()
            .unwrap()
            .contains("conflict with \"mesh\": .data.x"),
        "{}",
        conflict.text
    );
    let forced = apply("other", true, r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"x": "4"}}"#).await;
    assert_eq!(forced.status, 200);
    assert_eq!(forced.body["data"]["x"], "4");
    // No field manager: a bad request.
    let r = kube
        .patch(&path, "application/apply-patch+yaml", "{}")
        .await;
    assert_eq!(r.status, 400);
    cloud.shutdown().await;
}

#[tokio::test]
async fn custom_resources_are_served_once_their_crd_exists() {
    let (cloud, kube) = cluster().await;
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}});
    let before = kube.post(widgets, widget.clone()).await;
    assert_eq!(before.status, 404, "{}", before.text);
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                {"name": "v1beta1", "served": true, "storage": false,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let bad_name = kube
        .post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
            let mut c = crd.clone();
            c["metadata"]["name"] = json!("wrong");
            c
        })
        .await;
    assert_eq!(bad_name.status, 422);
    let created = kube
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let conditions = created.body["status"]["conditions"].as_array().unwrap();
    assert!(conditions
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True"));
    assert!(conditions
        .iter()
        .any(|c| c["type"] == "NamesAccepted" && c["status"] == "True"));
    // Discovery shows both served versions.
    let group = kube.get("/apis/example.com").await.body;
    assert_eq!(group["preferredVersion"]["version"], "v1");
    assert_eq!(kube.get("/apis/example.com/v1beta1").await.status, 200);
    let r = kube.post(widgets, widget).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Status is a subresource: the main resource keeps it.
    let status = kube.put(&format!("{widgets}/w/status"), json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "status": {"ok": true}})).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.body["status"], json!({"ok": true}));
    let mut main = status.body.clone();
    main["status"] = json!({"ok": false});
    main["spec"]["size"] = json!(2);
    let r = kube.put(&format!("{widgets}/w"), main).await;
    assert_eq!(r.body["status"], json!({"ok": true}));
    assert_eq!(r.body["spec"]["size"], 2);
    let beta = kube
        .get("/apis/example.com/v1beta1/namespaces/default/widgets/w")
        .await;
    assert_eq!(beta.body["apiVersion"], "example.com/v1beta1");
    let r = kube
        .patch(
            "/apis/example.com/v1beta1/namespaces/default/widgets/w",
            "application/merge-patch+json",
            r#"{"spec": {"size": 3}}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["apiVersion"], "example.com/v1beta1");
    assert_eq!(r.body["spec"]["size"], 3);
    let other_version = kube
        .post(
            widgets,
            json!({"apiVersion": "example.com/v1beta1", "kind": "Widget", "metadata": {"name": "w2"}}),
        )
        .await;
    assert_eq!(other_version.status, 400, "{}", other_version.text);
    // Deleting the CRD deletes its custom resources and the kind.
    assert_eq!(
        kube.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
            .await
            .status,
        200
    );
    assert_eq!(kube.get(&format!("{widgets}/w")).await.status, 404);
    assert_eq!(kube.get("/apis/example.com/v1").await.status, 404);
    cloud.shutdown().await;
}

#[tokio::test]
async fn requests_need_a_token_of_the_cluster_and_a_succeeded_cluster() {
    let cloud = start(options(0.0, None, false)).await;
    let c = arm(&cloud);
    create_cluster(&c, CLUSTER, json!({})).await;
    let kube = Kube::admin(&cloud, CLUSTER);
    for token in [None, Some("wrong")] {
        let r = kube.with_token(token).get("/api/v1/namespaces").await;
        assert_eq!((r.status, r.reason()), (401, "Unauthorized"), "{token:?}");
        assert_eq!(r.body["kind"], "Status");
    }
    // The user kubeconfig's token works too.
    let user = c
        .arm(
            "POST",
            &format!("{}/listClusterUserCredential", aks::cluster_id(CLUSTER)),
            None,
        )
        .await;
    let encoded = user.body["kubeconfigs"][0]["value"].as_str().unwrap();
    use base64::Engine as _;
    let config = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    let (_, user_token) = aks::server_and_token(&config);
    assert_eq!(
        kube.with_token(Some(&user_token))
            .get("/api/v1/namespaces")
            .await
            .status,
        200
    );
    // Cluster names are case-insensitive; unknown ones are not found.
    let upper = Kube {
        server: kube.server.replace("aks-one", "AKS-ONE"),
        ..kube.with_token(kube.token.as_deref())
    };
    assert_eq!(upper.get("/api").await.status, 200);
    let other = Kube {
        server: kube.server.replace("aks-one", "nope"),
        ..kube.with_token(kube.token.as_deref())
    };
    assert_eq!(other.get("/api").await.status, 404);
    // While the cluster updates, the API is unavailable.
    cloud.mutate(&json!({"id": aks::cluster_id(CLUSTER), "op": "set", "path": "properties.provisioningState", "value": "Updating"})).unwrap();
    let r = kube.get("/api/v1/namespaces").await;
    assert_eq!((r.status, r.reason()), (503, "ServiceUnavailable"));
    cloud.shutdown().await;
}

#[tokio::test]
async fn dry_runs_delete_preconditions_and_orphans() {
    let (cloud, kube) = cluster().await;
    let dry = kube
        .post(&format!("{CMS}?dryRun=All"), cm("dry", json!({})))
        .await;
    assert_eq!(dry.status, 201, "{}", dry.text);
    assert_eq!(kube.get(&format!("{CMS}/dry")).await.status, 404);
    let created = kube.post(CMS, cm("kept", json!({}))).await;
    let wrong_uid =
        json!({"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}}).to_string();
    let r = kube
        .send(
            "DELETE",
            &format!("{CMS}/kept"),
            Some(("application/json", wrong_uid)),
        )
        .await;
    assert_eq!((r.status, r.reason()), (409, "Conflict"));
    let dry_delete = json!({"dryRun": ["All"]}).to_string();
    let r = kube
        .send(
            "DELETE",
            &format!("{CMS}/kept"),
            Some(("application/json", dry_delete)),
        )
        .await;
    assert_eq!(r.status, 200);
    let uid = created.body["metadata"]["uid"].as_str().unwrap();
    let right = json!({"preconditions": {"uid": uid}}).to_string();
    let r = kube
        .send(
            "DELETE",
            &format!("{CMS}/kept"),
            Some(("application/json", right)),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(kube.get(&format!("{CMS}/kept")).await.status, 404);

    // Orphaned dependents stay; by default they go with their owner.
    let deploy = |name: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    };
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    for name in ["orphaning", "cascading"] {
        assert_eq!(kube.post(deployments, deploy(name)).await.status, 201);
        kube.poll(&format!("{deployments}/{name}"), |d| {
            d["status"]["availableReplicas"] == 1
        })
        .await;
    }
    let orphan = json!({"propagationPolicy": "Orphan"}).to_string();
    kube.send(
        "DELETE",
        &format!("{deployments}/orphaning"),
        Some(("application/json", orphan)),
    )
    .await;
    kube.delete(&format!("{deployments}/cascading")).await;
    let pods = kube.get("/api/v1/namespaces/default/pods").await.body;
    let left = names(&pods);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("orphaning-"));
    let sets = kube
        .get("/apis/apps/v1/namespaces/default/replicasets")
        .await
        .body;
    assert_eq!(names(&sets).len(), 1);
    cloud.shutdown().await;
}
