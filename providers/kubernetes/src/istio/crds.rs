//! The Istio CustomResourceDefinitions an install needs.
//!
//! One set serves every supported version: each CRD declares all the API versions any
//! supported release serves (v1 from Istio 1.22), so two revisions of different releases
//! render byte-identical CRDs and never conflict. The storage version is the oldest API
//! version, the one every supported istiod reads. Schemas are simplified: `spec` and
//! `status` keep unknown fields instead of carrying Istio's full OpenAPI schema, so the
//! API server accepts any field and validation is left to istiod's validating webhook.

use serde_json::{json, Value};

use super::{cluster_meta, shared_labels};

/// One Istio kind.
struct IstioKind {
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    /// Served API versions, oldest first; the first one is the storage version.
    versions: &'static [&'static str],
}

const NETWORKING_V1: &[&str] = &["v1alpha3", "v1beta1", "v1"];
const SECURITY: &[&str] = &["v1beta1", "v1"];

const KINDS: &[IstioKind] = &[
    IstioKind {
        group: "networking.istio.io",
        kind: "DestinationRule",
        plural: "destinationrules",
        short_names: &["dr"],
        versions: NETWORKING_V1,
    },
    IstioKind {
        group: "networking.istio.io",
        kind: "EnvoyFilter",
        plural: "envoyfilters",
        short_names: &[],
        versions: &["v1alpha3"],
    },
    IstioKind {
        group: "networking.istio.io",
        kind: "Gateway",
        plural: "gateways",
        short_names: &["gw"],
        versions: NETWORKING_V1,
    },
    IstioKind {
        group: "networking.istio.io",
        kind: "ProxyConfig",
        plural: "proxyconfigs",
        short_names: &[],
        versions: &["v1beta1"],
    },
    IstioKind {
        group: "networking.istio.io",
        kind: "ServiceEntry",
        plural: "serviceentries",
        short_names: &["se"],
        versions: NETWORKING_V1,
    },
    IstioKind {
        group: "networking.istio.io",
        kind: "Sidecar",
        plural: "sidecars",
        short_names: &[],
        versions: NETWORKING_V1,
    },
    IstioKind {
        group: "networking.istio.io",
        kind: "VirtualService",
        plural: "virtualservices",
        short_names: &["vs"],
        versions: NETWORKING_V1,
    },
    IstioKind {
        group: "networking.istio.io",
        kind: "WorkloadEntry",
        plural: "workloadentries",
        short_names: &["we"],
        versions: NETWORKING_V1,
    },
    IstioKind {
        group: "networking.istio.io",
        kind: "WorkloadGroup",
        plural: "workloadgroups",
        short_names: &[],
        versions: NETWORKING_V1,
    },
    IstioKind {
        group: "security.istio.io",
        kind: "AuthorizationPolicy",
        plural: "authorizationpolicies",
        short_names: &["ap"],
        versions: SECURITY,
    },
    IstioKind {
        group: "security.istio.io",
        kind: "PeerAuthentication",
        plural: "peerauthentications",
        short_names: &[],
        versions: SECURITY,
    },
    IstioKind {
        group: "security.istio.io",
        kind: "RequestAuthentication",
        plural: "requestauthentications",
        short_names: &[],
        versions: SECURITY,
    },
    IstioKind {
        group: "telemetry.istio.io",
        kind: "Telemetry",
        plural: "telemetries",
        short_names: &[],
        versions: &["v1alpha1", "v1"],
    },
    IstioKind {
        group: "extensions.istio.io",
        kind: "WasmPlugin",
        plural: "wasmplugins",
        short_names: &[],
        versions: &["v1alpha1"],
    },
];

/// Every Istio CRD, in a fixed order.
pub(crate) fn render_crds() -> Vec<Value> {
    KINDS.iter().map(render_crd).collect()
}

fn render_crd(kind: &IstioKind) -> Value {
    let name = format!("{}.{}", kind.plural, kind.group);
    let versions: Vec<Value> = kind
        .versions
        .iter()
        .enumerate()
        .map(|(index, version)| render_version(version, index == 0))
        .collect();
    let mut names = json!({
        "kind": kind.kind,
        "listKind": format!("{}List", kind.kind),
        "plural": kind.plural,
        "singular": kind.kind.to_ascii_lowercase(),
        "categories": ["istio-io", kind.group.replace('.', "-")],
    });
    // An empty list would be dropped by the API server and read back as a change.
    if let (false, Value::Object(map)) = (kind.short_names.is_empty(), &mut names) {
        map.insert("shortNames".to_string(), json!(kind.short_names));
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": cluster_meta(&name, shared_labels(&[])),
        "spec": {
            "group": kind.group,
            "scope": "Namespaced",
            "names": names,
            "versions": versions,
        },
    })
}

fn render_version(version: &str, storage: bool) -> Value {
    let open_object = json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true });
    json!({
        "name": version,
        "served": true,
        "storage": storage,
        "subresources": { "status": {} },
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": { "spec": open_object, "status": open_object },
            },
        },
    })
}
