//! Standard clients against the local cloud's Kubernetes APIs: with `mesh local serve` running,
//! a scenario applies against it, `mesh local kubeconfig` exports each cluster's admin
//! kubeconfig, and kubectl lists the Istio objects mesh created. Skipped (with a note) where
//! kubectl is not installed.

use std::process::Command;

use crate::harness::{ok_local, scenario_spec};

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("run kubectl");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl {args:?} failed\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn kubectl_lists_the_istio_objects_of_each_emulated_cluster() {
    if !kubectl_available() {
        eprintln!("note: kubectl is not on PATH; skipping the kubectl test");
        return;
    }
    let spec = scenario_spec("multi-network");
    let mut server = spec.spawn(
        "serve",
        &["local", "serve"],
        &[("MESH_LOCAL_TIME_FACTOR", "0.001")],
    );
    server.wait_for_stdout("Press Ctrl-C to stop.");
    let applied = ok_local(&spec, &["apply", "-auto-approve"]);
    applied.stderr_has("served by mesh local serve");

    for (cluster, peer) in [("cluster1", "cluster2"), ("cluster2", "cluster1")] {
        let name = format!("aks-{cluster}-mn");
        let file = spec.join(&format!("{cluster}.kubeconfig"));
        let file_arg = file.to_string_lossy().into_owned();
        let exported = ok_local(&spec, &["local", "kubeconfig", &name, "-o", &file_arg]);
        assert!(
            !exported.stdout.contains("token"),
            "the kubeconfig is written to the file, not printed"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file)
                .expect("kubeconfig")
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "the kubeconfig is readable by its owner only"
            );
        }
        let gateways = kubectl(
            &file,
            &["get", "gateways.networking.istio.io", "-A", "-o", "name"],
        );
        assert!(gateways.contains("cross-network-gateway"), "{gateways}");
        let istiod = kubectl(
            &file,
            &["get", "deployments", "-n", "istio-system", "-o", "name"],
        );
        assert!(istiod.contains("istiod-1-19-1"), "{istiod}");
        let secrets = kubectl(
            &file,
            &[
                "get",
                "secrets",
                "-n",
                "istio-system",
                "-l",
                "istio/multiCluster=true",
                "-o",
                "name",
            ],
        );
        assert!(
            secrets.contains(&format!("istio-remote-secret-{peer}")),
            "{cluster} reads {peer}: {secrets}"
        );
        let crds = kubectl(&file, &["get", "crds", "-o", "name"]);
        assert!(
            crds.contains("virtualservices.networking.istio.io"),
            "{crds}"
        );
    }
    let routes = kubectl(
        &spec.join("cluster1.kubeconfig"),
        &["get", "virtualservices", "-n", "sample", "-o", "name"],
    );
    assert!(routes.contains("helloworld-cluster-local-vs"), "{routes}");

    ok_local(&spec, &["destroy", "-auto-approve"]);
    server.signal("INT");
    let out = server.finish();
    assert_eq!(out.code, 0, "{}", out.dump());
}
