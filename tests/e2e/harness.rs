//! Test harness: a fresh spec directory per test, and the built `mesh` binary.
//!
//! Every run uses `-C <spec dir>`, `NO_COLOR=1`, a closed stdin (so mesh never sees a TTY)
//! and an environment cleared of `MESH_*` variables, so tests do not depend on the shell
//! that started them.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tempfile::TempDir;

/// The `mesh` binary under test.
pub const MESH: &str = env!("CARGO_BIN_EXE_mesh");

/// How long background helpers wait for something to happen before giving up. Generous:
/// the machine may be loaded.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The result of one run: exit code, stdout, stderr.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// stdout followed by stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// A description for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Assert that stdout contains `needle`.
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// Assert that stderr contains `needle`.
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// Assert that neither stdout nor stderr contains `needle`.
    pub fn lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.all().contains(needle),
            "output unexpectedly contains {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// Lines of stdout.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The index of the first stdout line containing `needle` (panics when there is none).
    pub fn line_index(&self, needle: &str) -> usize {
        self.stdout
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no stdout line contains {needle:?}\n{}", self.dump()))
    }
}

/// A spec directory in a fresh temporary directory.
pub struct Spec {
    dir: TempDir,
    /// The spec directory: the temp dir itself, or a directory inside it (scenarios keep their
    /// `../modules` beside them).
    work: PathBuf,
}

impl Default for Spec {
    fn default() -> Self {
        Spec::new()
    }
}

impl Spec {
    /// An empty spec directory.
    pub fn new() -> Spec {
        let dir = tempfile::Builder::new()
            .prefix("mesh-e2e-")
            .tempdir()
            .expect("create a temporary directory");
        let work = dir.path().to_path_buf();
        Spec { dir, work }
    }

    /// A spec directory whose `main.hcl` is `text`.
    pub fn with_main(text: &str) -> Spec {
        let spec = Spec::new();
        spec.write("main.hcl", text);
        spec
    }

    /// The spec directory.
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// A path inside the spec directory.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.work.join(rel)
    }

    /// Write a file (creating its directories).
    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create directories");
        }
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self
    }

    /// Read a file of the spec directory.
    pub fn read(&self, rel: &str) -> String {
        let path = self.join(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Whether a file of the spec directory exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.join(rel).exists()
    }

    /// A `mesh -C <dir> ARGS` command with a clean environment, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(MESH);
        cmd.arg("-C").arg(self.path()).args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MESH_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("NO_COLOR", "1").stdin(Stdio::null());
        cmd
    }

    /// Run `mesh ARGS` to completion: (code, stdout, stderr) as an [`Out`].
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_env(args, &[])
    }

    /// Run `mesh ARGS` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("run mesh");
        let out = Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert!(
            !out.all().contains("panicked"),
            "mesh {args:?} panicked\n{}",
            out.dump()
        );
        out
    }

    /// Run `mesh ARGS` and assert exit code 0.
    pub fn ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert_eq!(out.code, 0, "mesh {args:?} failed\n{}", out.dump());
        out
    }

    /// Run `mesh ARGS` and assert a non-zero exit code.
    pub fn fails(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert_ne!(
            out.code,
            0,
            "mesh {args:?} unexpectedly succeeded\n{}",
            out.dump()
        );
        out
    }

    /// `mesh apply -auto-approve ARGS`, asserting success.
    pub fn apply(&self, args: &[&str]) -> Out {
        let mut all = vec!["apply", "-auto-approve"];
        all.extend_from_slice(args);
        self.ok(&all)
    }

    /// Start `mesh ARGS` in the background with stdout and stderr going to files
    /// `<name>.out` and `<name>.err` in a log directory outside the spec directory.
    pub fn spawn(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Background {
        let logs = self.dir.path().join(".e2e-logs");
        fs::create_dir_all(&logs).expect("create log directory");
        let stdout = logs.join(format!("{name}.out"));
        let stderr = logs.join(format!("{name}.err"));
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(fs::File::create(&stdout).expect("create stdout log"));
        cmd.stderr(fs::File::create(&stderr).expect("create stderr log"));
        let child = cmd.spawn().expect("spawn mesh");
        Background {
            child,
            stdout,
            stderr,
        }
    }

    /// The state document, if there is one.
    pub fn state(&self) -> Option<Json> {
        let path = self.join(".mesh/state.json");
        let text = fs::read_to_string(path).ok()?;
        Some(serde_json::from_str(&text).expect("state.json is JSON"))
    }

    /// The raw bytes of state.json (None when absent).
    pub fn state_bytes(&self) -> Option<Vec<u8>> {
        fs::read(self.join(".mesh/state.json")).ok()
    }

    /// Every resource instance address in state, sorted.
    pub fn addresses(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .state()
            .and_then(|s| s.get("resources").cloned())
            .and_then(|r| r.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.get("address").and_then(Json::as_str).map(String::from))
            .collect();
        out.sort();
        out
    }

    /// The attributes of one instance in state.
    pub fn attrs(&self, address: &str) -> Option<Json> {
        let state = self.state()?;
        state["resources"]
            .as_array()?
            .iter()
            .find(|r| r["address"] == address)
            .map(|r| r["attributes"].clone())
    }

    /// One string attribute of an instance in state (panics when absent).
    pub fn attr(&self, address: &str, name: &str) -> String {
        let attrs = self
            .attrs(address)
            .unwrap_or_else(|| panic!("{address} is not in state: {:?}", self.addresses()));
        attrs[name]
            .as_str()
            .unwrap_or_else(|| panic!("{address}.{name} is not a string: {attrs}"))
            .to_string()
    }

    /// The test provider's store (the fake remote API), `{}` when absent.
    pub fn store(&self) -> serde_json::Map<String, Json> {
        match fs::read_to_string(self.join(".mesh/test-objects.json")) {
            Ok(text) => match serde_json::from_str(&text).expect("store is JSON") {
                Json::Object(map) => map,
                other => panic!("store is not an object: {other}"),
            },
            Err(_) => serde_json::Map::new(),
        }
    }

    /// Overwrite the test provider's store (to simulate drift).
    pub fn set_store(&self, objects: &serde_json::Map<String, Json>) {
        let text = serde_json::to_string_pretty(&Json::Object(objects.clone())).unwrap();
        self.write(".mesh/test-objects.json", &text);
    }

    /// The lock file path.
    pub fn lock_path(&self) -> PathBuf {
        self.join(".mesh/state.json.lock")
    }

    /// Whether the state is locked (the lock file exists).
    pub fn locked(&self) -> bool {
        self.lock_path().exists()
    }
}

/// A mesh process running in the background.
pub struct Background {
    pub child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Background {
    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Wait until its stdout contains `needle` (panics after [`PATIENCE`] or if it exits first).
    pub fn wait_for_stdout(&mut self, needle: &str) {
        let started = Instant::now();
        loop {
            if self.stdout().contains(needle) {
                return;
            }
            if !self.running() && !self.stdout().contains(needle) {
                panic!(
                    "mesh exited before printing {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            assert!(
                started.elapsed() < PATIENCE,
                "timed out waiting for {needle:?}\n{}",
                self.stdout()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send a signal with the `kill` command (no libc in tests).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Wait for it to exit (killing it after [`PATIENCE`]).
    pub fn finish(mut self) -> Out {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if started.elapsed() > PATIENCE {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "background mesh did not finish\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = Out {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout(),
            stderr: self.stderr(),
        };
        assert!(
            !out.all().contains("panicked"),
            "background mesh panicked\n{}",
            out.dump()
        );
        out
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Never leave a mesh behind when a test fails half-way.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Poll `cond` every 20 ms until it holds (panics after [`PATIENCE`]).
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The "Plan: ..." summary line of a human plan.
pub fn plan_line(add: usize, change: usize, destroy: usize) -> String {
    format!("Plan: {add} to add, {change} to change, {destroy} to destroy.")
}

/// The "Apply complete! ..." line.
pub fn apply_line(add: usize, change: usize, destroy: usize) -> String {
    format!("Apply complete! Resources: {add} added, {change} changed, {destroy} destroyed.")
}

/// Assert a diagnostic points at `file` line `line` ("on main.hcl line 2" or "main.hcl:2").
pub fn assert_points_at(out: &Out, file: &str, line: usize) {
    let human = format!("{file} line {line}");
    let short = format!("{file}:{line}");
    assert!(
        out.stderr.contains(&human) || out.stderr.contains(&short),
        "stderr does not point at {file} line {line}\n{}",
        out.dump()
    );
}

/// A copy of specs/multicluster-istio (the seed topology) in a fresh directory.
pub fn seed_spec() -> Spec {
    scenario_spec("multicluster-istio")
}

/// How many resources the seed topology (specs/multicluster-istio) has: Azure, PKI, Kubernetes
/// and Istio.
pub const SEED_RESOURCES: usize = 78;

/// A copy of `specs/<name>` with `specs/modules` beside it, as in the repository.
pub fn scenario_spec(name: &str) -> Spec {
    let mut spec = Spec::new();
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    copy_dir(&specs.join(name), &spec.dir.path().join(name));
    copy_dir(&specs.join("modules"), &spec.dir.path().join("modules"));
    spec.work = spec.dir.path().join(name);
    spec
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read spec dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == ".mesh" {
            continue;
        }
        let target = to.join(&name);
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Run mesh against the embedded local cloud, never a real subscription, with simulated
/// provisioning a thousand times faster than Azure's.
pub fn run_local(spec: &Spec, args: &[&str]) -> Out {
    let mut cmd: Command = spec.command(args);
    for var in [
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("MESH_LOCAL_TIME_FACTOR", "0.001");
    let output = cmd.output().expect("run mesh");
    let out = Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!out.all().contains("panicked"), "{}", out.dump());
    out
}

/// [`run_local`], asserting success.
pub fn ok_local(spec: &Spec, args: &[&str]) -> Out {
    let out = run_local(spec, args);
    assert_eq!(out.code, 0, "mesh {args:?} failed\n{}", out.dump());
    out
}
