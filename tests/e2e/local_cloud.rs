//! The embedded local cloud: used when a spec has Azure resources and no subscription, kept
//! under `.mesh/local-cloud/` between runs; `mesh local status`, `reset` and `serve`.

use std::process::Command;

use crate::harness::{Out, Spec};

const GROUP: &str = r#"
resource "azure_resource_group" "rg" {
  name     = "rg-e2e"
  location = "westeurope"
  tags     = { env = "dev" }
}
"#;

/// Run mesh without the caller's Azure settings, with instant simulated operations.
fn run(spec: &Spec, args: &[&str]) -> Out {
    run_env(spec, args, &[])
}

/// [`run`] with extra environment variables.
fn run_env(spec: &Spec, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd: Command = spec.command(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    for var in [
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("MESH_LOCAL_TIME_FACTOR", "0");
    let output = cmd.output().expect("run mesh");
    let out = Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!out.all().contains("panicked"), "{}", out.dump());
    out
}

fn ok(spec: &Spec, args: &[&str]) -> Out {
    ok_env(spec, args, &[])
}

/// [`ok`] with extra environment variables.
fn ok_env(spec: &Spec, args: &[&str], env: &[(&str, &str)]) -> Out {
    let out = run_env(spec, args, env);
    assert_eq!(out.code, 0, "mesh {args:?} failed\n{}", out.dump());
    out
}

#[test]
fn runs_share_the_local_cloud_until_it_is_reset() {
    let spec = Spec::with_main(GROUP);
    ok(&spec, &["local", "status"]).stdout_has("No local cloud data in .mesh/local-cloud.");

    let apply = ok(&spec, &["apply", "-auto-approve"]);
    apply.stderr_has("Azure: local cloud at http://127.0.0.1:");
    apply.stderr_has("(data in .mesh/local-cloud)");
    apply.stdout_has("Apply complete! Resources: 1 added");
    assert!(spec.exists(".mesh/local-cloud/cloud.json"));

    ok(&spec, &["local", "status"])
        .stdout_has("Local cloud data in .mesh/local-cloud: 1 resource.")
        .stdout_has("Microsoft.Resources/resourceGroups  1");
    // A separate run sees the same cloud: nothing to do.
    let plan = ok(&spec, &["plan"]);
    plan.stdout_has("No changes.");
    plan.stderr_has("Azure: local cloud at");

    let reset = ok(&spec, &["local", "reset"]);
    reset.stdout_has("Deleted the local cloud's data in .mesh/local-cloud.");
    reset.stdout_has("the state still lists 1 Azure resource instance(s)");
    ok(&spec, &["local", "status"]).stdout_has("No local cloud data");
    ok(&spec, &["local", "reset"]).stdout_has("nothing to reset");
    // The group is gone from the cloud: the plan creates it again.
    let plan = ok(&spec, &["plan"]);
    plan.stdout_has("Plan: 1 to add, 0 to change, 0 to destroy.");
    plan.stdout_has("# azure_resource_group.rg has been deleted");

    ok(&spec, &["apply", "-auto-approve"]);
    ok(&spec, &["destroy", "-auto-approve"]).stdout_has("Resources: 1 destroyed.");
    ok(&spec, &["local", "status"]).stdout_has("0 resources.");
}

#[test]
fn an_encrypted_state_with_azure_resources_starts_the_cloud_for_their_deletion() {
    // The state is encrypted: only the spec's encryption settings can tell what it holds.
    let passphrase = [("MESH_STATE_PASSPHRASE", "a passphrase long enough for e2e")];
    let spec = Spec::with_main(GROUP);
    spec.write("mesh.hcl", "mesh {\n  encryption {}\n}\n");
    ok_env(&spec, &["apply", "-auto-approve"], &passphrase)
        .stdout_has("Apply complete! Resources: 1 added");
    assert!(!spec
        .read(".mesh/state.json")
        .contains("azure_resource_group"));

    // The spec no longer declares any Azure resource; the state still holds the group.
    spec.write(
        "main.hcl",
        "resource \"test_resource\" \"a\" {\n  name = \"a\"\n}\n",
    );
    let plan = ok_env(&spec, &["plan"], &passphrase);
    plan.stderr_has("Azure: local cloud at http://127.0.0.1:");
    plan.stdout_has("azure_resource_group.rg will be destroyed");
    plan.stdout_has("Plan: 1 to add, 0 to change, 1 to destroy.");
    ok_env(&spec, &["apply", "-auto-approve"], &passphrase).stdout_has("1 destroyed");
    ok(&spec, &["local", "status"]).stdout_has("0 resources.");
}

#[test]
fn specs_without_azure_start_no_cloud_and_real_subscriptions_are_announced() {
    let spec = Spec::with_main("resource \"test_resource\" \"a\" {\n  name = \"a\"\n}\n");
    ok(&spec, &["plan"]).lacks("Azure:");
    assert!(!spec.exists(".mesh/local-cloud"));

    let spec = Spec::with_main(&format!(
        "provider \"azure\" {{\n  subscription_id = \"11111111-2222-3333-4444-555555555555\"\n  endpoint = \"http://127.0.0.1:9\"\n  auth = \"none\"\n}}\n{GROUP}"
    ));
    let plan = ok(&spec, &["plan"]);
    plan.stderr_has(
        "Azure: subscription 11111111-2222-3333-4444-555555555555 at http://127.0.0.1:9",
    );
    plan.stdout_has("Plan: 1 to add");
    assert!(!spec.exists(".mesh/local-cloud"));
}

#[test]
fn serve_runs_a_standalone_cloud_that_mesh_commands_use() {
    let spec = Spec::with_main(GROUP);
    let mut server = spec.spawn(
        "serve",
        &["local", "serve"],
        &[("MESH_LOCAL_TIME_FACTOR", "0")],
    );
    server.wait_for_stdout("Press Ctrl-C to stop.");
    let url = server
        .stdout()
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the URL is printed")
        .to_string();

    let apply = ok(&spec, &["apply", "-auto-approve"]);
    apply.stderr_has(&format!(
        "Azure: local cloud at {url} (served by mesh local serve"
    ));
    let status = ok(&spec, &["local", "status"]);
    status.stdout_has(&format!("Served by mesh local serve at {url}"));
    status.stdout_has("1 resource.");
    let refused = run(&spec, &["local", "reset"]);
    assert_ne!(refused.code, 0, "{}", refused.dump());
    refused.stderr_has("stop it first");
    let second = run(&spec, &["local", "serve"]);
    assert_ne!(second.code, 0);
    second.stderr_has("already serving");

    server.signal("INT");
    let out = server.finish();
    assert_eq!(out.code, 0, "{}", out.dump());
    out.stdout_has("Local cloud stopped.");
    assert!(!spec.exists(".mesh/local-cloud/server.json"));
    // The data stays; the next command uses an embedded cloud on it.
    let plan = ok(&spec, &["plan"]);
    plan.stdout_has("No changes.");
    plan.stderr_has("(data in .mesh/local-cloud)");
}
