//! kubectl against a cluster's Kubernetes API over HTTPS, with the kubeconfig the cluster
//! hands out written to a file: get, apply (client-side, twice), apply --server-side, delete.
//! Skipped, with a note, when kubectl is not on PATH.

#[path = "common/aks.rs"]
mod aks;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aks::{arm, create_cluster, options, start, CLUSTER};
use serde_json::{json, Value as Json};

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run kubectl (off the async runtime, which serves the cloud): (success, stdout, stderr).
async fn kubectl(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new("kubectl")
            .env("KUBECONFIG", dir.join("kubeconfig"))
            .env("HOME", &dir)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .args(&args)
            .output()
            .expect("kubectl runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("kubectl finishes")
}

async fn ok(dir: &Path, args: &[&str]) -> String {
    let (success, out, err) = kubectl(dir, args).await;
    assert!(success, "kubectl {args:?} failed:\n{out}\n{err}");
    out
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const MANIFEST: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: apps
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: main
        image: nginx:1.27
        ports:
        - containerPort: 80
      - name: sidecar
        image: busybox:1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_applies_and_deletes() {
    if !kubectl_available() {
        eprintln!("note: kubectl is not on PATH; skipping the kubectl test");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let cloud = start(options(0.0, Some(data.path()), true)).await;
    create_cluster(&arm(&cloud), CLUSTER, json!({})).await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write(dir, "kubeconfig", &cloud.kubeconfig(CLUSTER).unwrap());

    let out = ok(dir, &["get", "namespaces"]).await;
    assert!(
        out.contains("kube-system") && out.contains("Active"),
        "{out}"
    );
    let ns = write(
        dir,
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n",
    );
    ok(dir, &["apply", "-f", ns.to_str().unwrap()]).await;

    // Client-side apply: create, then change (kubectl sends a strategic merge patch).
    let manifest = write(dir, "app.yaml", MANIFEST);
    let out = ok(dir, &["apply", "-f", manifest.to_str().unwrap()]).await;
    assert!(
        out.contains("configmap/settings created") && out.contains("deployment.apps/web created"),
        "{out}"
    );
    write(
        dir,
        "app.yaml",
        &MANIFEST
            .replace("blue", "green")
            .replace("nginx:1.27", "nginx:1.28"),
    );
    let out = ok(dir, &["apply", "-f", manifest.to_str().unwrap()]).await;
    assert!(out.contains("configmap/settings configured"), "{out}");
    let deployment: Json = serde_json::from_str(
        &ok(
            dir,
            &["get", "deployment", "web", "-n", "apps", "-o", "json"],
        )
        .await,
    )
    .unwrap();
    let containers = &deployment["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "nginx:1.28");
    assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
    assert_eq!(containers[1]["image"], "busybox:1");

    // Server-side apply, then again without a key: the key goes.
    let ssa = write(dir, "ssa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: apps\ndata:\n  a: '1'\n  b: '2'\n");
    let out = ok(
        dir,
        &["apply", "--server-side", "-f", ssa.to_str().unwrap()],
    )
    .await;
    assert!(
        out.contains("configmap/applied serverside-applied"),
        "{out}"
    );
    write(dir, "ssa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: apps\ndata:\n  a: '1'\n");
    ok(
        dir,
        &["apply", "--server-side", "-f", ssa.to_str().unwrap()],
    )
    .await;
    let data: Json = serde_json::from_str(
        &ok(
            dir,
            &[
                "get",
                "configmap",
                "applied",
                "-n",
                "apps",
                "-o",
                "jsonpath={.data}",
            ],
        )
        .await,
    )
    .unwrap();
    assert_eq!(data, json!({"a": "1"}));

    // get prints tables; the deployment becomes ready.
    let out = ok(
        dir,
        &[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            "apps",
            "--timeout=30s",
        ],
    )
    .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let out = ok(dir, &["get", "deployments", "-n", "apps"]).await;
    assert!(out.contains("web") && out.contains("2/2"), "{out}");
    let out = ok(dir, &["get", "pods", "-n", "apps", "-l", "app=web"]).await;
    assert_eq!(out.matches("Running").count(), 2, "{out}");

    // delete, then the objects are gone.
    let out = ok(dir, &["delete", "-f", manifest.to_str().unwrap()]).await;
    assert!(out.contains("deleted"), "{out}");
    let (found, _, err) = kubectl(dir, &["get", "configmap", "settings", "-n", "apps"]).await;
    assert!(!found && err.contains("NotFound"), "{err}");
    ok(dir, &["delete", "namespace", "apps"]).await;
    let (found, _, _) = kubectl(dir, &["get", "configmap", "applied", "-n", "apps"]).await;
    assert!(!found);
    cloud.shutdown().await;
}
