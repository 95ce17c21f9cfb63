//! Signals during apply, as CI runners send them (SIGINT, then SIGTERM, then SIGKILL): the
//! first lets running operations finish and saves them; the second stops them, saves state and
//! releases the lock within 2 seconds; a third exits at once. The lock is released either way.

use crate::harness::Spec;

const SLOW_AND_DEPENDENT: &str = r#"
resource "test_resource" "slow" {
  name            = "slow"
  create_delay_ms = 2000
}
resource "mesh_data" "dep" {
  input = test_resource.slow.id
}
"#;

#[test]
fn sigint_finishes_the_running_operation_and_skips_the_rest() {
    let spec = Spec::with_main(SLOW_AND_DEPENDENT);
    let mut apply = spec.spawn(
        "apply",
        &["apply", "-auto-approve"],
        &[("MESH_PROGRESS_INTERVAL", "1s")],
    );
    apply.wait_for_stdout("test_resource.slow: Creating...");
    apply.signal("INT");
    let out = apply.finish();

    assert_eq!(
        out.code,
        1,
        "an interrupted apply is not a success\n{}",
        out.dump()
    );
    out.stderr_has("Interrupt received")
        .stdout_has("test_resource.slow: Creation complete after")
        .stderr_has("mesh_data.dep (creation): skipped because the apply was interrupted")
        .lacks("mesh_data.dep: Creating...")
        .lacks("Apply complete!");
    assert_eq!(spec.addresses(), ["test_resource.slow"], "{}", out.dump());
    let id = spec.attr("test_resource.slow", "id");
    assert!(spec.store().contains_key(&id), "the object exists remotely");
    assert!(!spec.locked(), "the lock is released\n{}", out.dump());

    // The next apply finishes the job without touching the saved object.
    spec.apply(&[]).stdout_has("mesh_data.dep: Creating...");
    assert_eq!(spec.attr("mesh_data.dep", "input"), id);
    assert_eq!(spec.store().len(), 1);
}

#[test]
fn sigterm_is_handled_like_sigint() {
    let spec = Spec::with_main(SLOW_AND_DEPENDENT);
    let mut apply = spec.spawn("apply", &["apply", "-auto-approve"], &[]);
    apply.wait_for_stdout("test_resource.slow: Creating...");
    apply.signal("TERM");
    let out = apply.finish();
    assert_ne!(out.code, 0, "{}", out.dump());
    assert_eq!(spec.addresses(), ["test_resource.slow"], "{}", out.dump());
    assert!(!spec.locked());
}

#[test]
fn a_second_sigint_exits_at_once_and_releases_the_lock() {
    let spec = Spec::with_main(&SLOW_AND_DEPENDENT.replace("2000", "20000"));
    let mut apply = spec.spawn("apply", &["apply", "-auto-approve"], &[]);
    apply.wait_for_stdout("test_resource.slow: Creating...");
    let started = std::time::Instant::now();
    apply.signal("INT");
    let stderr_has_notice = || apply.stderr().contains("Interrupt received");
    crate::harness::wait_until("the first interrupt to be noticed", stderr_has_notice);
    apply.signal("INT");
    let out = apply.finish();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "the second interrupt must not wait for the 20 s create"
    );
    assert_eq!(out.code, 130, "{}", out.dump());
    out.stderr_has("Second interrupt");
    assert!(!spec.locked(), "the lock is released\n{}", out.dump());
    assert!(
        !spec.exists(".mesh/state.json.journal"),
        "state is saved as one snapshot"
    );
    // The cancelled create saved nothing.
    assert!(spec.addresses().is_empty(), "{:?}", spec.addresses());
    // And mesh is usable right away.
    spec.ok(&["plan"]);
}

#[test]
fn the_ci_sequence_sigint_sigterm_then_a_third_signal_exits_at_once() {
    let spec = Spec::with_main(&SLOW_AND_DEPENDENT.replace("2000", "20000"));
    let mut apply = spec.spawn("apply", &["apply", "-auto-approve"], &[]);
    apply.wait_for_stdout("test_resource.slow: Creating...");
    let started = std::time::Instant::now();
    apply.signal("INT");
    crate::harness::wait_until("the first interrupt to be noticed", || {
        apply.stderr().contains("Interrupt received")
    });
    apply.signal("TERM");
    apply.signal("INT");
    let out = apply.finish();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "the signals must not wait for the 20 s create"
    );
    assert_eq!(out.code, 130, "{}", out.dump());
    assert!(!spec.locked(), "the lock is released\n{}", out.dump());
    // Whatever the moment, the next command finds a consistent state.
    spec.ok(&["plan"]);
}

/// Whether process `pid` has a handler for SIGINT installed (Linux: SigCgt in procfs).
/// Elsewhere, assume so after a short delay.
fn catches_sigint(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(status) => status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (2 - 1)) != 0),
        Err(_) => {
            std::thread::sleep(std::time::Duration::from_millis(300));
            true
        }
    }
}

#[test]
fn sigint_while_waiting_for_the_lock_exits_and_keeps_the_foreign_lock() {
    let spec = Spec::with_main("resource \"mesh_data\" \"a\" {\n}\n");
    // A lock held by this test process: alive, so never stale.
    let lock = serde_json::json!({
        "id": "held-by-the-test",
        "operation": "apply",
        "who": "test@localhost",
        "pid": std::process::id(),
        "created": "2026-11-22T05:00:00Z",
        "version": "0.1.0",
    });
    spec.write(".mesh/state.json.lock", &lock.to_string());

    let mut apply = spec.spawn(
        "apply",
        &["apply", "-auto-approve", "--lock-timeout", "60s"],
        &[],
    );
    let pid = apply.pid();
    crate::harness::wait_until("mesh to install its SIGINT handler", || {
        catches_sigint(pid) || !apply.running()
    });
    apply.signal("INT");
    let out = apply.finish();
    assert_eq!(out.code, 130, "{}", out.dump());
    out.stderr_has("Interrupted before any change was made.");
    assert!(spec.locked(), "someone else's lock is never removed");
    assert!(spec
        .read(".mesh/state.json.lock")
        .contains("held-by-the-test"));
    assert!(spec.addresses().is_empty());
}
