//! Istio sidecar injection, as istiod's mutating webhook does it: a Pod created in a namespace
//! labelled `istio-injection=enabled` (the default revision) or `istio.io/rev=<rev>` gets an
//! `istio-proxy` container (and an `istio-init` init container) when an istiod of that
//! revision runs in `istio-system`: a Deployment labelled `istio.io/rev=<rev>`, or for the
//! default revision `istio.io/rev=default`, `app=istiod` without a revision label, or the
//! revision whose injection webhook takes `istio-injection=enabled` namespaces (a revisioned
//! istiod installed as the default). The pod is labelled with the revision that injected it and
//! its proxy told istiod's `CLUSTER_ID`. The proxy image is the istiod image's registry and
//! tag with `proxyv2` as the image name.

use serde_json::{json, Value as Json};

use super::super::objects::{annotation, key, label, meta, meta_str, set_meta, ClusterObjects};

/// The namespace istiod runs in.
const ISTIO_NAMESPACE: &str = "istio-system";

/// The revision a new pod is injected for, from its namespace's and its own labels.
fn revision(objects: &ClusterObjects, pod: &Json) -> Option<String> {
    let opted_out = label(pod, "sidecar.istio.io/inject") == Some("false")
        || annotation(pod, "sidecar.istio.io/inject") == Some("false");
    if opted_out {
        return None;
    }
    let namespace = objects.get(&key("", "namespaces", "", meta_str(pod, "namespace")))?;
    match label(&namespace.object, "istio-injection") {
        Some("enabled") => return Some("default".to_string()),
        Some(_) => return None,
        None => {}
    }
    label(&namespace.object, "istio.io/rev")
        .or_else(|| label(pod, "istio.io/rev"))
        .map(str::to_string)
}

/// The istiod Deployment serving `revision`, and the revision it is.
fn istiod<'a>(objects: &'a ClusterObjects, revision: &str) -> Option<(&'a Json, String)> {
    let prefix = format!("apps/deployments/{ISTIO_NAMESPACE}/");
    let find = |revision: &str| {
        objects
            .with_prefix(&prefix)
            .map(|(_, s)| &s.object)
            .find(|d| match label(d, "istio.io/rev") {
                Some(rev) => rev == revision,
                None => revision == "default" && label(d, "app") == Some("istiod"),
            })
    };
    if let Some(found) = find(revision) {
        return Some((found, revision.to_string()));
    }
    // A revisioned istiod can be the default one: its injection webhook then also takes
    // namespaces labelled istio-injection=enabled.
    let default = (revision == "default")
        .then(|| default_injector_revision(objects))
        .flatten()?;
    find(&default).map(|d| (d, default))
}

/// The revision whose injection webhook serves `istio-injection=enabled` namespaces.
fn default_injector_revision(objects: &ClusterObjects) -> Option<String> {
    let serves_enabled = |hook: &Json| {
        hook.pointer("/namespaceSelector/matchExpressions")
            .and_then(Json::as_array)
            .is_some_and(|exprs| {
                exprs.iter().any(|e| {
                    e["key"] == "istio-injection"
                        && e["operator"] == "In"
                        && e["values"]
                            .as_array()
                            .is_some_and(|v| v.iter().any(|v| v == "enabled"))
                })
            })
    };
    objects
        .with_prefix("admissionregistration.k8s.io/mutatingwebhookconfigurations//")
        .map(|(_, s)| &s.object)
        .find(|config| {
            config["webhooks"]
                .as_array()
                .is_some_and(|hooks| hooks.iter().any(serves_enabled))
        })
        .and_then(|config| label(config, "istio.io/rev"))
        .map(str::to_string)
}

/// istiod's `CLUSTER_ID` (Istio's default when it sets none).
fn cluster_id(istiod: &Json) -> String {
    istiod
        .pointer("/spec/template/spec/containers/0/env")
        .and_then(Json::as_array)
        .and_then(|env| env.iter().find(|e| e["name"] == "CLUSTER_ID"))
        .and_then(|e| e["value"].as_str())
        .unwrap_or("Kubernetes")
        .to_string()
}

/// The proxy image that goes with an istiod image: `registry/path/pilot:tag` →
/// `registry/path/proxyv2:tag`.
pub(crate) fn proxy_image(istiod_image: &str) -> String {
    let (path, tag) = match istiod_image.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, t),
        _ => (istiod_image, "latest"),
    };
    let path = path.split('@').next().unwrap_or(path);
    match path.rsplit_once('/') {
        Some((registry, _)) => format!("{registry}/proxyv2:{tag}"),
        None => format!("proxyv2:{tag}"),
    }
}

/// Inject the sidecar into a new pod when its namespace asks for a revision that runs.
pub(crate) fn inject(objects: &ClusterObjects, pod: &mut Json) {
    let Some(revision) = revision(objects, pod) else {
        return;
    };
    let Some((istiod, revision)) = istiod(objects, &revision) else {
        return;
    };
    let has_proxy = pod
        .pointer("/spec/containers")
        .and_then(Json::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["name"] == "istio-proxy"));
    if has_proxy {
        return;
    }
    let image = istiod
        .pointer("/spec/template/spec/containers/0/image")
        .and_then(Json::as_str)
        .map(proxy_image)
        .unwrap_or_else(|| "docker.io/istio/proxyv2:latest".to_string());
    let proxy = json!({
        "name": "istio-proxy",
        "image": image,
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "ISTIO_META_CLUSTER_ID", "value": cluster_id(istiod)}],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}},
        "volumeMounts": [{"name": "istio-envoy", "mountPath": "/etc/istio/proxy"}],
    });
    let init = json!({
        "name": "istio-init",
        "image": image,
        "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337"],
    });
    let spec = &mut pod["spec"];
    push(spec, "containers", proxy);
    push(spec, "initContainers", init);
    push(
        spec,
        "volumes",
        json!({"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}),
    );
    let status = json!({"initContainers": ["istio-init"], "containers": ["istio-proxy"],
        "volumes": ["istio-envoy"], "imagePullSecrets": null, "revision": revision});
    let mut annotations = meta(pod, "annotations").cloned().unwrap_or(json!({}));
    annotations["sidecar.istio.io/status"] = json!(status.to_string());
    set_meta(pod, "annotations", annotations);
    let app = label(pod, "app")
        .unwrap_or(meta_str(pod, "name"))
        .to_string();
    let version = label(pod, "version").unwrap_or("latest").to_string();
    let mut labels = meta(pod, "labels").cloned().unwrap_or(json!({}));
    labels["security.istio.io/tlsMode"] = json!("istio");
    labels["service.istio.io/canonical-name"] = json!(app);
    labels["service.istio.io/canonical-revision"] = json!(version);
    labels["istio.io/rev"] = json!(revision);
    set_meta(pod, "labels", labels);
}

fn push(spec: &mut Json, list: &str, item: Json) {
    match spec.get_mut(list).and_then(Json::as_array_mut) {
        Some(items) => items.push(item),
        None => spec[list] = json!([item]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::objects::Stored;
    use super::*;

    fn store(objects: &mut ClusterObjects, key: &str, object: Json) {
        let stored = Stored {
            object,
            applied: Default::default(),
            due: None,
        };
        objects.write(key, stored);
    }

    #[test]
    fn a_revisioned_istiod_whose_webhook_takes_enabled_namespaces_is_the_default() {
        let mut objects = ClusterObjects::new("/c");
        store(
            &mut objects,
            "/namespaces//sample",
            json!({"metadata": {"name": "sample", "labels": {"istio-injection": "enabled"}}}),
        );
        store(
            &mut objects,
            "apps/deployments/istio-system/istiod-1-19-1",
            json!({
            "metadata": {"name": "istiod-1-19-1", "labels": {"app": "istiod", "istio.io/rev": "1-19-1"}},
            "spec": {"template": {"spec": {"containers": [{"image": "docker.io/istio/pilot:1.19.1",
                "env": [{"name": "CLUSTER_ID", "value": "cluster1"}]}]}}}}),
        );
        let mut pod = json!({"metadata": {"name": "p", "namespace": "sample"}, "spec": {"containers": [{"name": "app"}]}});
        let unchanged = pod.clone();
        inject(&objects, &mut pod);
        assert_eq!(pod, unchanged, "no webhook says 1-19-1 is the default yet");
        store(&mut objects, "admissionregistration.k8s.io/mutatingwebhookconfigurations//istio-sidecar-injector-1-19-1", json!({
            "metadata": {"name": "istio-sidecar-injector-1-19-1", "labels": {"istio.io/rev": "1-19-1"}},
            "webhooks": [{"namespaceSelector": {"matchExpressions": [
                {"key": "istio-injection", "operator": "In", "values": ["enabled"]}]}}]}));
        inject(&objects, &mut pod);
        assert_eq!(pod["spec"]["containers"][1]["name"], "istio-proxy");
        assert_eq!(
            pod["spec"]["containers"][1]["image"],
            "docker.io/istio/proxyv2:1.19.1"
        );
        assert_eq!(pod["spec"]["containers"][1]["env"][1]["value"], "cluster1");
        assert_eq!(pod["metadata"]["labels"]["istio.io/rev"], "1-19-1");
    }

    #[test]
    fn proxy_images_follow_the_istiod_image() {
        assert_eq!(
            proxy_image("docker.io/istio/pilot:1.14.1"),
            "docker.io/istio/proxyv2:1.14.1"
        );
        assert_eq!(
            proxy_image("mcr.microsoft.com/oss/istio/pilot:1.22.3"),
            "mcr.microsoft.com/oss/istio/proxyv2:1.22.3"
        );
        assert_eq!(
            proxy_image("localhost:5000/istio/pilot"),
            "localhost:5000/istio/proxyv2:latest"
        );
        assert_eq!(proxy_image("pilot:1.2"), "proxyv2:1.2");
    }
}
