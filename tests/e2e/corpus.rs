//! The bad-input corpus (`tests/corpus/`, described in its README): every malformed spec, variable
//! file, state, journal, saved plan and kubeconfig there must make `mesh` exit non-zero with an
//! error that contains the case's expectations (file, line, what was expected), never panic, and
//! leave the state, its journal and the lock exactly as they were.
//!
//! Each test runs every case of one kind and reports every failing case at once.

use std::fs;
use std::path::{Path, PathBuf};

use crate::harness::{Out, Spec};

/// The corpus directory.
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

/// What a case's `.expect` file says: the commands to run (when not the kind's default), the
/// environment to change, and the substrings stderr must contain.
#[derive(Debug, Default)]
struct Expect {
    commands: Vec<Vec<String>>,
    env: Vec<(String, String)>,
    needles: Vec<String>,
}

fn read_expect(path: &Path) -> Expect {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut expect = Expect::default();
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(args) = line.strip_prefix("args:") {
            expect.commands.push(words(args));
        } else if let Some(setting) = line.strip_prefix("env:") {
            let (key, value) = setting.trim().split_once('=').expect("env: KEY=VALUE");
            expect.env.push((key.to_string(), value.to_string()));
        } else {
            expect.needles.push(line.to_string());
        }
    }
    assert!(
        !expect.needles.is_empty(),
        "{} expects nothing",
        path.display()
    );
    expect
}

/// One case: its name, its data files (none for cases made only of arguments), its expectations.
struct Case {
    name: String,
    data: Vec<PathBuf>,
    expect: Expect,
}

/// The cases of one kind: every `NAME.expect` in `tests/corpus/KIND`, with the files and
/// directories named `NAME` or `NAME.*` beside it. Names starting with `_` are shared fixtures.
fn cases(kind: &str) -> Vec<Case> {
    let dir = corpus().join(kind);
    let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for path in &entries {
        if path.extension().is_none_or(|x| x != "expect") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_string();
        let data = entries
            .iter()
            .filter(|p| p.extension().is_none_or(|x| x != "expect"))
            .filter(|p| {
                let file = p.file_name().and_then(|s| s.to_str()).unwrap_or("");
                file == name
                    || file
                        .strip_prefix(name.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            })
            .cloned()
            .collect();
        out.push(Case {
            name,
            data,
            expect: read_expect(path),
        });
    }
    out
}

/// Run mesh without the harness's panic assertion (a panic is one more failure to report), with
/// environment variables set (or removed, when the value is empty).
fn run(spec: &Spec, args: &[String], env: &[(String, String)]) -> Out {
    let mut command = spec.command(&as_strs(args));
    for (key, value) in env {
        if value.is_empty() {
            command.env_remove(key);
        } else {
            command.env(key, value);
        }
    }
    let output = command.output().expect("run mesh");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

/// Files of a spec directory by path, with their bytes (None when absent).
type Files = Vec<(&'static str, Option<Vec<u8>>)>;

/// The files a failed command must leave as they were.
fn snapshot(spec: &Spec) -> Files {
    [
        ".mesh/state.json",
        ".mesh/state.json.journal",
        ".mesh/test-objects.json",
    ]
    .into_iter()
    .map(|rel| (rel, fs::read(spec.join(rel)).ok()))
    .collect()
}

/// Check one run of a case; returns what is wrong, if anything.
fn check(
    case: &Case,
    args: &[String],
    out: &Out,
    before: &[(&str, Option<Vec<u8>>)],
    spec: &Spec,
) -> Option<String> {
    let mut problems = Vec::new();
    if out.code == 0 {
        problems.push("exited 0".to_string());
    }
    if out.all().contains("panicked") || out.code == 101 {
        problems.push("panicked".to_string());
    }
    for needle in &case.expect.needles {
        if !out.stderr.contains(needle.as_str()) {
            problems.push(format!("stderr lacks {needle:?}"));
        }
    }
    for (after, (rel, bytes)) in snapshot(spec).iter().zip(before) {
        if after.1 != *bytes {
            problems.push(format!("{rel} changed"));
        }
    }
    if spec.locked() {
        problems.push("the lock was left behind".to_string());
    }
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "{} (mesh {}): {}\n{}",
        case.name,
        args.join(" "),
        problems.join("; "),
        out.dump()
    ))
}

/// Copy a case's data file into the spec directory under its own name, or a case's directory
/// as the spec directory's contents.
fn copy_in(spec: &Spec, from: &Path) {
    if from.is_dir() {
        copy_tree(from, spec.path());
        return;
    }
    let name = from.file_name().expect("file name");
    copy_tree(from, &spec.path().join(name));
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        fs::create_dir_all(to).expect("mkdir");
        for entry in fs::read_dir(from).expect("read dir") {
            let entry = entry.expect("entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// A fixture file of a kind (`tests/corpus/KIND/_spec/NAME`).
fn fixture(kind: &str, name: &str) -> String {
    let path = corpus().join(kind).join("_spec").join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The state a good apply of `main` leaves (state file and test store), to start cases from.
fn applied_state(main: &str) -> Files {
    let spec = Spec::with_main(main);
    spec.apply(&[]);
    snapshot(&spec)
}

fn restore(spec: &Spec, files: &[(&str, Option<Vec<u8>>)]) {
    for (rel, bytes) in files {
        if let Some(bytes) = bytes {
            fs::create_dir_all(spec.join(".mesh")).expect("mkdir .mesh");
            fs::write(spec.join(rel), bytes).expect("write fixture");
        }
    }
}

/// Run every case, each command on a fresh copy of its starting point; panic listing every
/// failure. Returns how many cases ran.
fn run_all(
    kind: &str,
    default_args: &[&str],
    prepare: impl Fn(&Case, &Spec) -> Vec<String>,
) -> usize {
    run_all_with_env(kind, default_args, &[], prepare)
}

/// [`run_all`] with environment variables for every case (a case's `env:` lines come after).
fn run_all_with_env(
    kind: &str,
    default_args: &[&str],
    base_env: &[(&str, &str)],
    prepare: impl Fn(&Case, &Spec) -> Vec<String>,
) -> usize {
    let cases = cases(kind);
    let mut failures = Vec::new();
    for case in &cases {
        let commands: Vec<Vec<String>> = if case.expect.commands.is_empty() {
            default_args.iter().map(|a| words(a)).collect()
        } else {
            case.expect.commands.clone()
        };
        let mut env: Vec<(String, String)> = base_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(case.expect.env.iter().cloned());
        for base in commands {
            let spec = Spec::new();
            let mut args = base;
            args.extend(prepare(case, &spec));
            let before = snapshot(&spec);
            let out = run(&spec, &args, &env);
            failures.extend(check(case, &args, &out, &before, &spec));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the {kind} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    cases.len()
}

/// A spec that applies cleanly, for the spec cases to start from a real state.
const BASE_SPEC: &str = "resource \"mesh_data\" \"base\" {\n  input = \"kept\"\n}\n";

#[test]
fn malformed_specs() {
    let state = applied_state(BASE_SPEC);
    run_all("specs", &["plan", "apply -auto-approve"], |case, spec| {
        restore(spec, &state);
        for data in &case.data {
            copy_in(spec, data);
        }
        Vec::new()
    });
}

#[test]
fn malformed_variable_values() {
    let main = fixture("vars", "main.hcl");
    let state = applied_state(&main);
    run_all("vars", &["plan", "apply -auto-approve"], |case, spec| {
        spec.write("main.hcl", &main);
        restore(spec, &state);
        let mut extra = Vec::new();
        for data in &case.data {
            copy_in(spec, data);
            if case.expect.commands.is_empty() {
                extra.push("-var-file".to_string());
                extra.push(data.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
        extra
    });
}

#[test]
fn malformed_states_and_journals() {
    let main = fixture("state", "main.hcl");
    run_all("state", &["plan", "apply -auto-approve"], |case, spec| {
        spec.write("main.hcl", &main);
        fs::create_dir_all(spec.join(".mesh")).expect("mkdir .mesh");
        for data in &case.data {
            let target = match data.extension().and_then(|x| x.to_str()) {
                Some("journal") => ".mesh/state.json.journal",
                _ => ".mesh/state.json",
            };
            fs::copy(data, spec.join(target)).expect("copy state");
        }
        Vec::new()
    });
}

/// Placeholders in plan cases, replaced by the values of a real plan of the fixture spec, so that
/// a tampered plan gets past the staleness checks to the part it tampers with.
fn real_plan_values() -> (Files, [(String, String); 3]) {
    let spec = Spec::with_main(&fixture("plans", "main.hcl"));
    spec.apply(&[]);
    spec.ok(&["plan", "-out", "real.json"]);
    let plan: serde_json::Value = serde_json::from_str(&spec.read("real.json")).expect("plan");
    let values = [
        (
            "@LINEAGE@".to_string(),
            plan["prior_state"]["lineage"]
                .as_str()
                .expect("lineage")
                .to_string(),
        ),
        (
            "@SERIAL@".to_string(),
            plan["prior_state"]["serial"].to_string(),
        ),
        (
            "@DIGEST@".to_string(),
            plan["config_digest"].as_str().expect("digest").to_string(),
        ),
    ];
    (snapshot(&spec), values)
}

#[test]
fn malformed_and_tampered_saved_plans() {
    let main = fixture("plans", "main.hcl");
    let (state, values) = real_plan_values();
    run_all("plans", &["apply", "show"], |case, spec| {
        spec.write("main.hcl", &main);
        restore(spec, &state);
        let mut extra = Vec::new();
        for data in &case.data {
            let mut bytes = fs::read(data).expect("read plan case");
            if let Ok(text) = String::from_utf8(bytes.clone()) {
                let replaced = values
                    .iter()
                    .fold(text, |t, (from, to)| t.replace(from.as_str(), to));
                bytes = replaced.into_bytes();
            }
            let name = data.file_name().unwrap().to_string_lossy().into_owned();
            fs::write(spec.join(&name), bytes).expect("write plan case");
            extra.push(name);
        }
        extra
    });
}

#[test]
fn malformed_kubeconfigs() {
    let main = fixture("kubeconfigs", "main.hcl");
    let state = fixture("kubeconfigs", "state.json");
    run_all(
        "kubeconfigs",
        &["plan", "apply -auto-approve"],
        |case, spec| {
            // A case without a file names a kubeconfig that does not exist.
            let name = match case.data.first() {
                Some(data) => data.file_name().unwrap().to_string_lossy().into_owned(),
                None => format!("{}.yaml", case.name),
            };
            spec.write("main.hcl", &main.replace("@KUBECONFIG@", &name));
            spec.write(".mesh/state.json", &state.replace("@KUBECONFIG@", &name));
            for data in &case.data {
                copy_in(spec, data);
            }
            Vec::new()
        },
    );
}

/// The passphrase the encrypted cases were written with.
const CORPUS_PASSPHRASE: &str = "corpus-passphrase";

#[test]
fn truncated_and_tampered_encrypted_files() {
    let main = fixture("encrypted", "main.hcl");
    let state = fs::read(corpus().join("encrypted/_spec/state.json")).expect("state fixture");
    let env = [("MESH_STATE_PASSPHRASE", CORPUS_PASSPHRASE)];
    run_all_with_env(
        "encrypted",
        &["plan", "apply -auto-approve"],
        &env,
        |case, spec| {
            spec.write("main.hcl", &main);
            fs::create_dir_all(spec.join(".mesh")).expect("mkdir .mesh");
            fs::write(spec.join(".mesh/state.json"), &state).expect("write state");
            let mut extra = Vec::new();
            for data in &case.data {
                let name = data.file_name().unwrap().to_string_lossy().into_owned();
                match data.extension().and_then(|x| x.to_str()) {
                    Some("state") => {
                        fs::copy(data, spec.join(".mesh/state.json")).expect("copy state");
                    }
                    Some("journal") => {
                        let journal = spec.join(".mesh/state.json.journal");
                        fs::copy(data, journal).expect("copy journal");
                    }
                    _ => {
                        copy_in(spec, data);
                        extra.push(name);
                    }
                }
            }
            extra
        },
    );
}

#[test]
fn the_corpus_has_at_least_a_hundred_cases() {
    let kinds = [
        "specs",
        "vars",
        "state",
        "plans",
        "kubeconfigs",
        "encrypted",
    ];
    let total: usize = kinds.iter().map(|k| cases(k).len()).sum();
    assert!(total >= 100, "only {total} cases");
    for kind in kinds {
        for case in cases(kind) {
            let kubeconfig_missing = kind == "kubeconfigs";
            assert!(
                !case.data.is_empty() || !case.expect.commands.is_empty() || kubeconfig_missing,
                "{kind}/{} has neither data nor args",
                case.name
            );
        }
    }
}
