//! istiod's identity and permissions, and the read-only permissions a remote istiod gets.

use serde_json::{json, Value};

use super::{cluster_meta, namespaced_meta, RenderContext, ISTIO_NAMESPACE};

/// Istio API groups istiod watches.
const ISTIO_GROUPS: &[&str] = &[
    "config.istio.io",
    "security.istio.io",
    "networking.istio.io",
    "authentication.istio.io",
    "rbac.istio.io",
    "telemetry.istio.io",
    "extensions.istio.io",
];

const READ: &[&str] = &["get", "list", "watch"];
const MANAGE: &[&str] = &[
    "get", "list", "watch", "update", "patch", "create", "delete",
];

/// ServiceAccount, ClusterRoles, ClusterRoleBindings, Role and RoleBinding of istiod.
pub(crate) fn render_istiod_rbac(ctx: &RenderContext) -> Vec<Value> {
    let name = ctx.istiod_name();
    let labels = ctx.labels(&[("app", "istiod")]);
    let cluster_role = format!("istiod-clusterrole-{}-{ISTIO_NAMESPACE}", ctx.revision);
    let gateway_role = format!(
        "istiod-gateway-controller-{}-{ISTIO_NAMESPACE}",
        ctx.revision
    );
    vec![
        service_account(&name, labels.clone()),
        cluster_role_object(&cluster_role, labels.clone(), istiod_cluster_rules()),
        cluster_role_object(&gateway_role, labels.clone(), gateway_controller_rules()),
        cluster_role_binding(&cluster_role, labels.clone(), &name),
        cluster_role_binding(&gateway_role, labels.clone(), &name),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": namespaced_meta(&name, ISTIO_NAMESPACE, labels.clone()),
            "rules": istiod_namespace_rules(),
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": namespaced_meta(&name, ISTIO_NAMESPACE, labels),
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name },
            "subjects": [service_account_subject(&name)],
        }),
    ]
}

/// A ServiceAccount in istio-system.
pub(crate) fn service_account(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": namespaced_meta(name, ISTIO_NAMESPACE, labels),
    })
}

/// A ClusterRole.
pub(crate) fn cluster_role_object(name: &str, labels: Value, rules: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": cluster_meta(name, labels),
        "rules": rules,
    })
}

/// A ClusterRoleBinding of the ClusterRole `name` to a ServiceAccount of istio-system.
pub(crate) fn cluster_role_binding(name: &str, labels: Value, service_account: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": cluster_meta(name, labels),
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name },
        "subjects": [service_account_subject(service_account)],
    })
}

fn service_account_subject(name: &str) -> Value {
    json!({ "kind": "ServiceAccount", "name": name, "namespace": ISTIO_NAMESPACE })
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({ "apiGroups": groups, "resources": resources, "verbs": verbs })
}

/// Cluster-wide permissions of istiod: discovery, config, webhooks patching, CA.
fn istiod_cluster_rules() -> Value {
    json!([
        // istiod patches the caBundle of its injection webhook ...
        rule(
            &["admissionregistration.k8s.io"],
            &["mutatingwebhookconfigurations"],
            &["get", "list", "watch", "update", "patch"]
        ),
        // ... and the caBundle and failurePolicy of its validating webhooks.
        rule(
            &["admissionregistration.k8s.io"],
            &["validatingwebhookconfigurations"],
            &["get", "list", "watch", "update"]
        ),
        rule(ISTIO_GROUPS, &["*"], READ),
        rule(
            &["networking.istio.io"],
            &["workloadentries", "workloadentries/status"],
            MANAGE
        ),
        rule(
            &["apiextensions.k8s.io"],
            &["customresourcedefinitions"],
            READ
        ),
        rule(
            &[""],
            &["pods", "nodes", "services", "namespaces", "endpoints"],
            READ
        ),
        rule(&["discovery.k8s.io"], &["endpointslices"], READ),
        rule(
            &["networking.k8s.io"],
            &["ingresses", "ingressclasses"],
            READ
        ),
        rule(&["networking.k8s.io"], &["ingresses/status"], &["*"]),
        // The CA writes istio-ca-root-cert into every namespace.
        rule(
            &[""],
            &["configmaps"],
            &["create", "get", "list", "watch", "update"]
        ),
        rule(
            &["certificates.k8s.io"],
            &[
                "certificatesigningrequests",
                "certificatesigningrequests/approval",
                "certificatesigningrequests/status"
            ],
            &["update", "create", "get", "delete", "watch"]
        ),
        json!({ "apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
                "resourceNames": ["kubernetes.io/legacy-unknown"], "verbs": ["approve"] }),
        rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
        rule(
            &["authorization.k8s.io"],
            &["subjectaccessreviews"],
            &["create"]
        ),
        rule(
            &["networking.x-k8s.io", "gateway.networking.k8s.io"],
            &["*"],
            READ
        ),
        rule(
            &["networking.x-k8s.io", "gateway.networking.k8s.io"],
            &["*"],
            &["update", "patch"]
        ),
        rule(
            &["gateway.networking.k8s.io"],
            &["gatewayclasses"],
            &["create", "update", "patch", "delete"]
        ),
        // Remote secrets and gateway credentials.
        rule(&[""], &["secrets"], READ),
        rule(
            &["multicluster.x-k8s.io"],
            &["serviceexports"],
            &["get", "watch", "list", "create", "delete"]
        ),
        rule(&["multicluster.x-k8s.io"], &["serviceimports"], READ),
    ])
}

/// What istiod's Gateway API deployment controller manages.
fn gateway_controller_rules() -> Value {
    json!([
        rule(&["apps"], &["deployments"], MANAGE),
        rule(&[""], &["services", "serviceaccounts"], MANAGE),
    ])
}

/// istiod's permissions inside istio-system.
fn istiod_namespace_rules() -> Value {
    json!([
        // Dry-run creation proves the validating webhook rejects invalid config.
        rule(&["networking.istio.io"], &["gateways"], &["create"]),
        // The self-signed CA's istio-ca-secret.
        rule(
            &[""],
            &["secrets"],
            &["create", "get", "watch", "list", "update", "delete"]
        ),
        rule(&[""], &["configmaps"], &["delete"]),
        // Leader election.
        rule(
            &["coordination.k8s.io"],
            &["leases"],
            &["get", "update", "patch", "create"]
        ),
    ])
}

/// What an istiod of another cluster may read in this one (`istio-reader-clusterrole`).
pub(crate) fn reader_rules() -> Value {
    json!([
        rule(
            &[
                "config.istio.io",
                "security.istio.io",
                "networking.istio.io",
                "authentication.istio.io",
                "rbac.istio.io"
            ],
            &["*"],
            READ
        ),
        rule(
            &[""],
            &[
                "endpoints",
                "pods",
                "services",
                "nodes",
                "replicationcontrollers",
                "namespaces",
                "secrets"
            ],
            READ
        ),
        rule(&["networking.istio.io"], &["workloadentries"], READ),
        rule(
            &["apiextensions.k8s.io"],
            &["customresourcedefinitions"],
            READ
        ),
        rule(&["discovery.k8s.io"], &["endpointslices"], READ),
        rule(&["multicluster.x-k8s.io"], &["serviceexports"], READ),
        rule(&["apps"], &["replicasets"], READ),
        rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
        rule(
            &["authorization.k8s.io"],
            &["subjectaccessreviews"],
            &["create"]
        ),
    ])
}
