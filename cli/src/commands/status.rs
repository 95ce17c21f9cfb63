//! `mesh status`: each cluster's mesh as its control plane sees it, read from the live
//! clusters (real or the local cloud's): the remote clusters its istiod knows and whether each
//! is synced (`istioctl remote-clusters`), its revisions and whether istiod is ready, the
//! namespaces each revision injects, and the gateway Services with their addresses.
//!
//! The clusters are those of the `istio_control_plane` resources in state; they are reached
//! with the same credentials apply uses (an AKS cluster's admin kubeconfig, fetched through the
//! azure provider configured from the spec). Exit 0 when everything is reachable, ready and
//! synced, 2 when something is not, 1 on errors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use mesh_engine::evaluation::Evaluation;
use mesh_engine::value::Value;
use mesh_provider_kubernetes::cluster::{ClusterValue, Connection};
use mesh_provider_kubernetes::{ClusterConnections, ClusterCredentials, ClusterRef};
use mesh_state::StateDocument;
use serde_json::{json, Value as Json};

use super::status_cluster::{inspect, Live};
use crate::workspace::{configure_providers, registry_with_credentials, CommandResult, Workspace};

/// Output format of `mesh status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// For people.
    Human,
    /// JSON (docs/cli.md).
    Json,
}

/// `mesh status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Set a root variable: NAME=VALUE (repeatable; for the provider configuration).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from an HCL or JSON file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
    pub format: StatusFormat,
}

/// An `istio_control_plane` in state.
#[derive(Debug, Clone, PartialEq)]
struct Plane {
    address: String,
    cluster: ClusterRef,
    cluster_name: String,
    revision: String,
    default_revision: bool,
}

/// One cluster and what was found in it.
struct Report {
    cluster: String,
    planes: Vec<Plane>,
    live: Result<Live, String>,
}

/// The control planes in state whose cluster is known.
fn planes(doc: &StateDocument) -> Vec<Plane> {
    doc.resources
        .iter()
        .filter(|r| r.resource_type == "istio_control_plane" && r.deposed.is_none())
        .filter_map(|r| {
            let attrs = &r.attributes;
            let cluster = Value::from_json(&attrs["cluster"]);
            let ClusterValue::Known(cluster) = ClusterValue::from_attribute(&cluster).ok()? else {
                return None;
            };
            let text = |name: &str| attrs[name].as_str().unwrap_or_default().to_string();
            Some(Plane {
                address: r.address.clone(),
                cluster,
                cluster_name: text("cluster_name"),
                revision: text("revision"),
                default_revision: attrs["default_revision"].as_bool().unwrap_or(true),
            })
        })
        .collect()
}

/// How reports name a cluster: an AKS cluster by its name.
fn cluster_label(cluster: &ClusterRef) -> String {
    match cluster {
        ClusterRef::Aks { id, .. } => id.rsplit('/').next().unwrap_or(id).to_string(),
        other => other.describe(),
    }
}

/// The AKS credentials of the spec's configured providers.
async fn credentials(
    ws: &Workspace,
    args: &StatusArgs,
) -> Result<Arc<dyn ClusterCredentials>, crate::workspace::CommandError> {
    let root = ws.load_config()?;
    let resolved = crate::variables::resolve(&root, &args.vars, &args.var_files, &ws.dir)?;
    let evaluation = Evaluation::new(root.clone(), resolved.values, true);
    let (providers, credentials) = registry_with_credentials();
    configure_providers(&providers, &evaluation).await?;
    Ok(credentials)
}

/// `mesh status`.
pub async fn run(ws: &Workspace, args: &StatusArgs) -> CommandResult {
    let planes = ws.load_state()?.as_ref().map(planes).unwrap_or_default();
    if planes.is_empty() {
        eprintln!("The state has no istio_control_plane: there is no mesh to show (apply a spec with one first).");
        return Ok(0);
    }
    let connections = ClusterConnections::new(Some(credentials(ws, args).await?));
    let mut groups: Vec<(ClusterRef, Vec<Plane>)> = Vec::new();
    for plane in planes {
        match groups.iter_mut().find(|(c, _)| *c == plane.cluster) {
            Some((_, list)) => list.push(plane),
            None => groups.push((plane.cluster.clone(), vec![plane])),
        }
    }
    let mut clients = Vec::new();
    let mut servers = BTreeMap::new();
    for (cluster, _) in &groups {
        let client = match connections.connect(cluster).await {
            Ok(Connection::Client(client, endpoint)) => {
                servers.insert(endpoint.server.clone(), cluster_label(cluster));
                Ok(client)
            }
            Ok(Connection::ClusterGone) => Err("the cluster no longer exists".to_string()),
            Err(e) => Err(e.message),
        };
        clients.push(client);
    }
    let mut reports = Vec::new();
    for ((cluster, planes), client) in groups.into_iter().zip(clients) {
        let default = planes
            .iter()
            .find(|p| p.default_revision)
            .map(|p| p.revision.clone());
        let live = match client {
            Ok(client) => inspect(&client, default.as_deref(), &servers).await,
            Err(e) => Err(e),
        };
        reports.push(Report {
            cluster: cluster_label(&cluster),
            planes,
            live,
        });
    }
    match args.format {
        StatusFormat::Human => print!("{}", human(&reports)),
        StatusFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&reports)).map_err(anyhow::Error::from)?
        ),
    }
    Ok(if reports.iter().all(healthy) { 0 } else { 2 })
}

/// Reachable, every istiod ready, every remote cluster synced.
fn healthy(report: &Report) -> bool {
    report.live.as_ref().is_ok_and(|live| {
        live.remotes.iter().all(|r| r.problem.is_none())
            && live.revisions.iter().all(|r| r.ready >= r.replicas.max(1))
    })
}

fn mesh_names(report: &Report) -> String {
    let mut names: Vec<&str> = report
        .planes
        .iter()
        .map(|p| p.cluster_name.as_str())
        .collect();
    names.dedup();
    names.join(", ")
}

/// Rows padded to their columns' widths.
fn table(rows: &[Vec<String>], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(String::len)
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, cell)| format!("{cell:<width$}", width = widths[i]))
                .collect();
            format!("{indent}{}\n", cells.join("  ").trim_end())
        })
        .collect()
}

/// The report for people.
fn human(reports: &[Report]) -> String {
    let mut out = String::new();
    for report in reports {
        let live = match &report.live {
            Ok(live) => live,
            Err(e) => {
                out.push_str(&format!(
                    "{} (mesh cluster {}): cannot be read: {e}\n\n",
                    report.cluster,
                    mesh_names(report)
                ));
                continue;
            }
        };
        let network = live.network.as_deref().unwrap_or("(no network label)");
        out.push_str(&format!(
            "{} (mesh cluster {}, network {network})\n",
            report.cluster,
            mesh_names(report)
        ));
        out.push_str("  Remote clusters:\n");
        if live.remotes.is_empty() {
            out.push_str("    none: istiod discovers this cluster's endpoints only\n");
        } else {
            let mut rows = vec![["NAME", "SECRET", "STATUS", "CLUSTER"]
                .map(String::from)
                .to_vec()];
            rows.extend(live.remotes.iter().map(|r| {
                let status = match &r.problem {
                    None => "synced".to_string(),
                    Some(why) => format!("not synced: {why}"),
                };
                let cluster = r.server_cluster.clone().unwrap_or_else(|| "-".into());
                vec![r.name.clone(), r.secret.clone(), status, cluster]
            }));
            out.push_str(&table(&rows, "    "));
        }
        out.push_str("  Revisions:\n");
        let mut rows = Vec::new();
        for r in &live.revisions {
            let default = report
                .planes
                .iter()
                .any(|p| p.revision == r.revision && p.default_revision);
            rows.push(vec![
                r.revision.clone(),
                r.istiod.clone(),
                format!("{}/{} ready", r.ready, r.replicas),
                if default {
                    "default".into()
                } else {
                    String::new()
                },
            ]);
        }
        if rows.is_empty() {
            out.push_str("    none: no istiod runs\n");
        }
        out.push_str(&table(&rows, "    "));
        out.push_str("  Namespaces by revision:\n");
        let mut by_revision: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for ns in &live.namespaces {
            by_revision.entry(&ns.revision).or_default().push(&ns.name);
        }
        let rows: Vec<Vec<String>> = by_revision
            .iter()
            .map(|(rev, names)| vec![rev.to_string(), names.join(", ")])
            .collect();
        if rows.is_empty() {
            out.push_str("    none\n");
        }
        out.push_str(&table(&rows, "    "));
        out.push_str("  Gateways:\n");
        let rows: Vec<Vec<String>> = live
            .gateways
            .iter()
            .map(|g| {
                let ports: Vec<String> = g.ports.iter().map(i32::to_string).collect();
                vec![
                    format!("{}/{}", g.namespace, g.name),
                    g.service_type.clone(),
                    g.address.clone().unwrap_or_else(|| "<pending>".into()),
                    g.network
                        .as_ref()
                        .map(|n| format!("network {n}"))
                        .unwrap_or_default(),
                    format!("ports {}", ports.join(",")),
                ]
            })
            .collect();
        if rows.is_empty() {
            out.push_str("    none\n");
        }
        out.push_str(&table(&rows, "    "));
        out.push('\n');
    }
    out
}

/// The report as JSON (docs/cli.md).
fn to_json(reports: &[Report]) -> Json {
    let clusters: Vec<Json> = reports
        .iter()
        .map(|report| {
            let mut doc = json!({
                "cluster": report.cluster,
                "control_planes": report.planes.iter().map(|p| &p.address).collect::<Vec<_>>(),
                "cluster_name": mesh_names(report),
                "reachable": report.live.is_ok(),
                "healthy": healthy(report),
            });
            match &report.live {
                Err(e) => doc["error"] = json!(e),
                Ok(live) => live_json(report, live, &mut doc),
            }
            doc
        })
        .collect();
    json!({ "format_version": "1.0", "clusters": clusters })
}

fn live_json(report: &Report, live: &Live, doc: &mut Json) {
    doc["network"] = json!(live.network);
    doc["remote_clusters"] = live
        .remotes
        .iter()
        .map(|r| {
            json!({"name": r.name, "secret": r.secret,
                "status": if r.problem.is_none() { "synced" } else { "not synced" },
                "reason": r.problem, "server_cluster": r.server_cluster})
        })
        .collect();
    doc["revisions"] = live
        .revisions
        .iter()
        .map(|r| {
            let default = report
                .planes
                .iter()
                .any(|p| p.revision == r.revision && p.default_revision);
            json!({"revision": r.revision, "istiod": r.istiod, "ready": r.ready,
                "replicas": r.replicas, "cluster_id": r.cluster_id, "default": default})
        })
        .collect();
    doc["namespaces"] = live
        .namespaces
        .iter()
        .map(|n| json!({"name": n.name, "revision": n.revision, "label": n.label}))
        .collect();
    doc["gateways"] = live
        .gateways
        .iter()
        .map(|g| {
            json!({"namespace": g.namespace, "name": g.name, "type": g.service_type,
                "address": g.address, "network": g.network, "ports": g.ports})
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::super::status_cluster::{GatewayService, RemoteCluster, Revision};
    use super::*;

    fn report(problem: Option<&str>) -> Report {
        Report {
            cluster: "aks-one".into(),
            planes: vec![Plane {
                address: "module.istio[\"one\"].istio_control_plane.this".into(),
                cluster: ClusterRef::Aks {
                    id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/aks-one".into(),
                    fqdn: None,
                },
                cluster_name: "one".into(),
                revision: "1-19-1".into(),
                default_revision: true,
            }],
            live: Ok(Live {
                network: Some("network1".into()),
                remotes: vec![RemoteCluster {
                    name: "two".into(),
                    secret: "istio-system/istio-remote-secret-two".into(),
                    problem: problem.map(str::to_string),
                    server_cluster: Some("aks-two".into()),
                }],
                revisions: vec![Revision {
                    revision: "1-19-1".into(),
                    istiod: "istiod-1-19-1".into(),
                    ready: 1,
                    replicas: 1,
                    cluster_id: Some("one".into()),
                }],
                namespaces: super::super::status_cluster::injected(
                    &[json!({"metadata": {"name": "sample", "labels": {"istio-injection": "enabled"}}})],
                    Some("1-19-1"),
                ),
                gateways: vec![GatewayService {
                    namespace: "istio-system".into(),
                    name: "istio-eastwestgateway".into(),
                    service_type: "LoadBalancer".into(),
                    address: Some("20.1.2.3".into()),
                    network: Some("network1".into()),
                    ports: vec![15021, 15443],
                }],
            }),
        }
    }

    #[test]
    fn the_human_report_lists_remote_clusters_revisions_namespaces_and_gateways() {
        assert_eq!(
            human(&[report(None)]),
            "aks-one (mesh cluster one, network network1)
  Remote clusters:
    NAME  SECRET                                STATUS  CLUSTER
    two   istio-system/istio-remote-secret-two  synced  aks-two
  Revisions:
    1-19-1  istiod-1-19-1  1/1 ready  default
  Namespaces by revision:
    1-19-1  sample
  Gateways:
    istio-system/istio-eastwestgateway  LoadBalancer  20.1.2.3  network network1  ports 15021,15443

"
        );
        assert!(healthy(&report(None)));
        assert!(!healthy(&report(Some(
            "its API does not accept the secret's token (401)"
        ))));
    }

    #[test]
    fn the_json_report_says_synced_or_why_not() {
        let doc = to_json(&[report(Some("its API cannot be reached: refused"))]);
        let remote = &doc["clusters"][0]["remote_clusters"][0];
        assert_eq!(remote["status"], "not synced");
        assert_eq!(remote["reason"], "its API cannot be reached: refused");
        assert_eq!(doc["clusters"][0]["revisions"][0]["default"], true);
        assert_eq!(doc["clusters"][0]["healthy"], false);
    }
}
