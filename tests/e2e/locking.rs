//! The state lock: contention between two applies, `--lock-timeout`, stale locks and
//! `mesh force-unlock`.

use crate::harness::{apply_line, wait_until, Spec};

const SLOW: &str = r#"
resource "test_resource" "slow" {
  name            = "slow"
  create_delay_ms = 3000
}
"#;

#[test]
fn a_second_apply_fails_fast_and_a_patient_one_waits() {
    let spec = Spec::with_main(SLOW);
    let mut first = spec.spawn("first", &["apply", "-auto-approve"], &[]);
    wait_until("the lock file", || spec.locked());
    first.wait_for_stdout("test_resource.slow: Creating...");

    let lock: serde_json::Value =
        serde_json::from_str(&spec.read(".mesh/state.json.lock")).expect("lock is JSON");
    assert_eq!(lock["operation"], "apply");
    assert_eq!(lock["pid"], first.pid());

    let second = spec.run(&["apply", "-auto-approve"]);
    assert_ne!(second.code, 0, "{}", second.dump());
    second
        .stderr_has("locked")
        .stderr_has(&format!("pid {}", first.pid()))
        .stderr_has(lock["id"].as_str().unwrap());
    assert!(
        first.running(),
        "the second apply must not wait for the lock without --lock-timeout"
    );

    let third = spec.spawn(
        "third",
        &["apply", "-auto-approve", "--lock-timeout", "30s"],
        &[],
    );
    let first = first.finish();
    assert_eq!(first.code, 0, "{}", first.dump());
    first.stdout_has(&apply_line(1, 0, 0));
    let third = third.finish();
    assert_eq!(third.code, 0, "{}", third.dump());
    // It planned after the first apply finished, so nothing was left to do.
    third.stdout_has(&apply_line(0, 0, 0));
    assert_eq!(spec.addresses(), ["test_resource.slow"]);
    assert_eq!(spec.store().len(), 1, "exactly one object was created");
    assert!(!spec.locked());
}

#[test]
fn plan_also_respects_the_lock() {
    let spec = Spec::with_main(SLOW);
    let mut first = spec.spawn("first", &["apply", "-auto-approve"], &[]);
    first.wait_for_stdout("test_resource.slow: Creating...");
    let plan = spec.run(&["plan"]);
    assert_ne!(plan.code, 0, "{}", plan.dump());
    plan.stderr_has("locked");
    // A state edit is refused too.
    spec.fails(&["state", "rm", "test_resource.slow"])
        .stderr_has("locked");
    let first = first.finish();
    assert_eq!(first.code, 0, "{}", first.dump());
    assert!(!spec.locked());
}

/// The host name as mesh sees it (procfs first, like state/src/sys.rs).
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .chain(std::env::var("HOSTNAME").ok())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait for true");
    pid
}

fn write_lock(spec: &Spec, id: &str, pid: u32, host: &str) {
    let lock = serde_json::json!({
        "id": id,
        "operation": "apply",
        "who": format!("someone@{host}"),
        "pid": pid,
        "created": "2026-11-22T05:00:00Z",
        "version": "0.1.0",
        "host": host,
    });
    spec.write(
        ".mesh/state.json.lock",
        &serde_json::to_string_pretty(&lock).unwrap(),
    );
}

#[test]
fn a_stale_lock_names_force_unlock_and_force_unlock_removes_it() {
    let spec = Spec::with_main(SLOW.replace("3000", "0").as_str());
    let host = hostname();
    write_lock(&spec, "dead-lock-id", dead_pid(), &host);

    let out = spec.fails(&["apply", "-auto-approve", "--lock-timeout", "30s"]);
    out.stderr_has("locked")
        .stderr_has("no longer running")
        .stderr_has("mesh force-unlock dead-lock-id");
    assert!(spec.addresses().is_empty());
    assert!(
        spec.locked(),
        "mesh never removes someone else's lock by itself"
    );

    // The wrong ID unlocks nothing, with or without --force.
    spec.fails(&["force-unlock", "wrong-id"])
        .stderr_has("does not match");
    spec.fails(&["force-unlock", "--force", "wrong-id"])
        .stderr_has("does not match");
    assert!(spec.locked());

    // Without a terminal to ask on, only --force unlocks.
    spec.fails(&["force-unlock", "dead-lock-id"])
        .stderr_has("not a terminal")
        .stderr_has("--force");
    assert!(spec.locked());

    spec.ok(&["force-unlock", "--force", "dead-lock-id"])
        .stdout_has("successfully unlocked");
    assert!(!spec.locked());
    spec.apply(&[]);
    assert_eq!(spec.addresses(), ["test_resource.slow"]);

    // Nothing left to unlock.
    spec.fails(&["force-unlock", "--force", "dead-lock-id"])
        .stderr_has("not locked");
}

#[test]
fn a_lock_held_on_another_host_is_not_called_stale() {
    let spec = Spec::with_main(SLOW);
    write_lock(&spec, "remote-id", dead_pid(), "some-other-host.example");
    let out = spec.fails(&["plan"]);
    out.stderr_has("locked")
        .stderr_has("someone@some-other-host.example")
        .lacks("no longer running");
    // Terraform's spelling works too.
    spec.ok(&["force-unlock", "-force", "remote-id"]);
    spec.ok(&["plan"]);
}

#[test]
fn a_lock_timeout_expires_with_an_error() {
    let spec = Spec::with_main(SLOW);
    // Held by this (live) test process: never stale.
    write_lock(&spec, "live-id", std::process::id(), &hostname());
    let started = std::time::Instant::now();
    let out = spec.fails(&["plan", "--lock-timeout", "1s"]);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "mesh must wait for the lock timeout"
    );
    out.stderr_has("locked").stderr_has("live-id");
    assert!(spec.locked());
}

#[test]
fn an_invalid_lock_timeout_is_an_error() {
    let spec = Spec::with_main(SLOW);
    spec.fails(&["plan", "--lock-timeout", "soon"])
        .stderr_has("invalid duration");
    assert!(!spec.locked());
}

/// Run `mesh -C DIR ARGS` on a pseudo-terminal (util-linux `script`), typing `input`; None when
/// `script` is not available here.
fn run_on_a_terminal(spec: &Spec, args: &str, input: &str) -> Option<(i32, String)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let available = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("skipped: no `script` command to provide a terminal");
        return None;
    }
    let line = format!(
        "{} -C '{}' {args}",
        crate::harness::MESH,
        spec.path().display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("type the answer");
    let out = child.wait_with_output().expect("wait for script");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("panicked"), "{text}");
    Some((out.status.code().unwrap_or(-1), text))
}

#[test]
fn force_unlock_asks_on_a_terminal() {
    let spec = Spec::with_main(SLOW);
    write_lock(&spec, "asked-id", dead_pid(), "some-other-host.example");
    let Some((code, text)) = run_on_a_terminal(&spec, "force-unlock asked-id", "no\n") else {
        return;
    };
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("Do you really want to force-unlock?"),
        "{text}"
    );
    assert!(text.contains("someone@some-other-host.example"), "{text}");
    assert!(text.contains("force-unlock cancelled."), "{text}");
    assert!(spec.locked());

    let (code, text) = run_on_a_terminal(&spec, "force-unlock asked-id", "yes\n").unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("successfully unlocked"), "{text}");
    assert!(!spec.locked());
}
