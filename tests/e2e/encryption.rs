//! Encryption at rest (`mesh { encryption {} }`): state, its backup and journal, and saved plan
//! files hold no secret in clear; a wrong or missing passphrase is a clear error and changes
//! nothing; `mesh state rekey` rotates the passphrase and encrypts a state that was plain.

use std::fs;
use std::path::Path;

use crate::harness::{Out, Spec};

const PASSPHRASE: &str = "correct horse battery staple";
const NEW_PASSPHRASE: &str = "a brand new and longer passphrase";

const RESOURCES: &str = r#"
resource "pki_root_ca" "mesh" {
  common_name  = "Mesh Root CA"
  organization = "mesh"
}

resource "pki_certificate" "leaf" {
  issuer_cert_pem        = pki_root_ca.mesh.cert_pem
  issuer_private_key_pem = pki_root_ca.mesh.private_key_pem
  common_name            = "leaf.example.com"
  organization           = "mesh"
  dns_names              = ["leaf.example.com"]
  usage                  = "server"
}

output "ca_key" {
  value     = pki_root_ca.mesh.private_key_pem
  sensitive = true
}
"#;

const ENCRYPTED: &str = "mesh {\n  encryption {}\n}\n";

fn with(spec: &Spec, passphrase: &str, args: &[&str]) -> Out {
    spec.run_env(args, &[("MESH_STATE_PASSPHRASE", passphrase)])
}

fn ok_with(spec: &Spec, passphrase: &str, args: &[&str]) -> Out {
    let out = with(spec, passphrase, args);
    assert_eq!(out.code, 0, "mesh {args:?} failed\n{}", out.dump());
    out
}

/// The middle lines of the root CA's private key (from the decrypted state).
fn ca_key_lines(spec: &Spec, passphrase: &str) -> Vec<String> {
    let state: serde_json::Value =
        serde_json::from_str(&ok_with(spec, passphrase, &["state", "pull"]).stdout).expect("json");
    let ca = state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["address"] == "pki_root_ca.mesh")
        .expect("the root CA is in state");
    let pem = ca["attributes"]["private_key_pem"]
        .as_str()
        .expect("a private key");
    let lines: Vec<String> = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(String::from)
        .collect();
    assert!(!lines.is_empty());
    lines
}

/// Every file under `dir` (recursively) with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((
                path.display().to_string(),
                fs::read(&path).unwrap_or_default(),
            ));
        }
    }
    out
}

fn assert_nothing_in_clear(spec: &Spec, secrets: &[String]) {
    for (name, bytes) in files(spec.path()) {
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{name} holds a secret in clear"
            );
        }
        assert!(
            !text.contains("PRIVATE KEY"),
            "{name} holds a private key in clear"
        );
    }
}

#[test]
fn encrypted_state_backup_journal_and_plan_files_hold_no_secret() {
    let spec = Spec::with_main(&(ENCRYPTED.to_string() + RESOURCES));
    ok_with(&spec, PASSPHRASE, &["apply", "-auto-approve"]);
    let key = ca_key_lines(&spec, PASSPHRASE);
    let state = spec.read(".mesh/state.json");
    assert!(state.starts_with("{\"mesh_encrypted\":1"), "{state}");
    assert!(
        !state.contains("pki_root_ca"),
        "addresses are encrypted too"
    );

    // A change makes a backup; a saved plan is encrypted too.
    spec.write(
        "more.hcl",
        "resource \"test_resource\" \"x\" {\n  name = \"x\"\n}\n",
    );
    ok_with(&spec, PASSPHRASE, &["apply", "-auto-approve"]);
    assert!(spec.exists(".mesh/state.json.backup"));
    ok_with(
        &spec,
        PASSPHRASE,
        &["plan", "-destroy", "-out", "destroy.plan"],
    );
    assert!(spec
        .read("destroy.plan")
        .starts_with("{\"mesh_encrypted\":1"));
    ok_with(&spec, PASSPHRASE, &["show", "destroy.plan"]).stdout_has("pki_root_ca.mesh");
    assert_nothing_in_clear(&spec, &key);
    ok_with(&spec, PASSPHRASE, &["plan", "-detailed-exitcode"]);

    // The plan file needs the key as well.
    let out = with(
        &spec,
        "not the passphrase at all",
        &["show", "destroy.plan"],
    );
    assert_ne!(out.code, 0);
    out.stderr_has("destroy.plan: cannot decrypt");
    ok_with(&spec, PASSPHRASE, &["apply", "destroy.plan"]);
    ok_with(&spec, PASSPHRASE, &["state", "list"]);
}

#[test]
fn a_wrong_or_missing_passphrase_is_a_clear_error_and_changes_nothing() {
    let spec = Spec::with_main(&(ENCRYPTED.to_string() + RESOURCES));
    ok_with(&spec, PASSPHRASE, &["apply", "-auto-approve"]);
    let before = spec.state_bytes();

    let wrong = with(
        &spec,
        "incorrect horse battery",
        &["apply", "-auto-approve"],
    );
    assert_ne!(wrong.code, 0, "{}", wrong.dump());
    wrong
        .stderr_has("cannot decrypt")
        .stderr_has("MESH_STATE_PASSPHRASE does not decrypt it")
        .lacks("incorrect horse battery");
    assert!(
        !wrong.stdout.contains("Plan:"),
        "no plan from an unreadable state"
    );

    let missing = spec.run(&["plan"]);
    assert_ne!(missing.code, 0);
    missing.stderr_has("MESH_STATE_PASSPHRASE is not set");

    // Without the encryption block the file is recognised, not taken for an empty state.
    fs::write(spec.join("main.hcl"), RESOURCES).expect("write");
    let plain = spec.run(&["plan"]);
    assert_ne!(plain.code, 0);
    plain.stderr_has("is encrypted");
    assert_eq!(spec.state_bytes(), before, "nothing was written");
    assert!(!spec.locked());
}

#[test]
fn rekey_rotates_the_passphrase_and_encrypts_a_plain_state() {
    // A state written before encryption was turned on.
    let spec = Spec::with_main(RESOURCES);
    spec.apply(&[]);
    spec.write(
        "more.hcl",
        "resource \"test_resource\" \"x\" {\n  name = \"x\"\n}\n",
    );
    spec.apply(&[]);
    let key = ca_key_lines(&spec, PASSPHRASE);
    assert!(spec.read(".mesh/state.json.backup").contains("PRIVATE KEY"));

    spec.write("encryption.hcl", ENCRYPTED);
    ok_with(&spec, PASSPHRASE, &["state", "rekey"]).stdout_has("1 backup(s) rewritten");
    assert_nothing_in_clear(&spec, &key);
    ok_with(&spec, PASSPHRASE, &["plan", "-detailed-exitcode"]);

    // Rotation: read with the old passphrase, write with the new one.
    let rotate = spec.run_env(
        &["state", "rekey"],
        &[
            ("MESH_STATE_PASSPHRASE", NEW_PASSPHRASE),
            ("MESH_STATE_OLD_PASSPHRASE", PASSPHRASE),
        ],
    );
    assert_eq!(rotate.code, 0, "{}", rotate.dump());
    ok_with(&spec, NEW_PASSPHRASE, &["plan", "-detailed-exitcode"]);
    let old = with(&spec, PASSPHRASE, &["plan"]);
    assert_ne!(old.code, 0, "the old passphrase no longer opens the state");
    old.stderr_has("cannot decrypt");
    assert_eq!(ca_key_lines(&spec, NEW_PASSPHRASE), key);
}

#[test]
fn a_killed_apply_leaves_only_an_encrypted_journal() {
    let slow = "resource \"test_resource\" \"slow\" {\n  name            = \"slow\"\n  \
                create_delay_ms = 60000\n  depends_on      = [pki_certificate.leaf]\n}\n";
    let spec = Spec::with_main(&(ENCRYPTED.to_string() + RESOURCES + slow));
    let mut apply = spec.spawn(
        "apply",
        &["apply", "-auto-approve"],
        &[("MESH_STATE_PASSPHRASE", PASSPHRASE)],
    );
    apply.wait_for_stdout("test_resource.slow: Creating...");
    apply.signal("KILL");
    let _ = apply.finish();
    let journal = spec.read(".mesh/state.json.journal");
    assert!(journal.lines().count() >= 2, "{journal}");
    assert!(journal
        .lines()
        .all(|l| l.starts_with("{\"mesh_encrypted\":1")));
    let key = ca_key_lines(&spec, PASSPHRASE);
    assert_nothing_in_clear(&spec, &key);
    // The next command replays the encrypted journal, and the lock left by the kill is named.
    let out = with(&spec, PASSPHRASE, &["plan"]);
    out.stderr_has("mesh force-unlock");
}
