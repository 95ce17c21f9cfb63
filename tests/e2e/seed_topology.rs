//! The seed topology (specs/multicluster-istio) on the local cloud: apply creates every
//! resource, a second plan is empty, a tag change updates in place, a force-new change
//! replaces, destroy leaves the cloud empty; and the plan-time checks catch the seed's classic
//! mistakes before anything is created.

use crate::harness::{
    ok_local as ok, plan_line, run_local as run, seed_spec as seed, SEED_RESOURCES,
};

const OWNER_TAGS: &str = "tags={scenario=\"multicluster-istio\",owner=\"platform\"}";

#[test]
fn the_seed_topology_applies_converges_updates_replaces_and_destroys() {
    let spec = seed();
    let applied = ok(&spec, &["apply", "-auto-approve"]);
    applied.stderr_has("Azure: local cloud at http://127.0.0.1:");
    let added = spec.addresses().len();
    assert_eq!(
        added,
        SEED_RESOURCES,
        "expected the whole topology, got {added} resources\n{}",
        applied.dump()
    );
    applied.stdout_has(&format!(
        "Apply complete! Resources: {added} added, 0 changed, 0 destroyed."
    ));
    // The local cloud holds at least those (private endpoints' DNS zone groups are child objects).
    let status = ok(&spec, &["local", "status"]);
    let held: usize = status
        .stdout
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let azure = spec
        .addresses()
        .iter()
        .filter(|a| {
            a.rsplit('.')
                .nth(1)
                .is_some_and(|t| t.starts_with("azure_"))
        })
        .count();
    assert!(held >= azure, "{}", status.dump());

    // Nothing drifts: normalization of everything the local cloud fills in.
    ok(&spec, &["plan"]).stdout_has("No changes.");

    // A tag is an in-place update of every tagged resource, applied without replacement.
    let tagged = ok(&spec, &["plan", "-var", OWNER_TAGS]);
    tagged
        .stdout_has("will be updated in place")
        .lacks("must be replaced");
    ok(&spec, &["apply", "-auto-approve", "-var", OWNER_TAGS]).stdout_has("0 destroyed.");
    ok(&spec, &["plan", "-var", OWNER_TAGS]).stdout_has("No changes.");
    let rg = spec
        .attrs("azure_resource_group.shared")
        .expect("shared resource group");
    assert_eq!(rg["tags"]["owner"], "platform");

    // The node VM size cannot change in place: the clusters (and what hangs off them) are replaced.
    let module = spec.read("modules/region/main.hcl");
    spec.write(
        "modules/region/main.hcl",
        &module.replacen(
            "vm_size                      = \"Standard_D4s_v5\"",
            "vm_size                      = \"Standard_D8s_v5\"",
            1,
        ),
    );
    let replace = ok(&spec, &["plan", "-var", OWNER_TAGS]);
    replace
        .stdout_has("module.region[\"one\"].azure_kubernetes_cluster.this must be replaced")
        .stdout_has("# forces replacement");
    ok(&spec, &["apply", "-auto-approve", "-var", OWNER_TAGS]);
    ok(&spec, &["plan", "-var", OWNER_TAGS]).stdout_has("No changes.");
    let cluster = spec
        .attrs("module.region[\"one\"].azure_kubernetes_cluster.this")
        .expect("cluster");
    assert_eq!(cluster["default_node_pool"]["vm_size"], "Standard_D8s_v5");

    // Destroy leaves both the state and the local cloud empty.
    ok(&spec, &["destroy", "-auto-approve", "-var", OWNER_TAGS])
        .stdout_has(&format!("Destroy complete! Resources: {added} destroyed."));
    assert!(spec.addresses().is_empty());
    ok(&spec, &["local", "status"]).stdout_has("0 resources");
}

#[test]
fn cluster_credentials_are_never_written_to_state() {
    let spec = seed();
    ok(&spec, &["apply", "-auto-approve"]);
    let cluster = spec
        .attrs("module.region[\"one\"].azure_kubernetes_cluster.this")
        .expect("cluster");
    assert!(cluster.get("kube_admin_config_raw").is_none());
    let state = std::fs::read_to_string(spec.path().join(".mesh/state.json")).expect("state");
    assert!(!state.contains("token:"), "credentials in state");
    assert!(!state.contains("clusterAdmin"), "credentials in state");
    ok(&spec, &["destroy", "-auto-approve"]);
}

#[test]
fn plan_time_checks_catch_overlapping_peered_networks_before_anything_is_created() {
    let spec = seed();
    let overlapping = "clusters={one={location=\"westeurope\",address_space=\"10.0.0.0/16\",system_subnet=\"10.0.0.0/20\",user_subnet=\"10.0.16.0/20\",gateway_subnet=\"10.0.32.0/24\",bastion_subnet=\"10.0.33.0/26\",endpoints=\"10.0.34.0/24\"},two={location=\"eastus\",address_space=\"10.0.0.0/16\",system_subnet=\"10.0.0.0/20\",user_subnet=\"10.0.16.0/20\",gateway_subnet=\"10.0.32.0/24\",bastion_subnet=\"10.0.33.0/26\",endpoints=\"10.0.34.0/24\"}}";
    let out = run(&spec, &["plan", "-var", overlapping]);
    assert_eq!(out.code, 1, "{}", out.dump());
    out.stderr_has("address spaces overlap")
        .stderr_has("main.hcl line");
    assert!(spec.addresses().is_empty());
    ok(&spec, &["local", "status"]).stdout_has("0 resources");
    // The same spec with distinct ranges plans cleanly.
    ok(&spec, &["plan"]).stdout_has(&plan_line(SEED_RESOURCES, 0, 0));
}

#[test]
fn plan_time_checks_catch_a_small_bastion_subnet() {
    let spec = seed();
    let small = "clusters={one={location=\"westeurope\",address_space=\"10.0.0.0/16\",system_subnet=\"10.0.0.0/20\",user_subnet=\"10.0.16.0/20\",gateway_subnet=\"10.0.32.0/24\",bastion_subnet=\"10.0.33.0/27\",endpoints=\"10.0.34.0/24\"},two={location=\"eastus\",address_space=\"10.1.0.0/16\",system_subnet=\"10.1.0.0/20\",user_subnet=\"10.1.16.0/20\",gateway_subnet=\"10.1.32.0/24\",bastion_subnet=\"10.1.33.0/26\",endpoints=\"10.1.34.0/24\"}}";
    let out = run(&spec, &["plan", "-var", small]);
    assert_eq!(out.code, 1, "{}", out.dump());
    out.stderr_has("/26");
}

#[test]
fn validate_runs_the_plan_time_checks_without_touching_state_or_the_cloud() {
    let spec = seed();
    ok(&spec, &["validate"]).stdout_has("Success! The configuration is valid.");
    let overlapping = "{one={location=\"westeurope\",address_space=\"10.0.0.0/16\",system_subnet=\"10.0.0.0/20\",user_subnet=\"10.0.16.0/20\",gateway_subnet=\"10.0.32.0/24\",bastion_subnet=\"10.0.33.0/26\",endpoints=\"10.0.34.0/24\"},two={location=\"eastus\",address_space=\"10.0.0.0/16\",system_subnet=\"10.0.0.0/20\",user_subnet=\"10.0.16.0/20\",gateway_subnet=\"10.0.32.0/24\",bastion_subnet=\"10.0.33.0/26\",endpoints=\"10.0.34.0/24\"}}";
    let mut cmd = spec.command(&["validate"]);
    cmd.env("MESH_VAR_clusters", overlapping);
    let output = cmd.output().expect("run mesh");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("address spaces overlap") && stderr.contains("main.hcl line"),
        "{stderr}"
    );
    assert!(
        !spec.exists(".mesh"),
        "validate must not create state or a local cloud"
    );
}
