//! Istio sidecar injection, as istiod's mutating webhook does it: a Pod created in a namespace
//! labelled `istio-injection=enabled` (the default revision) or `istio.io/rev=<rev>` gets an
//! `istio-proxy` container (and an `istio-init` init container) when an istiod of that
//! revision runs in `istio-system`: a Deployment labelled `istio.io/rev=<rev>`, or for the
//! default revision `istio.io/rev=default` or `app=istiod` without a revision label. The proxy
//! image is the istiod image's registry and tag with `proxyv2` as the image name.

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

/// The istiod Deployment serving `revision`.
fn istiod<'a>(objects: &'a ClusterObjects, revision: &str) -> Option<&'a Json> {
    let prefix = format!("apps/deployments/{ISTIO_NAMESPACE}/");
    objects
        .with_prefix(&prefix)
        .map(|(_, s)| &s.object)
        .find(|d| match label(d, "istio.io/rev") {
            Some(rev) => rev == revision,
            None => revision == "default" && label(d, "app") == Some("istiod"),
        })
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
    let Some(istiod) = istiod(objects, &revision) else {
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
                {"name": "ISTIO_META_CLUSTER_ID", "value": "Kubernetes"}],
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
    use super::*;

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
