//! Kubernetes objects changed behind mesh's back (`mesh local kube-patch|kube-delete`) on
//! specs/gateway-federation: the next plan reports each as drift of the manifests resource
//! that owns the object, naming the changed field, proposes to undo it, and one apply does.

use serde_json::Value as Json;

use crate::harness::{ok_local as ok, run_local as run, scenario_spec, Spec};

/// The weighted VirtualService (helloworld, namespace sample, in the calling cluster).
const SPLIT: &str = "kubernetes_manifests.helloworld_split";
const SPLIT_VS: &str = "networking.istio.io/v1alpha3/VirtualService/sample/helloworld";
/// sleep next to helloworld v1 in the calling cluster.
const SLEEP: &str = "kubernetes_manifests.sleep[\"sample\"]";
const SLEEP_DEPLOYMENT: &str = "apps/v1/Deployment/sample/sleep";

/// The spec applied, and the name of its calling cluster (as Azure knows it).
fn applied() -> (Spec, String) {
    let spec = scenario_spec("gateway-federation");
    ok(&spec, &["apply", "-auto-approve"]);
    let cluster = spec.attr(
        "module.aks[\"cluster1\"].azure_kubernetes_cluster.this",
        "name",
    );
    (spec, cluster)
}

/// The drift `mesh plan --format json` reports for `address`: (before, after).
fn drift_of(spec: &Spec, address: &str) -> (Json, Json) {
    let out = ok(spec, &["plan", "--format", "json"]);
    let plan: Json = serde_json::from_str(&out.stdout).expect("a JSON plan");
    let drift = plan["resource_drift"]
        .as_array()
        .and_then(|d| d.iter().find(|r| r["address"] == address))
        .unwrap_or_else(|| panic!("no drift of {address} in {}", out.stdout));
    (
        drift["change"]["before"].clone(),
        drift["change"]["after"].clone(),
    )
}

/// Apply, then a plan that finds nothing to do.
fn fixed_by_the_next_apply(spec: &Spec) {
    ok(spec, &["apply", "-auto-approve"])
        .stdout_has("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.");
    let settled = run(spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(settled.code, 0, "{}", settled.dump());
    settled.stdout_has("No changes.");
}

#[test]
fn a_virtual_service_weight_edited_outside_is_drift_and_the_next_apply_restores_it() {
    let (spec, cluster) = applied();
    // The cluster by another case, the kind by its kind name.
    let shouted = cluster.to_uppercase();
    ok(
        &spec,
        &[
            "local",
            "kube-patch",
            &shouted,
            "VirtualService/helloworld",
            "-n",
            "sample",
            r#"[{"op":"replace","path":"/spec/http/0/route/0/weight","value":90}]"#,
        ],
    )
    .stdout_has(&format!(
        "Changed VirtualService sample/helloworld (networking.istio.io/v1alpha3) of cluster {cluster} in the local cloud:"
    ))
    .stdout_has("  spec.http[0].route[0].weight: 50 -> 90");

    let plan = run(&spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.dump());
    let drift_at = plan.line_index("Objects have changed outside of mesh");
    let changed_at = plan.line_index(&format!("# {SPLIT} has changed"));
    let update_at = plan.line_index(&format!("# {SPLIT} will be updated in place"));
    assert!(
        drift_at < changed_at && changed_at < update_at,
        "{}",
        plan.dump()
    );
    let lines = plan.lines();
    let reported = &lines[changed_at..update_at];
    assert!(
        reported
            .iter()
            .any(|l| l.contains(&format!("\"{SPLIT_VS}\" = {{"))),
        "{}",
        plan.dump()
    );
    assert!(
        reported.iter().any(|l| l.trim() == "~ weight = 50 -> 90"),
        "{}",
        plan.dump()
    );
    assert!(
        lines[update_at..]
            .iter()
            .any(|l| l.trim() == "~ weight = 90 -> 50"),
        "{}",
        plan.dump()
    );
    plan.stdout_has("Plan: 0 to add, 1 to change, 0 to destroy.");
    let (before, after) = drift_of(&spec, SPLIT);
    let weight =
        |doc: &Json| doc["documents"][SPLIT_VS]["spec"]["http"][0]["route"][0]["weight"].clone();
    assert_eq!((weight(&before), weight(&after)), (50.into(), 90.into()));

    fixed_by_the_next_apply(&spec);
    // The object in the cluster is back at 50: patching it to 50 changes nothing.
    ok(
        &spec,
        &[
            "local",
            "kube-patch",
            &cluster,
            "virtualservices.networking.istio.io/helloworld",
            "-n",
            "sample",
            "--type",
            "merge",
            r#"{"spec":{"http":[{"route":[{"destination":{"host":"helloworld.sample.svc.cluster.local"},"weight":50},{"destination":{"host":"helloworld.sample.cluster2"},"weight":50}]}]}}"#,
        ],
    )
    .stdout_has("The patch changes nothing in VirtualService sample/helloworld");
}

#[test]
fn a_deployment_deleted_outside_is_drift_and_the_next_apply_recreates_it() {
    let (spec, cluster) = applied();
    ok(
        &spec,
        &[
            "local",
            "kube-delete",
            &cluster,
            "deployments.apps/sleep",
            "-n",
            "sample",
        ],
    )
    .stdout_has(&format!(
        "Deleted Deployment sample/sleep of cluster {cluster} in the local cloud."
    ))
    .stdout_has("Also deleted with it:")
    .stdout_has("  ReplicaSet sample/sleep-")
    .stdout_has("  Pod sample/sleep-");

    let plan = run(&spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.dump());
    plan.stdout_has("Objects have changed outside of mesh")
        .stdout_has(&format!("# {SLEEP} has changed"))
        .stdout_has(&format!("- \"{SLEEP_DEPLOYMENT}\" = {{"))
        .stdout_has(&format!("# {SLEEP} will be updated in place"))
        .stdout_has(&format!("+ \"{SLEEP_DEPLOYMENT}\" = {{"))
        .stdout_has("Plan: 0 to add, 1 to change, 0 to destroy.");
    let (before, after) = drift_of(&spec, SLEEP);
    assert!(
        before["documents"].get(SLEEP_DEPLOYMENT).is_some(),
        "{before}"
    );
    assert!(
        after["documents"].get(SLEEP_DEPLOYMENT).is_none(),
        "{after}"
    );
    // The ServiceAccount and Service of the same manifests are still there.
    assert_eq!(after["documents"].as_object().map(|d| d.len()), Some(2));

    fixed_by_the_next_apply(&spec);
}

#[test]
fn kubernetes_changes_name_what_is_missing() {
    let (spec, cluster) = applied();
    let fails = |args: &[&str], needle: &str| {
        let out = run(&spec, args);
        assert_ne!(out.code, 0, "{}", out.dump());
        out.stderr_has(needle);
    };
    fails(
        &[
            "local",
            "kube-delete",
            "nowhere",
            "Deployment/sleep",
            "-n",
            "sample",
        ],
        &format!("no AKS cluster named \"nowhere\" (its clusters: {cluster}, "),
    );
    fails(
        &[
            "local",
            "kube-delete",
            &cluster,
            "Gizmo/sleep",
            "-n",
            "sample",
        ],
        &format!("the cluster {cluster} serves no kind \"Gizmo\""),
    );
    fails(
        &[
            "local",
            "kube-delete",
            &cluster,
            "Deployment/sleep",
            "-n",
            "nowhere",
        ],
        &format!("the cluster {cluster} has no Deployment named sleep in namespace nowhere"),
    );
    fails(
        &["local", "kube-patch", &cluster, "helloworld", "{}"],
        "name the object as KIND/NAME",
    );
    fails(
        &[
            "local",
            "kube-patch",
            &cluster,
            "Namespace/sample",
            "not json",
        ],
        "the patch must be JSON",
    );
    // Nothing was changed by any of them.
    let plan = run(&spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.dump());
}
