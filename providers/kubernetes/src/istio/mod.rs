//! Istio: the objects of an install and of multi-cluster wiring, rendered by mesh itself.
//!
//! Everything here is pure: a [`ControlPlaneSpec`] or [`RemoteSecretSpec`] goes in, plain
//! Kubernetes objects (`serde_json::Value` with `apiVersion`, `kind`, `metadata`, ...) come
//! out, in the order they must be applied:
//!
//! 1. the Istio CRDs (shared by every revision, identical whatever the spec);
//! 2. identities and configuration: ServiceAccounts, RBAC, the mesh-config and
//!    sidecar-injector ConfigMaps;
//! 3. workloads: istiod and the gateways (Deployments and Services);
//! 4. the admission webhooks (last, so they never point at an istiod that does not exist);
//! 5. Istio custom resources mesh owns (the cross-network Gateway).
//!
//! Every object carries `app.kubernetes.io/managed-by: mesh`; every object of one revision
//! also carries `istio.io/rev: <revision>`, so a provider can prune what a new render no
//! longer contains. CRDs carry no revision label: they belong to all revisions and must only
//! be deleted with the last one (deleting a CRD deletes every Istio object of its kind).
//!
//! istiod edits two fields of the objects mesh renders and mesh must not fight over them:
//! see [`fields_written_by_istiod`]. The install is described in `docs/istio-install.md`.

mod crds;
mod gateways;
mod injector;
mod istiod;
mod mesh_config;
mod rbac;
mod remote_secret;
mod spec;
mod validate;
mod versions;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_gateways;
#[cfg(test)]
mod tests_remote;

use serde_json::{json, Map, Value};

pub use remote_secret::{
    read_reader_token, render_remote_reader, render_remote_secret, validate_remote_secret,
    ReaderNames, ReaderToken, RemoteSecretSpec, READER_SERVICE_ACCOUNT, READER_TOKEN_SECRET,
};
pub use spec::{
    default_ingress_ports, CaSource, ControlPlaneSpec, EastWestSpec, GatewayPort, GatewaySpec,
    IstiodSettings, OutboundPolicy, RouterMode, Scheduling, ServiceType, Toleration, DEFAULT_HUB,
    ISTIO_NAMESPACE,
};
pub use validate::validate;
pub use versions::{revision_of, supported_versions, version_info, IstioVersion};

/// Label every object mesh renders carries, with value [`MANAGED_BY`].
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "mesh";
/// Label naming the revision an object belongs to (absent on shared objects: CRDs).
pub const REVISION_LABEL: &str = "istio.io/rev";

/// Why Istio objects could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum IstioError {
    /// The spec failed [`validate`]; every problem found is listed.
    #[error("invalid Istio control plane: {}", .0.join("; "))]
    InvalidSpec(Vec<String>),
    /// The reader token Secret is not (yet) usable; the message never contains the token.
    #[error("reader token secret: {0}")]
    ReaderToken(String),
}

/// Renders every object of one control-plane revision, in apply order (see the module docs).
pub fn render_control_plane(spec: &ControlPlaneSpec) -> Result<Vec<Value>, IstioError> {
    validate(spec).map_err(IstioError::InvalidSpec)?;
    let Some(version) = version_info(&spec.version) else {
        // validate() rejects unsupported versions, so this is only a guard.
        return Err(IstioError::InvalidSpec(vec![format!(
            "version {:?} is not supported",
            spec.version
        )]));
    };
    let ctx = RenderContext {
        spec,
        version,
        revision: spec.effective_revision(),
    };
    let mut objects = crds::render_crds();
    objects.extend(rbac::render_istiod_rbac(&ctx));
    objects.extend(gateways::render_identities(&ctx));
    objects.push(mesh_config::render_mesh_config_map(&ctx));
    objects.push(injector::render_injector_config_map(&ctx));
    objects.push(istiod::render_deployment(&ctx));
    objects.extend(istiod::render_services(&ctx));
    objects.extend(gateways::render_workloads(&ctx));
    objects.extend(istiod::render_webhooks(&ctx));
    objects.extend(gateways::render_istio_config(&ctx));
    Ok(objects)
}

/// Fields of rendered objects that istiod rewrites at run time, as
/// `(kind, path)` with `*` for every element of a list. A provider comparing live objects
/// with a render must ignore them, and server-side apply must not claim them (mesh never
/// sets `caBundle`; it sets the validating webhooks' initial `failurePolicy: Ignore`,
/// which istiod switches to `Fail` once it serves the webhook).
pub fn fields_written_by_istiod() -> &'static [(&'static str, &'static str)] {
    &[
        (
            "MutatingWebhookConfiguration",
            "webhooks/*/clientConfig/caBundle",
        ),
        (
            "ValidatingWebhookConfiguration",
            "webhooks/*/clientConfig/caBundle",
        ),
        ("ValidatingWebhookConfiguration", "webhooks/*/failurePolicy"),
    ]
}

/// Whether a provider may delete `declared` — an object of an earlier render of a revision,
/// now pruned or destroyed — given what the cluster has (`live`). Never for objects shared
/// by all revisions (the CRDs: deleting one deletes every Istio object of its kind); for the
/// others only while the live object still carries the same `istio.io/rev`, since another
/// revision may have taken it over (gateways moved during an upgrade, the `istiod` Service and
/// `istiod-default-validator` of the default revision).
pub fn may_delete(declared: &Value, live: &Value) -> bool {
    let revision_of = |object: &Value| {
        object
            .pointer("/metadata/labels")
            .and_then(|labels| labels.get(REVISION_LABEL))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match revision_of(declared) {
        None => false,
        Some(revision) => revision_of(live).is_some_and(|live| live == revision),
    }
}

/// What every renderer needs: the spec, its pinned version and its resolved revision.
pub(crate) struct RenderContext<'a> {
    pub(crate) spec: &'a ControlPlaneSpec,
    pub(crate) version: &'static IstioVersion,
    pub(crate) revision: String,
}

impl RenderContext<'_> {
    /// `istiod-<revision>`: Deployment, Service and ServiceAccount name.
    pub(crate) fn istiod_name(&self) -> String {
        format!("istiod-{}", self.revision)
    }

    /// istiod's xDS and CA address inside the cluster.
    pub(crate) fn istiod_address(&self) -> String {
        format!("istiod-{}.{ISTIO_NAMESPACE}.svc:15012", self.revision)
    }

    /// `<hub>/<image>:<tag>` for this version.
    pub(crate) fn image(&self, image: &str) -> String {
        format!(
            "{}/{image}:{}",
            self.spec.effective_hub(),
            self.version.image_tag
        )
    }

    /// Labels of every object of this revision, plus `extra`.
    pub(crate) fn labels(&self, extra: &[(&str, &str)]) -> Value {
        revision_labels(&self.revision, extra)
    }
}

/// Labels of an object that belongs to `revision`, plus `extra`.
pub(crate) fn revision_labels(revision: &str, extra: &[(&str, &str)]) -> Value {
    let mut labels = shared_labels(extra);
    if let Value::Object(map) = &mut labels {
        map.insert(REVISION_LABEL.to_string(), json!(revision));
    }
    labels
}

/// Labels of an object shared by all revisions, plus `extra`.
pub(crate) fn shared_labels(extra: &[(&str, &str)]) -> Value {
    let mut map = Map::new();
    map.insert(MANAGED_BY_LABEL.to_string(), json!(MANAGED_BY));
    map.insert("app.kubernetes.io/part-of".to_string(), json!("istio"));
    for (key, value) in extra {
        map.insert((*key).to_string(), json!(value));
    }
    Value::Object(map)
}

/// `metadata` of a namespaced object.
pub(crate) fn namespaced_meta(name: &str, namespace: &str, labels: Value) -> Value {
    json!({ "name": name, "namespace": namespace, "labels": labels })
}

/// `metadata` of a cluster-scoped object.
pub(crate) fn cluster_meta(name: &str, labels: Value) -> Value {
    json!({ "name": name, "labels": labels })
}

/// A `BTreeMap<String, String>` as a JSON object.
pub(crate) fn string_map(map: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(key, value)| (key.clone(), json!(value)))
            .collect(),
    )
}
