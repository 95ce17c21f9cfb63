//! `mesh check` on the scenarios: each checks clean as written (before apply, and after it
//! with every value known), and each broken variant is reported before anything is applied —
//! the rule family, the resource with its file:line, and the fix — while `mesh plan` shows
//! the same findings as warnings and still succeeds.

use serde_json::Value as Json;

use crate::harness::{ok_local, run_local, scenario_spec, Out, Spec};

const SCENARIOS: [&str; 3] = ["multicluster-istio", "multi-network", "gateway-federation"];

/// `mesh check --format json`, parsed.
fn check_json(spec: &Spec) -> (Out, Json) {
    let out = run_local(spec, &["check", "--format", "json"]);
    let json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("check --format json is not JSON: {e}\n{}", out.dump()));
    (out, json)
}

/// Replace `from` by `to` in a spec file, asserting it was there.
fn edit(spec: &Spec, file: &str, from: &str, to: &str) {
    let text = spec.read(file);
    assert!(text.contains(from), "{file} lacks {from:?}");
    spec.write(file, &text.replacen(from, to, 1));
}

/// `mesh check` fails, naming the rule family and each needle.
fn fails_with(spec: &Spec, family: &str, needles: &[&str]) -> Out {
    let out = run_local(spec, &["check"]);
    assert_eq!(out.code, 1, "mesh check must fail\n{}", out.dump());
    out.stdout_has(&format!("\n{family}\n  error: "));
    for needle in needles {
        out.stdout_has(needle);
    }
    out.stdout_has("    fix: ");
    assert!(spec.state().is_none(), "mesh check must not apply anything");
    out
}

#[test]
fn the_scenarios_check_clean_before_apply() {
    for name in SCENARIOS {
        let spec = scenario_spec(name);
        let (out, json) = check_json(&spec);
        assert_eq!(out.code, 0, "{name}\n{}", out.dump());
        assert_eq!(json["format_version"], "1.0", "{name}");
        assert_eq!(json["summary"]["errors"], 0, "{name}: {json:#}");
        assert_eq!(json["summary"]["warnings"], 0, "{name}: {json:#}");
        let plan = ok_local(&spec, &["plan"]);
        plan.lacks("Mesh check");
    }
}

#[test]
fn gateway_federation_is_reported_as_independent_control_planes() {
    let spec = scenario_spec("gateway-federation");
    let out = ok_local(&spec, &["check"]);
    out.stdout_has("mesh check: 0 errors, 0 warnings, 1 info");
    out.stdout_has("independent control planes");
}

#[test]
fn multi_network_checks_clean_after_apply_with_every_value_known() {
    let spec = scenario_spec("multi-network");
    ok_local(&spec, &["apply", "-auto-approve"]);
    let (out, json) = check_json(&spec);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(json["summary"]["errors"], 0, "{json:#}");
    assert_eq!(json["summary"]["warnings"], 0, "{json:#}");
    assert_eq!(json["summary"]["infos"], 0, "{json:#}");
}

#[test]
fn a_missing_remote_secret_is_a_discovery_error_before_apply() {
    let spec = scenario_spec("multi-network");
    edit(
        &spec,
        "main.hcl",
        "for_each       = local.remote_secrets",
        "for_each       = { for k, v in local.remote_secrets : k => v if k != \"cluster2-in-cluster1\" }",
    );
    let out = fails_with(
        &spec,
        "discovery",
        &[
            "istiod in cluster1 holds no remote secret for cluster2",
            "traffic from cluster1 stays in cluster1",
            "at module.istio[\"cluster1\"].istio_control_plane.this (../modules/istio-cluster/main.hcl:",
            "add an istio_remote_secret with cluster = module.aks[\"cluster1\"].azure_kubernetes_cluster.this, source_cluster = module.aks[\"cluster2\"].azure_kubernetes_cluster.this",
        ],
    );
    out.lacks("istiod in cluster2 holds no remote secret");
    // The plan still succeeds, with the finding as a warning.
    let plan = ok_local(&spec, &["plan"]);
    plan.stderr_has("Mesh check (discovery)");
    plan.stderr_has("holds no remote secret for cluster2");
}

#[test]
fn a_cluster_on_another_root_is_a_trust_error_before_apply() {
    let spec = scenario_spec("multi-network");
    let main = spec.read("main.hcl");
    spec.write(
        "main.hcl",
        &format!(
            "{main}\nresource \"pki_root_ca\" \"other\" {{\n  common_name  = \"Other Root CA\"\n  organization = \"Istio\"\n}}\n"
        ),
    );
    edit(
        &spec,
        "main.hcl",
        "root_ca          = pki_root_ca.mesh",
        "root_ca          = each.key == \"cluster2\" ? pki_root_ca.other : pki_root_ca.mesh",
    );
    fails_with(
        &spec,
        "trust",
        &[
            "the CA of cluster2 chains to pki_root_ca.other, but the CA of cluster1 chains to pki_root_ca.mesh",
            "cross-cluster calls fail the mTLS handshake",
            "at module.istio[\"cluster2\"].pki_intermediate_ca.this (../modules/istio-cluster/main.hcl:",
            "see pki_root_ca.other (main.hcl:",
            "sign the intermediate CA of cluster2 with pki_root_ca.mesh",
        ],
    );
}

#[test]
fn a_network_without_an_east_west_gateway_is_a_networks_error_before_apply() {
    let spec = scenario_spec("multi-network");
    edit(
        &spec,
        "main.hcl",
        "eastwest_gateway = true",
        "eastwest_gateway = each.key == \"cluster1\"",
    );
    fails_with(
        &spec,
        "networks",
        &[
            "cluster2 is on network \"network2\" and it has no east-west gateway",
            "clusters on other networks (cluster1 (\"network1\")) cannot reach its endpoints",
            "at module.istio[\"cluster2\"].istio_control_plane.this.eastwest_gateway (../modules/istio-cluster/main.hcl:",
            "set eastwest_gateway = {}",
        ],
    );
}

#[test]
fn a_namespace_for_a_missing_revision_is_an_injection_error_before_apply() {
    let spec = scenario_spec("multi-network");
    edit(
        &spec,
        "main.hcl",
        "  name     = \"sample\"\n  labels = {\n    \"istio-injection\" = \"enabled\"\n  }",
        "  name     = \"sample\"\n  labels = {\n    \"istio.io/rev\" = \"1-20-0\"\n  }",
    );
    fails_with(
        &spec,
        "injection",
        &[
            "namespace sample in cluster1 asks for revision 1-20-0",
            "its revisions are 1-19-1",
            "at kubernetes_namespace.sample[\"cluster1\"].labels (main.hcl:",
            "label it istio.io/rev=1-19-1",
        ],
    );
}

#[test]
fn a_subset_no_destination_rule_defines_is_a_services_error_before_apply() {
    let spec = scenario_spec("multi-network");
    edit(
        &spec,
        "apps/helloworld-cluster-local.yaml",
        "        subset: cluster2",
        "        subset: cluster3",
    );
    fails_with(
        &spec,
        "services",
        &[
            "routes to subset \"cluster3\" of helloworld.sample.svc.cluster.local, but its DestinationRules define cluster1, cluster2",
            "at kubernetes_manifests.helloworld_cluster_local (main.hcl:",
            "define subset \"cluster3\"",
        ],
    );
}

#[test]
fn the_json_report_names_resources_locations_and_fixes() {
    let spec = scenario_spec("multi-network");
    edit(
        &spec,
        "main.hcl",
        "eastwest_gateway = true",
        "eastwest_gateway = each.key == \"cluster1\"",
    );
    let (out, json) = check_json(&spec);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(json["summary"]["errors"], 1, "{json:#}");
    let finding = &json["findings"][0];
    assert_eq!(finding["rule"], "networks");
    assert_eq!(finding["severity"], "error");
    assert_eq!(
        finding["address"],
        "module.istio[\"cluster2\"].istio_control_plane.this"
    );
    assert_eq!(finding["attribute"], "eastwest_gateway");
    assert_eq!(
        finding["location"]["file"],
        "../modules/istio-cluster/main.hcl"
    );
    assert!(finding["location"]["line"].as_u64().unwrap_or(0) > 0);
    assert!(finding["fix"]
        .as_str()
        .unwrap_or("")
        .contains("eastwest_gateway"));
}
