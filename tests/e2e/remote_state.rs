//! State in Azure Blob Storage (`mesh { backend "azure_blob" {} }`) against Azurite, the
//! storage emulator, which scripts/azurite.sh installs (npm) and starts: apply and plan,
//! `state pull|push|history`, lease locking between concurrent and killed applies, and
//! migration between the local file and the backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::harness::{apply_line, Spec};

/// A `mesh` block storing state in a fresh container of the emulator, with 15-second leases.
fn backend_block() -> Option<String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let container = format!(
        "e2e-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let endpoint = crate::azurite::endpoint()?;
    Some(format!(
        r#"
mesh {{
  backend "azure_blob" {{
    account       = "devstoreaccount1"
    container     = "{container}"
    key           = "deployments/e2e.state"
    endpoint      = "{endpoint}"
    lease_seconds = 15
  }}
}}
"#
    ))
}

/// Two resources; `-var delay=MS` slows the first one's creation down.
const RESOURCES: &str = r#"
variable "delay" {
  default = 0
}

resource "test_resource" "a" {
  name            = "a"
  create_delay_ms = var.delay
}

resource "test_resource" "b" {
  name = "b-${test_resource.a.id}"
}
"#;

fn pulled(spec: &Spec) -> serde_json::Value {
    let out = spec.ok(&["state", "pull"]);
    serde_json::from_str(&out.stdout).expect("state pull prints JSON")
}

#[test]
fn apply_plan_pull_push_and_history_on_blob_storage() {
    let Some(backend) = backend_block() else {
        return;
    };
    let spec = Spec::with_main(&(backend + RESOURCES));
    spec.apply(&[]).stdout_has(&apply_line(2, 0, 0));
    assert!(
        !spec.exists(".mesh/state.json"),
        "state lives in the blob only"
    );
    spec.ok(&["plan", "-detailed-exitcode"]);
    spec.ok(&["state", "list"])
        .stdout_has("test_resource.a")
        .stdout_has("test_resource.b");

    let state = pulled(&spec);
    assert_eq!(state["resources"].as_array().map(Vec::len), Some(2));
    let serial = state["serial"].as_u64().expect("serial");
    spec.ok(&["state", "history"]).stdout_has("SNAPSHOT");

    // Push a newer version (one instance forgotten): accepted.
    let mut edited = state.clone();
    edited["resources"]
        .as_array_mut()
        .expect("resources")
        .retain(|r| r["address"] != "test_resource.b");
    edited["serial"] = (serial + 1).into();
    spec.write("edited.json", &edited.to_string());
    spec.ok(&["state", "push", "edited.json"])
        .stdout_has(&format!("serial {}", serial + 1));
    assert_eq!(pulled(&spec)["resources"].as_array().map(Vec::len), Some(1));

    // The older one is refused unless forced; a forced push gets a higher serial.
    spec.write("old.json", &state.to_string());
    spec.fails(&["state", "push", "old.json"])
        .stderr_has("older than the stored state");
    spec.ok(&["state", "push", "-force", "old.json"]);
    let forced = pulled(&spec);
    assert_eq!(forced["resources"].as_array().map(Vec::len), Some(2));
    assert_eq!(forced["serial"].as_u64(), Some(serial + 2));

    // A past version can be read back.
    let history = spec.ok(&["state", "history"]);
    let first = history
        .lines()
        .into_iter()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("a snapshot line")
        .to_string();
    let old = spec.ok(&["state", "pull", "--snapshot", &first]);
    assert!(old.stdout.contains("\"lineage\""), "{}", old.dump());

    spec.ok(&["destroy", "-auto-approve"]);
    assert_eq!(pulled(&spec)["resources"].as_array().map(Vec::len), Some(0));
}

#[test]
fn concurrent_applies_one_proceeds_the_other_names_the_holder() {
    let Some(backend) = backend_block() else {
        return;
    };
    let spec = Spec::with_main(&(backend + RESOURCES));
    let slow = ["apply", "-auto-approve", "-var", "delay=4000"];
    let mut first = spec.spawn("first", &slow, &[]);
    first.wait_for_stdout("test_resource.a: Creating...");

    let second = spec.run(&slow);
    assert_ne!(second.code, 0, "{}", second.dump());
    second
        .stderr_has("locked by")
        .stderr_has(&format!("pid {}", first.pid()))
        .stderr_has("for \"apply\"")
        .stderr_has("lease");
    assert!(first.running(), "{}", second.dump());

    let patient = spec.spawn(
        "patient",
        &[&slow[..], &["--lock-timeout", "60s"]].concat(),
        &[],
    );
    let first = first.finish();
    assert_eq!(first.code, 0, "{}", first.dump());
    first.stdout_has(&apply_line(2, 0, 0));
    let patient = patient.finish();
    assert_eq!(patient.code, 0, "{}", patient.dump());
    patient.stdout_has(&apply_line(0, 0, 0));
    assert_eq!(spec.store().len(), 2, "each object was created once");
}

#[test]
fn a_killed_holder_leaves_a_lease_that_expires_or_can_be_broken() {
    let Some(backend) = backend_block() else {
        return;
    };
    let spec = Spec::with_main(&(backend + RESOURCES));
    let slow = ["apply", "-auto-approve", "-var", "delay=60000"];
    let mut first = spec.spawn("first", &slow, &[]);
    first.wait_for_stdout("test_resource.a: Creating...");
    let pid = first.pid();
    first.signal("KILL");
    let killed = first.finish();
    assert_ne!(killed.code, 0);

    // Right after the kill the lease still holds: the error names the holder and the way out.
    spec.fails(&["plan"])
        .stderr_has(&format!("pid {pid}"))
        .stderr_has("mesh force-unlock");

    // Within one lease duration (15 s here) the lease lapses by itself.
    let started = std::time::Instant::now();
    let resumed = spec.run(&["apply", "-auto-approve", "--lock-timeout", "60s"]);
    assert_eq!(resumed.code, 0, "{}", resumed.dump());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(50),
        "the lease must lapse within its duration"
    );
    assert_eq!(
        spec.store().len(),
        2,
        "the interrupted create was not done twice"
    );
    spec.ok(&["plan", "-detailed-exitcode"]);

    // A lease can also be broken at once with force-unlock.
    let mut holder = spec.spawn(
        "holder",
        &[&slow[..], &["-replace", "test_resource.a"]].concat(),
        &[],
    );
    holder.wait_for_stdout("test_resource.a: Creating...");
    holder.signal("KILL");
    let _ = holder.finish();
    let out = spec.fails(&["plan"]);
    let id = lock_id(&out.stderr);
    spec.ok(&["force-unlock", "-force", &id])
        .stdout_has("successfully unlocked");
    spec.apply(&[]);
    spec.ok(&["plan", "-detailed-exitcode"]);
}

/// The lock ID a lock error names.
fn lock_id(text: &str) -> String {
    let start = text.find("lock ID ").expect("a lock ID") + "lock ID ".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect()
}

#[test]
fn migration_from_the_local_file_to_blob_storage_and_back() {
    let spec = Spec::with_main(RESOURCES);
    spec.apply(&[]);
    assert!(spec.exists(".mesh/state.json"));
    let local = spec.read(".mesh/state.json");

    // With a backend block and an empty backend, the local state must be migrated first.
    let Some(backend) = backend_block() else {
        return;
    };
    spec.write("backend.hcl", &backend);
    spec.fails(&["plan"])
        .stderr_has("mesh state migrate --to backend");
    spec.ok(&["state", "migrate", "--to", "backend"])
        .stdout_has("Migrated 2 resource instance(s)");
    assert!(!spec.exists(".mesh/state.json"));
    assert!(spec.exists(".mesh/state.json.migrated"));
    spec.ok(&["plan", "-detailed-exitcode"]);
    let remote = pulled(&spec);
    let local: serde_json::Value = serde_json::from_str(&local).expect("json");
    assert_eq!(remote["lineage"], local["lineage"]);

    // And back: the local file gets the state; without the block mesh uses it again.
    spec.ok(&["state", "migrate", "-to", "local"]);
    std::fs::remove_file(spec.join("backend.hcl")).expect("remove the backend block");
    spec.ok(&["plan", "-detailed-exitcode"]);
    assert_eq!(spec.addresses(), ["test_resource.a", "test_resource.b"]);
    spec.fails(&["state", "migrate", "--to", "backend"])
        .stderr_has("configures no remote backend");
}

#[test]
fn backend_settings_are_checked_with_their_location() {
    let spec = Spec::with_main(
        r#"mesh {
  backend "azure_blob" {
    account    = "devstoreaccount1"
    container  = "Bad_Name"
    key        = "k"
    access_key = "c2VjcmV0"
  }
}
"#,
    );
    let out = spec.fails(&["plan"]);
    out.stderr_has("container \"Bad_Name\" is not a container name")
        .stderr_has("Secret in a spec file")
        .stderr_has("AZURE_STORAGE_KEY")
        .lacks("c2VjcmV0");
    crate::harness::assert_points_at(&out, "main.hcl", 6);
}

#[test]
fn an_interrupted_apply_releases_its_lease() {
    let Some(backend) = backend_block() else {
        return;
    };
    let spec = Spec::with_main(&(backend + RESOURCES));
    let mut apply = spec.spawn(
        "apply",
        &["apply", "-auto-approve", "-var", "delay=60000"],
        &[],
    );
    apply.wait_for_stdout("test_resource.a: Creating...");
    apply.signal("INT");
    crate::harness::wait_until("the first interrupt to be noticed", || {
        apply.stderr().contains("Interrupt received")
    });
    apply.signal("INT");
    let out = apply.finish();
    assert_eq!(out.code, 130, "{}", out.dump());
    // Released, not left to lapse: the next command gets the lock at once.
    spec.ok(&["plan"]);
}
