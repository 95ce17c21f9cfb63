//! `mesh local serve|status|reset`: the local cloud as a standalone server, and its data.

use std::path::PathBuf;

use clap::Subcommand;
use mesh_emulator::{LocalCloud, LocalCloudOptions, Throttle};

use crate::local_cloud::{
    announce_server, data_dir, faults, running_server, time_factor, withdraw_server,
};
use crate::workspace::CommandResult;

/// `mesh local ...`.
#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Serve the local cloud (ARM and Key Vault APIs, plain HTTP on 127.0.0.1) until Ctrl-C.
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
    },
    /// Show what the local cloud holds.
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
}

/// Run a `mesh local` command.
pub async fn run(command: &LocalCommand) -> CommandResult {
    let base = std::env::current_dir()?;
    match command {
        LocalCommand::Serve {
            port,
            data_dir: dir,
            time_factor: factor,
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
            };
            let cloud = LocalCloud::start_on_port(options, *port)
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the local cloud: {e}"))?;
            let url = cloud.url();
            if let Some(old) = cloud.moved_from() {
                println!("Note: the data was last served on {old}; URLs it handed out before (Key Vault URIs) changed.");
            }
            announce_server(&dir, &url)?;
            println!("Local cloud listening on {url} (data in {})", dir.display());
            println!("  subscription: {}", LocalCloud::SUBSCRIPTION_ID);
            println!("  ARM endpoint: {url}   Key Vault: {url}/keyvault/{{vault}}/");
            println!("  any bearer token is accepted; admin: {url}/_admin/resources, /_admin/faults, /_admin/reset");
            println!("  use it from a spec: provider \"azure\" {{ endpoint = \"{url}\" }}");
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
            let Some(summary) = mesh_emulator::inspect_data(&dir)
                .map_err(|e| anyhow::anyhow!("cannot read the local cloud's data: {e}"))?
            else {
                println!("No local cloud data in {shown}.");
                return Ok(0);
            };
            if let Some(url) = running_server(&dir) {
                println!("Served by mesh local serve at {url} (this shows the saved data).");
            }
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
                let tracked = azure_resources_in_state(&base);
                if tracked > 0 {
                    println!("Note: the state still lists {tracked} Azure resource instance(s); the next plan will create them again.");
                }
            } else {
                println!("No local cloud data in {shown}: nothing to reset.");
            }
            Ok(0)
        }
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
