//! Debug logs hold no secret (issue 6): scenarios run with `MESH_LOG` and `MESH_LOG_PATH`, and
//! every byte mesh wrote — stdout, stderr, the log file and the files under `.mesh` — is
//! searched for every secret the run made or handled: values at sensitive paths of the state,
//! private keys, service-account tokens and the clusters' kubeconfig tokens, each as it is,
//! base64-encoded and JSON-escaped (a PEM key also line by line, whatever joins its lines).
//!
//! The state is encrypted (`mesh { encryption {} }`) so that its files are part of the search:
//! in clear, the state legitimately holds every secret. The local cloud's data directory is
//! left out for the same reason: it is "Azure", and Azure holds the secrets.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value as Json;

use crate::harness::{scenario_spec, Out, Spec};

const PASSPHRASE: &str = "debug-logs passphrase, never logged";
const ENCRYPTION: &str = "mesh {\n  encryption {}\n}\n";
/// The local cloud's data directory, inside the spec directory.
const CLOUD_DIR: &str = ".mesh/local-cloud";

/// Everything one scenario run wrote, by where it was written.
#[derive(Default)]
struct Written(Vec<(String, Vec<u8>)>);

impl Written {
    fn output(&mut self, what: &str, out: &Out) {
        self.0
            .push((format!("{what}: stdout"), out.stdout.clone().into_bytes()));
        self.0
            .push((format!("{what}: stderr"), out.stderr.clone().into_bytes()));
    }

    /// Every file under `.mesh` but the local cloud's data, as it is now.
    fn mesh_files(&mut self, spec: &Spec, when: &str) {
        let mut files = Vec::new();
        collect_files(&spec.join(".mesh"), &spec.join(CLOUD_DIR), &mut files);
        for path in files {
            let bytes = fs::read(&path).unwrap_or_default();
            self.0.push((format!("{when}: {}", path.display()), bytes));
        }
    }

    fn file(&mut self, what: &str, path: &Path) {
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        self.0.push((what.to_string(), bytes));
    }
}

fn collect_files(dir: &Path, skip: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == skip {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, skip, out);
        } else {
            out.push(path);
        }
    }
}

/// Run mesh on the local cloud (simulated time a thousand times faster) with logging on.
fn logged(spec: &Spec, level: &str, log: &Path, args: &[&str]) -> Out {
    let mut cmd = spec.command(args);
    for var in [
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(log_env(level, log));
    let output = cmd.output().expect("run mesh");
    let out = Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(out.code, 0, "mesh {args:?} failed\n{}", out.dump());
    out
}

fn log_env<'a>(level: &'a str, log: &'a Path) -> [(&'a str, &'a str); 4] {
    [
        ("MESH_LOCAL_TIME_FACTOR", "0.001"),
        ("MESH_LOG", level),
        ("MESH_LOG_PATH", log.to_str().expect("a UTF-8 log path")),
        ("MESH_STATE_PASSPHRASE", PASSPHRASE),
    ]
}

/// The secrets to look for, each with the forms it could be written in.
#[derive(Default)]
struct Secrets(BTreeSet<String>);

impl Secrets {
    fn add(&mut self, secret: &str) {
        if secret.trim().len() >= 8 {
            self.0.insert(secret.to_string());
        }
    }

    /// The private keys and service-account tokens in `text`, and in `text` base64-decoded.
    fn add_embedded(&mut self, text: &str) -> usize {
        let before = self.0.len();
        let decoded = STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        for t in std::iter::once(text).chain(decoded.as_deref()) {
            private_keys(t).into_iter().for_each(|k| self.add(&k));
            tokens(t).into_iter().for_each(|k| self.add(&k));
        }
        self.0.len() - before
    }

    /// Each secret's forms: itself, base64, JSON-escaped; a PEM block's body lines alone.
    fn needles(&self) -> Vec<(String, String)> {
        let mut needles = Vec::new();
        for secret in &self.0 {
            let name: String = secret.chars().take(24).collect();
            let mut forms = vec![secret.clone(), STANDARD.encode(secret)];
            let escaped = serde_json::to_string(secret).expect("json");
            forms.push(escaped[1..escaped.len() - 1].to_string());
            if secret.starts_with("-----BEGIN") {
                forms.extend(secret.lines().filter(|l| l.len() >= 40).map(str::to_string));
            }
            needles.extend(forms.into_iter().map(|f| (name.clone(), f)));
        }
        needles
    }

    /// Where any secret appears in `written`: (where, which secret).
    fn leaks(&self, written: &Written) -> Vec<String> {
        let needles = self.needles();
        let mut found = Vec::new();
        for (what, bytes) in &written.0 {
            let text = String::from_utf8_lossy(bytes);
            for (name, needle) in &needles {
                if text.contains(needle.as_str()) {
                    found.push(format!("{what}: {name}..."));
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }
}

/// The PEM private key blocks of a text.
fn private_keys(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let Some(end) = block.find("-----END ") else {
            break;
        };
        let Some(close) = block[end + 9..].find("-----") else {
            break;
        };
        let whole = &block[..end + 9 + close + 5];
        if whole
            .lines()
            .next()
            .is_some_and(|l| l.contains("PRIVATE KEY"))
        {
            keys.push(whole.to_string());
        }
        rest = &block[end + 9 + close + 5..];
    }
    keys
}

/// The JWTs (service-account tokens) of a text: three base64url segments, the first `eyJ`.
fn tokens(text: &str) -> Vec<String> {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    text.split(|c: char| !is_token_char(c))
        .filter(|w| w.starts_with("eyJ") && w.split('.').count() == 3 && w.len() > 40)
        .map(str::to_string)
        .collect()
}

/// Every string in a JSON value, with the path to it.
fn strings<'a>(value: &'a Json, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, &'a str)>) {
    match value {
        Json::String(s) => out.push((path.clone(), s)),
        Json::Array(items) => items.iter().enumerate().for_each(|(i, v)| {
            path.push(i.to_string());
            strings(v, path, out);
            path.pop();
        }),
        Json::Object(map) => map.iter().for_each(|(k, v)| {
            path.push(k.clone());
            strings(v, path, out);
            path.pop();
        }),
        _ => {}
    }
}

fn all_strings(value: &Json) -> Vec<(Vec<String>, &str)> {
    let mut out = Vec::new();
    strings(value, &mut Vec::new(), &mut out);
    out
}

/// The values at the state's sensitive paths, less what the state also holds in the open
/// (a root certificate is sensitive as an input of an intermediate, public as the root's own
/// `cert_pem`) and less certificates: those are public by nature.
fn state_secrets(state: &Json, secrets: &mut Secrets) -> usize {
    let before = secrets.0.len();
    let instances = state["resources"].as_array().cloned().unwrap_or_default();
    let mut sensitive = Vec::new();
    let mut public = BTreeSet::new();
    for instance in &instances {
        let paths: Vec<Vec<String>> = instance["sensitive_paths"]
            .as_array()
            .map(|ps| ps.iter().map(path_steps).collect())
            .unwrap_or_default();
        for (path, s) in all_strings(&instance["attributes"]) {
            if paths.iter().any(|p| path.starts_with(p)) {
                sensitive.push(s.to_string());
            } else {
                public.insert(s.to_string());
            }
        }
    }
    for s in sensitive.iter().filter(|s| !public.contains(*s)) {
        let decoded = STANDARD
            .decode(s.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let pem = decoded.as_deref().unwrap_or(s);
        if pem.contains("-----BEGIN") && private_keys(pem).is_empty() {
            continue;
        }
        secrets.add(s);
        secrets.add_embedded(s);
    }
    secrets.0.len() - before
}

fn path_steps(path: &Json) -> Vec<String> {
    path.as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Service-account tokens, the clusters' signing keys and every private key the local cloud
/// holds (Key Vault values, Kubernetes Secrets, its own TLS CA key).
fn cloud_secrets(spec: &Spec, secrets: &mut Secrets) -> (usize, usize) {
    let text = spec.read(&format!("{CLOUD_DIR}/cloud.json"));
    let cloud: Json = serde_json::from_str(&text).expect("the local cloud's data is JSON");
    let before = secrets.0.len();
    let mut found_tokens = 0;
    for (path, s) in all_strings(&cloud) {
        if path.last().is_some_and(|k| k == "signing_key") {
            secrets.add(s);
        }
        found_tokens += tokens(s).len();
        secrets.add_embedded(s);
        if let Some(decoded) = STANDARD
            .decode(s.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            found_tokens += tokens(&decoded).len();
        }
    }
    if let Ok(key) = fs::read_to_string(spec.join(&format!("{CLOUD_DIR}/tls/ca-key.pem"))) {
        secrets.add_embedded(&key);
    }
    (secrets.0.len() - before, found_tokens)
}

/// The decrypted state, read with `mesh state pull` (its output is not searched: printing
/// the state with its secrets is what that command is for).
fn pulled_state(spec: &Spec) -> Json {
    let out = spec.run_env(&["state", "pull"], &[("MESH_STATE_PASSPHRASE", PASSPHRASE)]);
    assert_eq!(out.code, 0, "{}", out.dump());
    serde_json::from_str(&out.stdout).expect("the pulled state is JSON")
}

fn cluster_names(state: &Json) -> Vec<String> {
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["type"] == "azure_kubernetes_cluster" && r["mode"] == "managed")
        .filter_map(|r| r["attributes"]["name"].as_str().map(str::to_string))
        .collect()
}

/// The log must say enough for the search to mean something.
fn assert_log_is_useful(log: &str) {
    for needle in [
        "command started command=\"apply\"",
        "command finished exit_code=0",
        "HTTP response plane=\"arm\" method=\"PUT\"",
        "status=200",
        "request_id=",
        "operation started",
        "operation done",
        "state lock acquired",
        "state journal appended",
        "state snapshot saved",
    ] {
        assert!(log.contains(needle), "the log lacks {needle:?}:\n{log}");
    }
}

/// The search finds secrets where they legitimately are: in the local cloud's data, where
/// private keys are JSON-escaped and tokens base64-encoded in Kubernetes Secrets.
fn assert_search_works(spec: &Spec, secrets: &Secrets) {
    let mut cloud = Written::default();
    cloud.file("cloud data", &spec.join(&format!("{CLOUD_DIR}/cloud.json")));
    let found = secrets.leaks(&cloud);
    assert!(found.len() >= 2, "the search finds too little: {found:?}");
}

fn assert_no_leaks(secrets: &Secrets, written: &Written) {
    let leaks = secrets.leaks(written);
    assert!(
        leaks.is_empty(),
        "secrets were written:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn trace_logs_of_the_seed_topology_hold_no_secret() {
    let spec = scenario_spec("multicluster-istio");
    spec.write("encryption.hcl", ENCRYPTION);
    let scratch = tempfile::tempdir().expect("tempdir");
    let log = scratch.path().join("mesh.log");
    // A running `mesh local serve` is the cloud (its log goes to the same file), and lets the
    // clusters' kubeconfigs be exported.
    let mut server = spec.spawn("serve", &["local", "serve"], &log_env("trace", &log));
    server.wait_for_stdout("Press Ctrl-C to stop.");
    let mut written = Written::default();

    let applied = logged(&spec, "trace", &log, &["apply", "-auto-approve"]);
    applied.stderr_has("served by mesh local serve");
    written.output("apply", &applied);
    written.mesh_files(&spec, "after apply");

    let mut secrets = Secrets::default();
    secrets.add(PASSPHRASE);
    let state = pulled_state(&spec);
    assert!(
        state_secrets(&state, &mut secrets) > 0,
        "no sensitive values in state"
    );
    let (from_cloud, found_tokens) = cloud_secrets(&spec, &mut secrets);
    assert!(
        from_cloud > 0 && found_tokens > 0,
        "the local cloud holds no token or key"
    );
    let clusters = cluster_names(&state);
    assert!(!clusters.is_empty(), "no cluster in state");
    for cluster in &clusters {
        let file = scratch.path().join(format!("{cluster}.kubeconfig"));
        let file_arg = file.to_string_lossy().into_owned();
        let exported = spec.run(&["local", "kubeconfig", cluster, "-o", &file_arg]);
        assert_eq!(exported.code, 0, "{}", exported.dump());
        let config = fs::read_to_string(&file).expect("kubeconfig");
        let token = config
            .lines()
            .find_map(|l| l.trim().strip_prefix("token:"))
            .expect("the kubeconfig has a token");
        secrets.add(token.trim());
    }
    assert_search_works(&spec, &secrets);

    let planned = logged(&spec, "trace", &log, &["plan"]);
    written.output("plan", &planned);
    written.mesh_files(&spec, "after plan");
    let destroyed = logged(&spec, "trace", &log, &["destroy", "-auto-approve"]);
    written.output("destroy", &destroyed);
    written.mesh_files(&spec, "after destroy");
    server.signal("INT");
    let served = server.finish();
    assert_eq!(served.code, 0, "{}", served.dump());
    written.output("local serve", &served);
    written.file("the log file", &log);

    let log_text = fs::read_to_string(&log).expect("log");
    assert_log_is_useful(&log_text);
    assert!(
        log_text.contains("command started command=\"local\""),
        "serve logs too"
    );
    assert!(
        log_text.contains("api_version="),
        "trace adds the api-version"
    );
    assert_no_leaks(&secrets, &written);
}

#[test]
fn debug_logs_of_the_multi_network_scenario_hold_no_secret() {
    let spec = scenario_spec("multi-network");
    spec.write("encryption.hcl", ENCRYPTION);
    let scratch = tempfile::tempdir().expect("tempdir");
    let log = scratch.path().join("mesh.log");
    let mut written = Written::default();

    let applied = logged(&spec, "debug", &log, &["apply", "-auto-approve"]);
    written.output("apply", &applied);
    written.mesh_files(&spec, "after apply");
    let mut secrets = Secrets::default();
    secrets.add(PASSPHRASE);
    assert!(
        state_secrets(&pulled_state(&spec), &mut secrets) > 0,
        "no sensitive values"
    );
    let (from_cloud, found_tokens) = cloud_secrets(&spec, &mut secrets);
    assert!(
        from_cloud > 0 && found_tokens > 0,
        "the local cloud holds no token or key"
    );
    assert_search_works(&spec, &secrets);

    let destroyed = logged(&spec, "debug", &log, &["destroy", "-auto-approve"]);
    written.output("destroy", &destroyed);
    written.mesh_files(&spec, "after destroy");
    written.file("the log file", &log);

    let log_text = fs::read_to_string(&log).expect("log");
    assert_log_is_useful(&log_text);
    assert!(
        !log_text.contains("api_version="),
        "the api-version is for trace only"
    );
    assert_no_leaks(&secrets, &written);
}
