//! The embedded local cloud. When the spec or the state ([`note_state`]) uses `azure_*`
//! resources and the azure provider is not configured for real Azure (no `subscription_id` in
//! its block, no AZURE_SUBSCRIPTION_ID), mesh starts the local cloud in-process on a loopback port, with its
//! data under `.mesh/local-cloud/`, and points the provider at it. It lives until the command
//! ends ([`shutdown`]). Which target a command uses is printed (on stderr) when providers are
//! configured, at the start of every plan and apply.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use mesh_emulator::{Faults, LocalCloud, LocalCloudOptions, Throttle, TlsConfig};
use mesh_engine::config::Module;
use mesh_engine::value::Value;
use mesh_state::StateDocument;

/// Where the embedded cloud keeps its data, relative to the spec directory.
pub const DATA_DIR: &str = ".mesh/local-cloud";

/// The default time factor: an AKS cluster's ten minutes take six seconds.
pub const DEFAULT_TIME_FACTOR: f64 = 0.01;

static EMBEDDED: Mutex<Option<LocalCloud>> = Mutex::new(None);

/// The time factor from MESH_LOCAL_TIME_FACTOR (default 0.01).
pub fn time_factor() -> Result<f64, String> {
    match std::env::var("MESH_LOCAL_TIME_FACTOR") {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(|| format!("MESH_LOCAL_TIME_FACTOR must be a number >= 0, not \"{text}\"")),
        _ => Ok(DEFAULT_TIME_FACTOR),
    }
}

/// Faults to inject from MESH_LOCAL_FAULTS (JSON, e.g. `{"throttle": 0.2, "seed": 1}`), for
/// trying mesh's retries; none by default.
pub fn faults() -> Result<Faults, String> {
    match std::env::var("MESH_LOCAL_FAULTS") {
        Ok(text) if !text.trim().is_empty() => serde_json::from_str(&text)
            .map_err(|e| format!("MESH_LOCAL_FAULTS is not valid fault settings: {e}")),
        _ => Ok(Faults::default()),
    }
}

/// Does the module tree declare any Azure resource?
fn spec_uses_azure(module: &Module) -> bool {
    module
        .resources
        .values()
        .any(|r| r.resource_type.starts_with("azure_"))
        || module
            .module_calls
            .values()
            .any(|c| spec_uses_azure(&c.module))
}

/// Whether the state the command works on holds Azure resources, as the workspace loaded it
/// (through the spec's backend and encryption): see [`note_state`].
static STATE_USES_AZURE: AtomicBool = AtomicBool::new(false);

/// Record what the command's state holds, as the workspace loads it
/// ([`crate::workspace::Workspace::load_state`]): a state with Azure resources needs the local
/// cloud even when the spec no longer declares any (to refresh and delete them). Commands load
/// their state before they configure providers.
pub fn note_state(doc: Option<&StateDocument>) {
    let uses_azure = doc.is_some_and(|doc| {
        doc.resources
            .iter()
            .any(|r| r.resource_type.starts_with("azure_"))
    });
    STATE_USES_AZURE.store(uses_azure, Ordering::SeqCst);
}

fn set(config: &mut Value, name: &str, value: &str) {
    if let Value::Map(map) = config {
        map.insert(name.to_string(), Value::String(value.to_string()));
    }
}

/// The azure provider's configuration for this command: unchanged for real Azure (the target is
/// printed), or pointed at the local cloud, started here if needed.
pub async fn azure_config(root: &Module, mut config: Value) -> Result<Value, String> {
    let settings = mesh_provider_azure::auth::Settings::from_config(&config);
    let uses_azure = spec_uses_azure(root) || STATE_USES_AZURE.load(Ordering::SeqCst);
    if let Some(subscription) = &settings.subscription_id {
        if uses_azure {
            let endpoint = settings
                .endpoint
                .as_deref()
                .unwrap_or(mesh_provider_azure::AZURE_PUBLIC_ENDPOINT);
            eprintln!("Azure: subscription {subscription} at {endpoint}");
        }
        return Ok(config);
    }
    if let Some(endpoint) = &settings.endpoint {
        // An endpoint without a subscription: a local cloud served elsewhere (`mesh local serve`).
        set(&mut config, "subscription_id", LocalCloud::SUBSCRIPTION_ID);
        if matches!(
            config.get("auth").map(|v| v.unmark().0),
            None | Some(Value::Null)
        ) {
            set(&mut config, "auth", "none");
        }
        if uses_azure {
            eprintln!("Azure: local cloud at {endpoint}");
        }
        return Ok(config);
    }
    if !uses_azure {
        return Ok(config);
    }
    let url = start_embedded().await?;
    set(&mut config, "endpoint", &url);
    set(&mut config, "subscription_id", LocalCloud::SUBSCRIPTION_ID);
    set(&mut config, "auth", "none");
    let served = EMBEDDED.lock().map(|e| e.is_none()).unwrap_or(false);
    let by = if served {
        "served by mesh local serve, "
    } else {
        ""
    };
    eprintln!("Azure: local cloud at {url} ({by}data in {DATA_DIR})");
    Ok(config)
}

/// Start the embedded cloud (once per process), or use the `mesh local serve` running on the
/// same data; the plain HTTP URL the azure provider uses. The cloud serves HTTPS too (with the
/// CA in the data directory): the kubeconfigs of its AKS clusters name its HTTPS URL and carry
/// the CA.
async fn start_embedded() -> Result<String, String> {
    if let Some(cloud) = EMBEDDED.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Ok(cloud.http_url());
    }
    let dir = std::env::current_dir()
        .map_err(|e| format!("cannot determine the current directory: {e}"))?;
    if let Some(url) = running_server(&data_dir(&dir, None)) {
        return Ok(url);
    }
    let data = data_dir(&dir, None);
    let options = LocalCloudOptions {
        tls: Some(TlsConfig::in_data_dir(&data)),
        data_dir: Some(data),
        time_factor: time_factor()?,
        faults: faults()?,
        throttle: Some(Throttle::default()),
    };
    let cloud = LocalCloud::start(options)
        .await
        .map_err(|e| format!("cannot start the local cloud: {e}"))?;
    let url = cloud.http_url();
    if let Some(old) = cloud.moved_from() {
        eprintln!("Note: the local cloud's port was taken ({old}); it now serves on {url}. URLs it handed out before (Key Vault URIs) changed.");
    }
    *EMBEDDED.lock().unwrap_or_else(|e| e.into_inner()) = Some(cloud);
    Ok(url)
}

/// Make sure the local cloud of the current directory is being served (started here, once per
/// process, unless `mesh local serve` serves it); its plain HTTP URL. State encrypted with a
/// local cloud Key Vault key needs it before any provider is configured.
pub async fn ensure_running() -> Result<String, String> {
    start_embedded().await
}

/// The data directory: `given` (relative to `base` unless absolute) or `base/.mesh/local-cloud`.
pub fn data_dir(base: &Path, given: Option<&Path>) -> PathBuf {
    match given {
        Some(p) => base.join(p),
        None => base.join(DATA_DIR),
    }
}

/// The file `mesh local serve` announces itself in, inside the data directory.
const SERVER_FILE: &str = "server.json";

/// Announce a standalone server on `data_dir` (so that mesh commands use it rather than
/// starting their own cloud on the same data).
pub fn announce_server(data_dir: &Path, url: &str) -> std::io::Result<()> {
    let text = serde_json::json!({"url": url, "pid": std::process::id()}).to_string();
    std::fs::write(data_dir.join(SERVER_FILE), text)
}

/// Withdraw the announcement.
pub fn withdraw_server(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join(SERVER_FILE));
}

/// The URL of a standalone server announced on `data_dir` that accepts connections.
pub fn running_server(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(SERVER_FILE)).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
    let url = doc.get("url")?.as_str()?.to_string();
    let addr: std::net::SocketAddr = url.strip_prefix("http://")?.parse().ok()?;
    if !addr.ip().is_loopback() {
        return None;
    }
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300)).ok()?;
    Some(url)
}

/// Stop the embedded cloud, if this command started one.
pub async fn shutdown() {
    let cloud = EMBEDDED.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(cloud) = cloud {
        cloud.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_defaults_under_dot_mesh() {
        let base = Path::new("/work/spec");
        assert_eq!(
            data_dir(base, None),
            PathBuf::from("/work/spec/.mesh/local-cloud")
        );
        assert_eq!(
            data_dir(base, Some(Path::new("/tmp/x"))),
            PathBuf::from("/tmp/x")
        );
        assert_eq!(
            data_dir(base, Some(Path::new("cloud"))),
            PathBuf::from("/work/spec/cloud")
        );
    }
}
