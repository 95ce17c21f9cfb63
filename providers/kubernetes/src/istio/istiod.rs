//! istiod itself: its Deployment, Services and admission webhooks.

use serde_json::{json, Value};

use super::injector::CLUSTER_DOMAIN;
use super::{
    cluster_meta, namespaced_meta, string_map, CaSource, RenderContext, Scheduling,
    ISTIO_NAMESPACE, REVISION_LABEL,
};

/// Where istiod reads a plug-in CA (`ROOT_CA_DIR`).
pub(crate) const CACERTS_MOUNT: &str = "/etc/cacerts";
/// The CSI driver of the Secrets Store (Key Vault provider).
pub(crate) const SECRETS_STORE_DRIVER: &str = "secrets-store.csi.k8s.io";

/// Deployment `istiod-<revision>`.
pub(crate) fn render_deployment(ctx: &RenderContext) -> Value {
    let name = ctx.istiod_name();
    let selector = json!({ "app": "istiod", REVISION_LABEL: ctx.revision });
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": namespaced_meta(&name, ISTIO_NAMESPACE,
            ctx.labels(&[("app", "istiod"), ("istio", "pilot")])),
        "spec": {
            "replicas": ctx.spec.istiod.replicas,
            "strategy": { "rollingUpdate": { "maxSurge": "100%", "maxUnavailable": "25%" } },
            "selector": { "matchLabels": selector },
            "template": {
                "metadata": {
                    "labels": {
                        "app": "istiod",
                        REVISION_LABEL: ctx.revision,
                        "istio": "istiod",
                        "sidecar.istio.io/inject": "false",
                    },
                    "annotations": {
                        "prometheus.io/port": "15014",
                        "prometheus.io/scrape": "true",
                        "sidecar.istio.io/inject": "false",
                    },
                },
                "spec": pod_spec(ctx, &name),
            },
        },
    })
}

fn pod_spec(ctx: &RenderContext, service_account: &str) -> Value {
    let mut spec = json!({
        "serviceAccountName": service_account,
        "containers": [discovery_container(ctx)],
        "volumes": volumes(&ctx.spec.ca),
    });
    apply_scheduling(&mut spec, &ctx.spec.istiod.scheduling);
    spec
}

/// Adds `nodeSelector` and `tolerations` to a pod spec when there are any.
pub(crate) fn apply_scheduling(pod_spec: &mut Value, scheduling: &Scheduling) {
    let Value::Object(map) = pod_spec else {
        return;
    };
    if !scheduling.node_selector.is_empty() {
        map.insert(
            "nodeSelector".to_string(),
            string_map(&scheduling.node_selector),
        );
    }
    if scheduling.tolerations.is_empty() {
        return;
    }
    let tolerations: Vec<Value> = scheduling
        .tolerations
        .iter()
        .map(|toleration| {
            let mut value = json!({ "operator": toleration.operator });
            if let Value::Object(fields) = &mut value {
                let optional = [
                    ("key", &toleration.key),
                    ("value", &toleration.value),
                    ("effect", &toleration.effect),
                ];
                for (field, content) in optional {
                    if let Some(content) = content {
                        fields.insert(field.to_string(), json!(content));
                    }
                }
            }
            value
        })
        .collect();
    map.insert("tolerations".to_string(), Value::Array(tolerations));
}

fn discovery_container(ctx: &RenderContext) -> Value {
    json!({
        "name": "discovery",
        "image": ctx.image("pilot"),
        "args": [
            "discovery",
            "--monitoringAddr=:15014",
            "--log_output_level=default:info",
            "--domain", CLUSTER_DOMAIN,
            "--keepaliveMaxServerConnectionAge", "30m",
        ],
        "ports": [
            { "containerPort": 8080, "protocol": "TCP", "name": "http-debug" },
            { "containerPort": 15010, "protocol": "TCP", "name": "grpc-xds" },
            { "containerPort": 15012, "protocol": "TCP", "name": "tls-xds" },
            { "containerPort": 15017, "protocol": "TCP", "name": "https-webhooks" },
            { "containerPort": 15014, "protocol": "TCP", "name": "http-monitoring" },
        ],
        "readinessProbe": {
            "httpGet": { "path": "/ready", "port": 8080 },
            "initialDelaySeconds": 1,
            "periodSeconds": 3,
            "timeoutSeconds": 5,
        },
        "env": env(ctx),
        "resources": { "requests": { "cpu": "500m", "memory": "2048Mi" } },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsUser": 1337,
            "runAsGroup": 1337,
            "runAsNonRoot": true,
            "capabilities": { "drop": ["ALL"] },
        },
        "volumeMounts": volume_mounts(&ctx.spec.ca),
    })
}

fn field_env(name: &str, field_path: &str) -> Value {
    json!({ "name": name, "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": field_path } } })
}

fn value_env(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

fn env(ctx: &RenderContext) -> Vec<Value> {
    let mut env = vec![
        value_env("REVISION", &ctx.revision),
        value_env("JWT_POLICY", "third-party-jwt"),
        value_env("PILOT_CERT_PROVIDER", "istiod"),
        field_env("POD_NAME", "metadata.name"),
        field_env("POD_NAMESPACE", "metadata.namespace"),
        field_env("SERVICE_ACCOUNT", "spec.serviceAccountName"),
        value_env("KUBECONFIG", "/var/run/secrets/remote/config"),
        value_env("ISTIOD_ADDR", &ctx.istiod_address()),
        value_env("PILOT_ENABLE_ANALYSIS", "false"),
        value_env("CLUSTER_ID", &ctx.spec.cluster_name),
        value_env("INJECTION_WEBHOOK_CONFIG_NAME", &injector_webhook_name(ctx)),
        value_env(
            "VALIDATION_WEBHOOK_CONFIG_NAME",
            &validator_webhook_name(ctx),
        ),
    ];
    if ctx.spec.ca != CaSource::SelfSigned {
        // Intermediate rotation (a new Key Vault secret version, an updated cacerts)
        // is picked up without restarting istiod.
        env.push(value_env("AUTO_RELOAD_PLUGIN_CERTS", "true"));
    }
    for (name, value) in &ctx.spec.istiod.env {
        env.push(value_env(name, value));
    }
    env
}

fn volume_mounts(ca: &CaSource) -> Vec<Value> {
    let mut mounts = vec![
        json!({ "name": "istio-token", "mountPath": "/var/run/secrets/tokens", "readOnly": true }),
        json!({ "name": "local-certs", "mountPath": "/var/run/secrets/istio-dns" }),
        json!({ "name": "istio-kubeconfig", "mountPath": "/var/run/secrets/remote", "readOnly": true }),
    ];
    if *ca != CaSource::SelfSigned {
        mounts.push(json!({ "name": "cacerts", "mountPath": CACERTS_MOUNT, "readOnly": true }));
    }
    mounts
}

fn volumes(ca: &CaSource) -> Vec<Value> {
    let mut volumes = vec![
        json!({ "name": "local-certs", "emptyDir": { "medium": "Memory" } }),
        json!({ "name": "istio-token", "projected": { "sources": [{ "serviceAccountToken": {
            "audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token" } }] } }),
        json!({ "name": "istio-kubeconfig", "secret": { "secretName": "istio-kubeconfig", "optional": true } }),
    ];
    if let Some(cacerts) = cacerts_volume(ca) {
        volumes.push(cacerts);
    }
    volumes
}

/// The `cacerts` volume for a CA source; `None` for a self-signed CA.
fn cacerts_volume(ca: &CaSource) -> Option<Value> {
    match ca {
        CaSource::SelfSigned => None,
        // Not optional: an istiod started without it would mint its own root and
        // silently split the mesh's trust.
        CaSource::CacertsSecret => Some(json!({
            "name": "cacerts",
            "secret": { "secretName": "cacerts", "optional": false },
        })),
        CaSource::KeyVault {
            secret_provider_class,
        } => Some(json!({
            "name": "cacerts",
            "csi": {
                "driver": SECRETS_STORE_DRIVER,
                "readOnly": true,
                "volumeAttributes": { "secretProviderClass": secret_provider_class },
            },
        })),
    }
}

/// Service `istiod-<revision>`, plus the non-revisioned `istiod` for the default revision.
pub(crate) fn render_services(ctx: &RenderContext) -> Vec<Value> {
    let mut services = vec![istiod_service(ctx, &ctx.istiod_name())];
    if ctx.spec.default_revision {
        services.push(istiod_service(ctx, "istiod"));
    }
    services
}

fn istiod_service(ctx: &RenderContext, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": namespaced_meta(name, ISTIO_NAMESPACE,
            ctx.labels(&[("app", "istiod"), ("istio", "pilot")])),
        "spec": {
            "type": "ClusterIP",
            "ports": [
                { "name": "grpc-xds", "port": 15010, "protocol": "TCP" },
                { "name": "https-dns", "port": 15012, "protocol": "TCP" },
                { "name": "https-webhook", "port": 443, "targetPort": 15017, "protocol": "TCP" },
                { "name": "http-monitoring", "port": 15014, "protocol": "TCP" },
            ],
            "selector": { "app": "istiod", REVISION_LABEL: ctx.revision },
        },
    })
}

/// `istio-sidecar-injector-<revision>`.
pub(crate) fn injector_webhook_name(ctx: &RenderContext) -> String {
    format!("istio-sidecar-injector-{}", ctx.revision)
}

/// `istio-validator-<revision>-istio-system`.
pub(crate) fn validator_webhook_name(ctx: &RenderContext) -> String {
    format!("istio-validator-{}-{ISTIO_NAMESPACE}", ctx.revision)
}

/// The injection and validation webhooks.
pub(crate) fn render_webhooks(ctx: &RenderContext) -> Vec<Value> {
    let mut webhooks = vec![mutating_webhook(ctx), validating_webhook(ctx)];
    if ctx.spec.default_revision {
        webhooks.push(default_validating_webhook(ctx));
    }
    webhooks
}

fn service_ref(ctx: &RenderContext, path: &str) -> Value {
    json!({ "service": { "name": ctx.istiod_name(), "namespace": ISTIO_NAMESPACE, "path": path, "port": 443 } })
}

fn exists(key: &str) -> Value {
    json!({ "key": key, "operator": "DoesNotExist" })
}

fn is_in(key: &str, values: &[&str]) -> Value {
    json!({ "key": key, "operator": "In", "values": values })
}

fn not_in(key: &str, values: &[&str]) -> Value {
    json!({ "key": key, "operator": "NotIn", "values": values })
}

/// One injection webhook entry with the given selectors.
fn injection_webhook(
    ctx: &RenderContext,
    name: &str,
    namespace: Vec<Value>,
    object: Vec<Value>,
) -> Value {
    json!({
        "name": name,
        "clientConfig": service_ref(ctx, "/inject"),
        "rules": [{ "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"] }],
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "reinvocationPolicy": "Never",
        "admissionReviewVersions": ["v1beta1", "v1"],
        "namespaceSelector": { "matchExpressions": namespace },
        "objectSelector": { "matchExpressions": object },
    })
}

/// Pods are injected by this revision when their namespace is labelled
/// `istio.io/rev=<revision>` (and not `istio-injection`, which takes precedence), or when the
/// pod itself is; the default revision also takes `istio-injection=enabled` namespaces and
/// unlabelled pods asking `sidecar.istio.io/inject=true`.
fn mutating_webhook(ctx: &RenderContext) -> Value {
    let rev = ctx.revision.as_str();
    let opt_out = not_in("sidecar.istio.io/inject", &["false"]);
    let mut webhooks = vec![
        injection_webhook(
            ctx,
            "rev.namespace.sidecar-injector.istio.io",
            vec![is_in(REVISION_LABEL, &[rev]), exists("istio-injection")],
            vec![opt_out.clone()],
        ),
        injection_webhook(
            ctx,
            "rev.object.sidecar-injector.istio.io",
            vec![exists(REVISION_LABEL), exists("istio-injection")],
            vec![opt_out.clone(), is_in(REVISION_LABEL, &[rev])],
        ),
    ];
    if ctx.spec.default_revision {
        webhooks.push(injection_webhook(
            ctx,
            "namespace.sidecar-injector.istio.io",
            vec![is_in("istio-injection", &["enabled"])],
            vec![opt_out],
        ));
        webhooks.push(injection_webhook(
            ctx,
            "object.sidecar-injector.istio.io",
            vec![exists("istio-injection"), exists(REVISION_LABEL)],
            vec![
                is_in("sidecar.istio.io/inject", &["true"]),
                exists(REVISION_LABEL),
            ],
        ));
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": cluster_meta(&injector_webhook_name(ctx), ctx.labels(&[("app", "sidecar-injector")])),
        "webhooks": webhooks,
    })
}

fn validation_rules() -> Value {
    json!([{
        "operations": ["CREATE", "UPDATE"],
        "apiGroups": ["security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io"],
        "apiVersions": ["*"],
        "resources": ["*"],
    }])
}

/// Validates Istio objects labelled with this revision. It fails open until istiod serves
/// it; istiod then patches in its CA bundle and `failurePolicy: Fail`.
fn validating_webhook(ctx: &RenderContext) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": cluster_meta(&validator_webhook_name(ctx),
            ctx.labels(&[("app", "istiod"), ("istio", "istiod")])),
        "webhooks": [{
            "name": "rev.validation.istio.io",
            "clientConfig": service_ref(ctx, "/validate"),
            "rules": validation_rules(),
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1beta1", "v1"],
            "objectSelector": { "matchExpressions": [is_in(REVISION_LABEL, &[ctx.revision.as_str()])] },
        }],
    })
}

/// The default revision validates Istio objects that name no revision.
fn default_validating_webhook(ctx: &RenderContext) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": cluster_meta("istiod-default-validator",
            ctx.labels(&[("app", "istiod"), ("istio", "istiod")])),
        "webhooks": [{
            "name": "validation.istio.io",
            "clientConfig": service_ref(ctx, "/validate"),
            "rules": validation_rules(),
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1beta1", "v1"],
            "objectSelector": { "matchExpressions": [exists(REVISION_LABEL)] },
        }],
    })
}
