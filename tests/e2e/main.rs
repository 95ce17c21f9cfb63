//! End-to-end tests: the real `mesh` binary against spec directories in fresh temp dirs.

mod harness;

#[path = "../../state/src/azure/azurite.rs"]
mod azurite;
mod bad_input;
mod ci_flow;
mod closed_output;
mod corpus;
mod crash_safety;
mod data_sources;
mod debug_logs;
mod drift;
mod drift_kubernetes;
mod drift_outside;
mod drift_rules;
mod encryption;
mod encryption_key_vault;
mod failures;
mod faults;
mod interrupts;
mod kubectl;
mod lifecycle;
mod local_cloud;
mod locking;
mod mesh_check;
mod mesh_traffic;
mod modules;
mod ordering;
mod outputs_state;
mod remote_state;
mod repetition;
mod replace;
mod saved_plans;
mod scenarios;
mod seed_topology;
mod sensitive;
mod snapshots;
mod targeting;
mod tooling;
mod variables;
