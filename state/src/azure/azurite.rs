//! Azurite, the Azure Storage emulator, for tests: started once per test process through the
//! project's own script (scripts/azurite.sh installs it with npm on first use). The state
//! crate's backend tests and the end-to-end tests both include this file, so there is one way
//! to get an emulator.

use std::process::Command;
use std::sync::OnceLock;

/// The endpoint of the running emulator; `None` (with a note on stderr) without node and npm.
pub(crate) fn endpoint() -> Option<&'static str> {
    static ENDPOINT: OnceLock<Option<String>> = OnceLock::new();
    let endpoint = ENDPOINT.get_or_init(|| {
        let has = |tool: &str| {
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !has("node") || !has("npm") {
            eprintln!("SKIPPED: node and npm are needed to run Azurite (scripts/azurite.sh)");
            return None;
        }
        // Both including crates sit one level below the repository root.
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/azurite.sh");
        let output = Command::new("bash")
            .args([script, "start"])
            .output()
            .expect("run scripts/azurite.sh");
        assert!(
            output.status.success(),
            "scripts/azurite.sh start failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
    });
    endpoint.as_deref()
}
