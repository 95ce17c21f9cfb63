//! The review flow docs/ci.md describes, run on the seed topology against the local cloud:
//! a pull request gets a markdown plan comment and a saved plan, the merge applies exactly that
//! plan, and the scheduled drift check passes until something changes outside mesh.

use crate::harness::{ok_local as ok, run_local as run, seed_spec as seed, SEED_RESOURCES};

#[test]
fn pull_request_plan_then_apply_on_merge_then_scheduled_drift_check() {
    let spec = seed();

    // Pull request: a comment body and a saved plan; exit 2 says "there are changes".
    let pr = run(
        &spec,
        &[
            "plan",
            "-out",
            "plan.json",
            "--format",
            "markdown",
            "-detailed-exitcode",
        ],
    );
    assert_eq!(pr.code, 2, "{}", pr.dump());
    assert!(
        pr.stdout.starts_with("<!-- mesh-plan -->\n"),
        "{}",
        pr.dump()
    );
    assert!(
        pr.stdout.contains(&format!("{SEED_RESOURCES} to add")),
        "{}",
        pr.dump()
    );

    // Merge: exactly the reviewed plan.
    ok(&spec, &["apply", "plan.json"]).stdout_has(&format!(
        "Apply complete! Resources: {SEED_RESOURCES} added, 0 changed, 0 destroyed."
    ));

    // Schedule: no drift, exit 0; a tag added in the cloud is drift, exit 2.
    ok(&spec, &["drift"]);
    let rg = spec.attr("azure_resource_group.shared", "id");
    ok(&spec, &["local", "tag", &rg, "costcenter=42"]);
    let drift = run(&spec, &["drift", "--format", "markdown"]);
    assert_eq!(drift.code, 2, "{}", drift.dump());
    assert!(
        drift.stdout.contains("### Drift") && drift.stdout.contains("azure_resource_group.shared"),
        "{}",
        drift.dump()
    );
}
