//! Changes made behind mesh's back in the local cloud (`mesh local delete|set|tag`): the next
//! plan reports each as drift, naming the changed attribute, and one apply fixes them all.

use crate::harness::{ok_local as ok, run_local as run, seed_spec as seed};

const PEERING: &str = "azure_virtual_network_peering.mesh[\"one-to-two\"]";
const PEERING_BACK: &str = "azure_virtual_network_peering.mesh[\"two-to-one\"]";
const POOL: &str = "module.region[\"one\"].azure_kubernetes_node_pool.user";
const GROUP: &str = "azure_resource_group.shared";

#[test]
fn changes_made_outside_are_reported_as_drift_and_fixed_by_the_next_apply() {
    let spec = seed();
    ok(&spec, &["apply", "-auto-approve"]);
    let id = |address: &str| spec.attr(address, "id");

    // The peering between the two networks goes, both its halves (deleting only one leaves
    // the other Disconnected, and Azure refuses a new peering against it).
    let peering = id(PEERING);
    ok(&spec, &["local", "delete", &peering])
        .stdout_has(&format!("Deleted {peering} in the local cloud."));
    ok(&spec, &["local", "delete", &id(PEERING_BACK)]);
    let pool = id(POOL);
    ok(&spec, &["local", "set", &pool, "properties.count=5"])
        .stdout_has(&format!(
            "Changed properties.count of {pool} in the local cloud:"
        ))
        .stdout_has("3 -> 5");
    ok(
        &spec,
        &["local", "tag", &id(GROUP), "changed-by=someone-else"],
    )
    .stdout_has("(none) -> \"someone-else\"");
    // Unknown resources are refused.
    let missing = run(&spec, &["local", "tag", &format!("{peering}x"), "a=b"]);
    assert_ne!(missing.code, 0, "{}", missing.dump());
    missing.stderr_has("the local cloud has no resource");

    let plan = run(&spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.dump());
    plan.stdout_has("Objects have changed outside of mesh")
        .stdout_has(&format!("# {PEERING} has been deleted"))
        .stdout_has(&format!("# {PEERING} will be created"))
        .stdout_has(&format!("# {POOL} has changed"))
        .stdout_has("~ node_count = 3 -> 5")
        .stdout_has(&format!("# {POOL} will be updated in place"))
        .stdout_has("~ node_count = 5 -> 3")
        .stdout_has(&format!("# {GROUP} has changed"))
        .stdout_has("~ tags = {")
        .stdout_has("+ changed-by = \"someone-else\"")
        .stdout_has(&format!("# {GROUP} will be updated in place"))
        .stdout_has("Plan: 2 to add, 2 to change, 0 to destroy.");

    ok(&spec, &["apply", "-auto-approve"])
        .stdout_has("Apply complete! Resources: 2 added, 2 changed, 0 destroyed.");
    let settled = run(&spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(settled.code, 0, "{}", settled.dump());
    settled.stdout_has("No changes.");
}

#[test]
fn one_half_of_a_peering_deleted_outside_is_recreated_and_the_other_repaired() {
    let spec = seed();
    ok(&spec, &["apply", "-auto-approve"]);
    ok(&spec, &["local", "delete", &spec.attr(PEERING, "id")]);

    let plan = run(&spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.dump());
    // The other half's state (Connected → Disconnected) is a status, not drift: the plan
    // shows it as the reason for an update.
    plan.stdout_has(&format!("# {PEERING} has been deleted"))
        .stdout_has("\"Disconnected\" -> (known after apply)")
        .stdout_has(&format!("# {PEERING} will be created"))
        .stdout_has(&format!("# {PEERING_BACK} will be updated in place"));

    ok(&spec, &["apply", "-auto-approve"])
        .stdout_has("Apply complete! Resources: 1 added, 1 changed, 0 destroyed.");
    assert_eq!(spec.attr(PEERING, "peering_state"), "Connected");
    let settled = run(&spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(settled.code, 0, "{}", settled.dump());
}
