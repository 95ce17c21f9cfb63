//! `mesh local serve|status|reset|delete|tag|set|kube-patch|kube-delete|kubeconfig|exec`: the local
//! cloud as a standalone server, its data, changes made to it behind mesh's back (drift, for
//! tests and demos: to ARM resources here, to Kubernetes objects in [`super::local_kube`]), and
//! the kubeconfigs of its AKS clusters' Kubernetes APIs.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use mesh_emulator::{LocalCloud, LocalCloudOptions, Throttle, TlsConfig};
use serde_json::{json, Value as Json};

use super::local_exec;
use super::local_kube::{self, KubeObject, KubePatchType};
use crate::local_cloud::{
    announce_server, data_dir, faults, running_server, time_factor, withdraw_server,
};
use crate::workspace::CommandResult;

/// `mesh local ...`.
#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Serve the local cloud (ARM and Key Vault APIs on 127.0.0.1) until Ctrl-C: HTTPS with
    /// certificates from a CA kept in the data directory (tls/ca.pem), and plain HTTP on the
    /// same port.
    Serve {
        /// Port to listen on (default: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Simulated latency factor (default: MESH_LOCAL_TIME_FACTOR or 0.01).
        #[arg(long = "time-factor", value_name = "FACTOR")]
        time_factor: Option<f64>,
        /// Plain HTTP only: no CA, no certificates.
        #[arg(long)]
        http: bool,
    },
    /// Show whether a server is running on the local cloud's data, and what the data holds.
    Status {
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Delete the local cloud's data: every emulated resource is gone.
    Reset {
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Delete a resource (and everything below it) behind mesh's back, as someone else
    /// deleting it in Azure would.
    Delete {
        /// The resource's ARM ID.
        #[arg(value_name = "ARM_ID")]
        id: String,
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Add or overwrite one tag of a resource behind mesh's back.
    Tag {
        /// The resource's ARM ID.
        #[arg(value_name = "ARM_ID")]
        id: String,
        /// The tag: KEY=VALUE.
        #[arg(value_name = "KEY=VALUE")]
        tag: String,
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Print (or write) the admin kubeconfig of an AKS cluster of the running `mesh local
    /// serve`: its server is the local cloud's Kubernetes API for the cluster (HTTPS, trusting
    /// the local CA), for kubectl and other Kubernetes clients.
    Kubeconfig {
        /// The cluster's name (case-insensitive).
        #[arg(value_name = "CLUSTER")]
        cluster: String,
        /// Write it to FILE (mode 0600) instead of printing it.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Set a property of a resource behind mesh's back, without validation: e.g.
    /// `properties.count=5` (the value is JSON, or else a string).
    Set {
        /// The resource's ARM ID.
        #[arg(value_name = "ARM_ID")]
        id: String,
        /// PROPERTY_PATH=JSON_VALUE, the path dot-separated in the resource's ARM JSON.
        #[arg(value_name = "PROPERTY_PATH=JSON_VALUE")]
        assignment: String,
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Patch an object of an AKS cluster's Kubernetes API behind mesh's back, as someone with
    /// kubectl would.
    ///
    /// No admission, no validation: e.g. `mesh local kube-patch cluster1
    /// VirtualService/helloworld -n sample
    /// '[{"op":"replace","path":"/spec/http/0/route/0/weight","value":90}]'`.
    KubePatch {
        /// The cluster's name (case-insensitive).
        #[arg(value_name = "CLUSTER")]
        cluster: String,
        /// The object: its kind (VirtualService), resource name (virtualservices) or either
        /// with its group (virtualservices.networking.istio.io), a slash, and its name.
        #[arg(value_name = "KIND/NAME")]
        object: String,
        /// The object's namespace (default: default; ignored for cluster-scoped kinds).
        #[arg(short = 'n', long = "namespace", value_name = "NAMESPACE")]
        namespace: Option<String>,
        /// The patch's type (default: json for a list of operations, merge for an object).
        #[arg(long = "type", value_enum)]
        patch_type: Option<KubePatchType>,
        /// The patch, JSON: RFC 6902 operations or an RFC 7386 merge patch.
        #[arg(value_name = "PATCH")]
        patch: String,
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Delete an object of an AKS cluster's Kubernetes API behind mesh's back.
    ///
    /// What it owns (a Deployment's ReplicaSets and Pods) or contains (a namespace's objects)
    /// goes with it.
    KubeDelete {
        /// The cluster's name (case-insensitive).
        #[arg(value_name = "CLUSTER")]
        cluster: String,
        /// The object: KIND/NAME, as for kube-patch.
        #[arg(value_name = "KIND/NAME")]
        object: String,
        /// The object's namespace (default: default; ignored for cluster-scoped kinds).
        #[arg(short = 'n', long = "namespace", value_name = "NAMESPACE")]
        namespace: Option<String>,
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Run curl in a pod of an AKS cluster, as `kubectl exec` would, through the mesh data
    /// plane the local cloud simulates: the answer names the pod, version and cluster that
    /// served the call, or the failure a real client would see.
    ///
    /// E.g. `mesh local exec aks-cluster1-mn sample/sleep -- curl -sS
    /// helloworld.sample:5000/hello`; `-v` shows the path the call took through the mesh.
    Exec {
        /// The cluster's name (case-insensitive).
        #[arg(value_name = "CLUSTER")]
        cluster: String,
        /// The pod: NAMESPACE/DEPLOYMENT (its first running pod) or NAMESPACE/POD.
        #[arg(value_name = "NAMESPACE/WORKLOAD")]
        workload: String,
        /// Run in a throwaway pod named WORKLOAD, as `kubectl run` makes one (injected like
        /// any new pod of the namespace), instead of an existing pod.
        #[arg(long)]
        run: bool,
        /// Run the command N times (e.g. 200 calls to see a weighted split).
        #[arg(long, default_value_t = 1, value_name = "N")]
        count: u64,
        /// Print how many runs printed each first line, instead of every output.
        #[arg(long)]
        summary: bool,
        /// Data directory (default: .mesh/local-cloud in the spec directory).
        #[arg(long = "data-dir", value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// The command, after `--`: curl and its arguments.
        #[arg(value_name = "COMMAND", required = true, last = true)]
        command: Vec<String>,
    },
}

/// Run a `mesh local` command.
pub async fn run(command: &LocalCommand) -> CommandResult {
    let base = std::env::current_dir()?;
    match command {
        LocalCommand::Serve {
            port,
            data_dir: dir,
            time_factor: factor,
            http,
        } => {
            let dir = data_dir(&base, dir.as_deref());
            if let Some(url) = running_server(&dir) {
                return Err(anyhow::anyhow!(
                    "a local cloud is already serving {} at {url}",
                    dir.display()
                )
                .into());
            }
            let factor = match factor {
                Some(f) if f.is_finite() && *f >= 0.0 => *f,
                Some(f) => {
                    return Err(anyhow::anyhow!("--time-factor must be >= 0, not {f}").into())
                }
                None => time_factor().map_err(anyhow::Error::msg)?,
            };
            let options = LocalCloudOptions {
                data_dir: Some(dir.clone()),
                time_factor: factor,
                faults: faults().map_err(anyhow::Error::msg)?,
                throttle: Some(Throttle::default()),
                tls: (!http).then(|| TlsConfig::in_data_dir(&dir)),
            };
            let cloud = LocalCloud::start_on_port(options, *port)
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the local cloud: {e}"))?;
            if let Some(old) = cloud.moved_from() {
                println!("Note: the data was last served on {old}; URLs it handed out before (Key Vault URIs) changed.");
            }
            // mesh's own commands find the server by this (plain HTTP) URL.
            announce_server(&dir, &cloud.http_url())?;
            print_serving(&cloud, &dir);
            println!("Press Ctrl-C to stop.");
            let _ = tokio::signal::ctrl_c().await;
            withdraw_server(&dir);
            cloud.shutdown().await;
            println!("\nLocal cloud stopped.");
            Ok(0)
        }
        LocalCommand::Status { data_dir: dir } => {
            let dir = data_dir(&base, dir.as_deref());
            let shown = shown(&base, &dir);
            print_server_status(&base, &dir).await;
            let Some(summary) = mesh_emulator::inspect_data(&dir)
                .map_err(|e| anyhow::anyhow!("cannot read the local cloud's data: {e}"))?
            else {
                println!("No local cloud data in {shown}.");
                return Ok(0);
            };
            let count = summary.resource_ids.len();
            println!(
                "Local cloud data in {shown}: {count} resource{}.",
                if count == 1 { "" } else { "s" }
            );
            let width = summary.by_type.keys().map(String::len).max().unwrap_or(0);
            for (arm_type, n) in &summary.by_type {
                println!("  {arm_type:<width$}  {n}");
            }
            if summary.vault_objects > 0 {
                println!(
                    "Key Vault: {} secret(s) and certificate(s).",
                    summary.vault_objects
                );
            }
            Ok(0)
        }
        LocalCommand::Reset { data_dir: dir } => {
            let dir = data_dir(&base, dir.as_deref());
            let shown = shown(&base, &dir);
            if let Some(url) = running_server(&dir) {
                return Err(anyhow::anyhow!(
                    "a local cloud is serving {shown} at {url}: stop it first (or POST {url}/_admin/reset)"
                )
                .into());
            }
            let removed = mesh_emulator::reset_data(&dir)
                .map_err(|e| anyhow::anyhow!("cannot delete the local cloud's data: {e}"))?;
            if removed {
                println!("Deleted the local cloud's data in {shown}.");
                if TlsConfig::in_data_dir(&dir).ca_file().exists() {
                    println!(
                        "Its HTTPS CA (tls/ca.pem) stays, so clients that trust it keep working."
                    );
                }
                let tracked = azure_resources_in_state(&base);
                if tracked > 0 {
                    println!("Note: the state still lists {tracked} Azure resource instance(s); the next plan will create them again.");
                }
            } else {
                println!("No local cloud data in {shown}: nothing to reset.");
            }
            Ok(0)
        }
        LocalCommand::Delete { id, data_dir: dir } => {
            let answer = mutate(&base, dir.as_deref(), json!({"id": id, "op": "delete"})).await?;
            let removed: Vec<&str> = answer
                .get("removed")
                .and_then(Json::as_array)
                .map(|a| a.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            println!(
                "Deleted {} in the local cloud.",
                removed.first().copied().unwrap_or(id)
            );
            if removed.len() > 1 {
                println!("Also deleted, below it:");
                for child in &removed[1..] {
                    println!("  {child}");
                }
            }
            Ok(0)
        }
        LocalCommand::Tag {
            id,
            tag,
            data_dir: dir,
        } => {
            let Some((key, value)) = tag.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                return Err(anyhow::anyhow!("the tag must be KEY=VALUE, not {tag:?}").into());
            };
            let request = json!({"id": id, "op": "tag", "key": key, "value": value});
            let answer = mutate(&base, dir.as_deref(), request).await?;
            print_change(&answer, &format!("tag {key:?}"));
            Ok(0)
        }
        LocalCommand::Kubeconfig {
            cluster,
            output,
            data_dir: dir,
        } => {
            let dir = data_dir(&base, dir.as_deref());
            let Some(url) = running_server(&dir) else {
                return Err(anyhow::anyhow!(
                    "no local cloud is serving {}: start one with `mesh local serve` (the kubeconfig points at its Kubernetes API)",
                    shown(&base, &dir)
                )
                .into());
            };
            let name: String = cluster
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            let config = get_admin(&url, &format!("/_admin/kubeconfig?cluster={name}"))
                .await
                .map_err(anyhow::Error::msg)?;
            match output {
                None => print!("{config}"),
                Some(path) => {
                    let path = base.join(path);
                    write_private(&path, &config)
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    eprintln!(
                        "Wrote the admin kubeconfig of {cluster} to {}.",
                        path.display()
                    );
                }
            }
            Ok(0)
        }
        LocalCommand::Set {
            id,
            assignment,
            data_dir: dir,
        } => {
            let Some((path, value)) = assignment.split_once('=').filter(|(p, _)| !p.is_empty())
            else {
                return Err(anyhow::anyhow!(
                    "the change must be PROPERTY_PATH=JSON_VALUE, not {assignment:?}"
                )
                .into());
            };
            let value = serde_json::from_str::<Json>(value)
                .unwrap_or_else(|_| Json::String(value.to_string()));
            let request = json!({"id": id, "op": "set", "path": path, "value": value});
            let answer = mutate(&base, dir.as_deref(), request).await?;
            print_change(&answer, path);
            Ok(0)
        }
        LocalCommand::KubePatch {
            cluster,
            object,
            namespace,
            patch_type,
            patch,
            data_dir: dir,
        } => {
            let target = KubeObject {
                cluster,
                object,
                namespace: namespace.as_deref(),
            };
            local_kube::patch(&base, dir.as_deref(), &target, *patch_type, patch).await?;
            Ok(0)
        }
        LocalCommand::KubeDelete {
            cluster,
            object,
            namespace,
            data_dir: dir,
        } => {
            let target = KubeObject {
                cluster,
                object,
                namespace: namespace.as_deref(),
            };
            local_kube::delete(&base, dir.as_deref(), &target).await?;
            Ok(0)
        }
        LocalCommand::Exec {
            cluster,
            workload,
            run,
            count,
            summary,
            data_dir: dir,
            command,
        } => {
            let target = local_exec::ExecTarget {
                cluster,
                workload,
                throwaway: *run,
                command,
                count: *count,
            };
            local_exec::run(&base, dir.as_deref(), &target, *summary).await
        }
    }
}

/// What `mesh local tag|set` prints: the value before and after.
fn print_change(answer: &Json, what: &str) {
    let id = answer.get("id").and_then(Json::as_str).unwrap_or_default();
    let show = |v: Option<&Json>| match v {
        None | Some(Json::Null) => "(none)".to_string(),
        Some(v) => v.to_string(),
    };
    println!("Changed {what} of {id} in the local cloud:");
    println!(
        "  {} -> {}",
        show(answer.get("before")),
        show(answer.get("after"))
    );
}

/// Apply an admin change to the local cloud on `dir`: through the running `mesh local serve`,
/// or a cloud started for the purpose on the data (then saved and stopped).
pub(super) async fn mutate(
    base: &Path,
    dir: Option<&Path>,
    request: Json,
) -> Result<Json, crate::workspace::CommandError> {
    let dir = data_dir(base, dir);
    if let Some(url) = running_server(&dir) {
        return post_admin(&url, "/_admin/mutate", &request)
            .await
            .map_err(|e| anyhow::anyhow!("{e}").into());
    }
    if mesh_emulator::inspect_data(&dir)
        .map_err(|e| anyhow::anyhow!("cannot read the local cloud's data: {e}"))?
        .is_none()
    {
        return Err(anyhow::anyhow!("No local cloud data in {}.", shown(base, &dir)).into());
    }
    let options = LocalCloudOptions {
        data_dir: Some(dir.clone()),
        time_factor: time_factor().map_err(anyhow::Error::msg)?,
        faults: Default::default(),
        throttle: None,
        // As the embedded cloud runs: stored URLs keep their scheme.
        tls: Some(TlsConfig::in_data_dir(&dir)),
    };
    let cloud = LocalCloud::start(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the local cloud: {e}"))?;
    let answer = cloud.mutate(&request);
    cloud.shutdown().await;
    answer.map_err(|(_, message)| anyhow::anyhow!("{message}").into())
}

/// Write `text` to `path`, readable by its owner only (it holds credentials).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // An existing file keeps its mode through open: narrow it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())
}

/// GET a running server's admin endpoint (plain HTTP on loopback); the text answer, or the
/// server's message.
async fn get_admin(url: &str, path: &str) -> Result<String, String> {
    let (status, content) = admin_request(url, "GET", path, None).await?;
    if status == 200 {
        Ok(content)
    } else {
        Err(content.trim().to_string())
    }
}

/// POST JSON to a running server's admin endpoint (plain HTTP on loopback); the JSON answer.
pub(super) async fn post_admin(url: &str, path: &str, body: &Json) -> Result<Json, String> {
    let (status, content) = admin_request(url, "POST", path, Some(body)).await?;
    if status == 200 {
        serde_json::from_str(&content).map_err(|e| format!("unexpected answer from {url}: {e}"))
    } else {
        Err(content.trim().to_string())
    }
}

/// One request to a running server's admin endpoints: the status and body.
async fn admin_request(
    url: &str,
    method: &str,
    path: &str,
    body: Option<&Json>,
) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.strip_prefix("http://").unwrap_or(url);
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot reach the local cloud at {url}: {e}"))?;
    let body = body.map(Json::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut response = Vec::new();
    let io = async {
        stream.write_all(request.as_bytes()).await?;
        stream.read_to_end(&mut response).await
    };
    io.await
        .map_err(|e| format!("cannot talk to the local cloud at {url}: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, content) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, content.to_string()))
}

/// What `mesh local serve` prints: where the cloud is and how clients reach it.
fn print_serving(cloud: &LocalCloud, dir: &std::path::Path) {
    let url = cloud.url();
    let plain = cloud.http_url();
    println!("Local cloud listening on {url} (data in {})", dir.display());
    println!("  subscription: {}", LocalCloud::SUBSCRIPTION_ID);
    println!("  ARM endpoint: {url}/   Key Vault: {url}/keyvault/{{vault}}/");
    println!("  cloud metadata: {url}/metadata/endpoints?api-version=2022-09-01");
    println!("  any bearer token is accepted; admin: {url}/_admin/resources, /_admin/faults, /_admin/reset, /_admin/mutate");
    println!("  Kubernetes API of each AKS cluster: {url}/aks/{{cluster}} (kubeconfig: mesh local kubeconfig CLUSTER)");
    match cloud.ca_file() {
        Some(ca) => {
            let ca = ca.display();
            println!("  HTTPS certificates come from the local CA {ca} (kept across runs: trust it once)");
            println!("  plain HTTP on the same port: {plain}");
            println!("Point clients at it:");
            println!("  mesh (this directory's plan/apply use it by themselves; elsewhere):");
            println!("    provider \"azure\" {{ endpoint = \"{plain}\" }}");
            println!("  Azure CLI (Python: REQUESTS_CA_BUNDLE; a signed-in account is needed, any token is accepted):");
            println!("    export REQUESTS_CA_BUNDLE={ca}");
            println!("    az cloud register -n meshlocal --endpoint-resource-manager {url}/ && az cloud set -n meshlocal");
            println!("  SDKs: endpoint {url}, trusting {ca} (SSL_CERT_FILE={ca} for OpenSSL-based clients)");
        }
        None => {
            println!("  plain HTTP only (without --http, HTTPS is served too)");
            println!("  use it from a spec: provider \"azure\" {{ endpoint = \"{url}\" }}");
        }
    }
}

/// The `mesh local status` lines about a running server.
async fn print_server_status(base: &std::path::Path, dir: &std::path::Path) {
    let Some(plain) = running_server(dir) else {
        println!("No server is running on this data (start one with `mesh local serve`).");
        return;
    };
    let ca = TlsConfig::in_data_dir(dir).ca_file();
    let addr = plain
        .strip_prefix("http://")
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok());
    let https = match addr {
        Some(addr) => mesh_emulator::serves_https(addr, &ca).await,
        None => false,
    };
    if https {
        let url = plain.replacen("http://", "https://", 1);
        println!(
            "Served by mesh local serve at {plain} (plain HTTP) and {url} (HTTPS, CA {}).",
            shown(base, &ca)
        );
    } else {
        println!("Served by mesh local serve at {plain} (plain HTTP only).");
    }
}

/// The data directory as the user knows it: relative to the spec directory when inside it.
fn shown(base: &std::path::Path, dir: &std::path::Path) -> String {
    match dir.strip_prefix(base) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => dir.display().to_string(),
    }
}

fn azure_resources_in_state(base: &std::path::Path) -> usize {
    let backend = mesh_state::LocalBackend::new(base.join(".mesh").join("state.json"));
    match backend.load() {
        Ok(Some(doc)) => doc
            .resources
            .iter()
            .filter(|r| r.resource_type.starts_with("azure_"))
            .count(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfigs_are_written_for_their_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kc.yaml");
        std::fs::write(&path, "old").unwrap();
        write_private(&path, "apiVersion: v1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "apiVersion: v1\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
