//! Faults on the wire: with the local cloud injecting 429s (with Retry-After), 500s, 503s,
//! dropped connections, slow responses and failed long-running operations on a fifth of its
//! requests, a scenario applies, plans clean and destroys with no error the user sees; what is
//! not retryable fails once, with ARM's code and message and the resource's address.

use crate::harness::{scenario_spec, Spec};

/// A fifth of all requests get a fault.
const FAULTS_20_PERCENT: &str = r#"{"seed": SEED, "throttle": 0.06, "server_error": 0.04, "unavailable": 0.04, "drop_connection": 0.03, "slow": 0.02, "slow_ms": 150, "failed_operation": 0.01, "conflict": 0.03, "retry_after_ms": 50}"#;

fn with_faults(spec: &Spec, args: &[&str], seed: u64) -> crate::harness::Out {
    let faults = FAULTS_20_PERCENT.replace("SEED", &seed.to_string());
    let out = spec.run_env(
        args,
        &[
            ("MESH_LOCAL_TIME_FACTOR", "0.001"),
            ("MESH_LOCAL_FAULTS", faults.as_str()),
        ],
    );
    assert!(!out.all().contains("panicked"), "{}", out.dump());
    out
}

#[test]
fn a_scenario_converges_through_a_fifth_of_requests_failing() {
    let spec = scenario_spec("multi-network");
    let applied = with_faults(&spec, &["apply", "-auto-approve"], 11);
    assert_eq!(applied.code, 0, "{}", applied.dump());
    applied.stdout_has("Apply complete!").lacks("Error");
    let plan = with_faults(&spec, &["plan", "-detailed-exitcode"], 12);
    assert_eq!(plan.code, 0, "{}", plan.dump());
    let destroyed = with_faults(&spec, &["destroy", "-auto-approve"], 13);
    assert_eq!(destroyed.code, 0, "{}", destroyed.dump());
    assert!(spec.addresses().is_empty());
}

#[test]
fn what_is_not_retryable_fails_once_with_arms_code_and_the_address() {
    // The second group has the first one's name in another region: ARM refuses it (409,
    // InvalidResourceGroupLocation), which no retry changes.
    let spec = Spec::with_main(
        r#"
resource "azure_resource_group" "first" {
  name     = "rg-faults"
  location = "westeurope"
}
resource "azure_resource_group" "clash" {
  name       = "RG-FAULTS"
  location   = "eastus"
  depends_on = [azure_resource_group.first]
}
"#,
    );
    let out = with_faults(&spec, &["apply", "-auto-approve"], 21);
    assert_eq!(out.code, 1, "{}", out.dump());
    out.stderr_has("azure_resource_group.clash")
        .stderr_has("InvalidResourceGroupLocation");
    assert_eq!(
        out.all().matches("InvalidResourceGroupLocation:").count(),
        1,
        "reported once\n{}",
        out.dump()
    );
    with_faults(&spec, &["destroy", "-auto-approve"], 22);
}
