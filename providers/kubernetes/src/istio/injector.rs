//! The sidecar injector ConfigMap `istio-sidecar-injector-<revision>`.
//!
//! istiod reads it through the API: key `config` (YAML: policy, selectors, and the Go
//! templates it renders for each injected pod) and key `values` (JSON, the install values
//! a template may refer to). mesh writes its own, compact `sidecar` template: the
//! per-install values (proxy image, istiod address, cluster, mesh, network) are filled in
//! by mesh, so the template only looks at the pod (its labels and annotations) and at the
//! ProxyConfig istiod resolves for it. Gateways are rendered as complete Deployments, so no
//! `gateway` template is needed.

use serde_json::{json, Value};

use super::{namespaced_meta, RenderContext, ISTIO_NAMESPACE};

/// Go template rendered by istiod for every injected pod; the result is merged into the
/// pod. `@NAME@` placeholders are filled by mesh before the ConfigMap is written; they only
/// ever receive validated values (no quotes, spaces or newlines).
const SIDECAR_TEMPLATE: &str = r#"metadata:
  labels:
    security.istio.io/tlsMode: {{ printf "%q" (valueOrDefault (index .ObjectMeta.Labels "security.istio.io/tlsMode") "istio") }}
    service.istio.io/canonical-name: {{ printf "%q" (valueOrDefault (index .ObjectMeta.Labels "service.istio.io/canonical-name") (valueOrDefault (index .ObjectMeta.Labels "app.kubernetes.io/name") (valueOrDefault (index .ObjectMeta.Labels "app") .DeploymentMeta.Name))) }}
    service.istio.io/canonical-revision: {{ printf "%q" (valueOrDefault (index .ObjectMeta.Labels "service.istio.io/canonical-revision") (valueOrDefault (index .ObjectMeta.Labels "app.kubernetes.io/version") (valueOrDefault (index .ObjectMeta.Labels "version") "latest"))) }}
spec:
  securityContext:
    fsGroup: 1337
  initContainers:
  - name: istio-init
    image: "@PROXY_IMAGE@"
    args:
    - istio-iptables
    - "-p"
    - "15001"
    - "-z"
    - "15006"
    - "-u"
    - "1337"
    - "-m"
    - {{ printf "%q" (annotation .ObjectMeta "sidecar.istio.io/interceptionMode" .ProxyConfig.InterceptionMode) }}
    - "-i"
    - {{ printf "%q" (annotation .ObjectMeta "traffic.sidecar.istio.io/includeOutboundIPRanges" "*") }}
    - "-x"
    - {{ printf "%q" (annotation .ObjectMeta "traffic.sidecar.istio.io/excludeOutboundIPRanges" "") }}
    - "-b"
    - {{ printf "%q" (annotation .ObjectMeta "traffic.sidecar.istio.io/includeInboundPorts" "*") }}
    - "-d"
    - {{ printf "%q" (excludeInboundPort "15020" (excludeInboundPort "15021" (excludeInboundPort "15090" (annotation .ObjectMeta "traffic.sidecar.istio.io/excludeInboundPorts" "")))) }}
{{- if isset .ObjectMeta.Annotations "traffic.sidecar.istio.io/excludeOutboundPorts" }}
    - "-o"
    - {{ printf "%q" (annotation .ObjectMeta "traffic.sidecar.istio.io/excludeOutboundPorts" "") }}
{{- end }}
{{- if .ProxyConfig.ProxyMetadata }}
    env:
{{- range $key, $value := .ProxyConfig.ProxyMetadata }}
    - name: {{ $key }}
      value: {{ printf "%q" $value }}
{{- end }}
{{- end }}
    resources:
      requests:
        cpu: 100m
        memory: 128Mi
      limits:
        cpu: 2000m
        memory: 1024Mi
    securityContext:
      allowPrivilegeEscalation: false
      privileged: false
      readOnlyRootFilesystem: false
      runAsGroup: 0
      runAsNonRoot: false
      runAsUser: 0
      capabilities:
        add:
        - NET_ADMIN
        - NET_RAW
        drop:
        - ALL
  containers:
  - name: istio-proxy
    image: "@PROXY_IMAGE@"
    args:
    - proxy
    - sidecar
    - --domain
    - $(POD_NAMESPACE).svc.@CLUSTER_DOMAIN@
    - --proxyLogLevel=warning
    - --proxyComponentLogLevel=misc:error
    - --log_output_level=default:info
    ports:
    - containerPort: 15090
      name: http-envoy-prom
      protocol: TCP
    env:
    - name: JWT_POLICY
      value: third-party-jwt
    - name: PILOT_CERT_PROVIDER
      value: istiod
    - name: CA_ADDR
      value: "@ISTIOD_ADDRESS@"
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: INSTANCE_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    - name: SERVICE_ACCOUNT
      valueFrom:
        fieldRef:
          fieldPath: spec.serviceAccountName
    - name: HOST_IP
      valueFrom:
        fieldRef:
          fieldPath: status.hostIP
    - name: PROXY_CONFIG
      value: |
        {{ protoToJSON .ProxyConfig }}
    - name: ISTIO_META_CLUSTER_ID
      value: "@CLUSTER_ID@"
    - name: ISTIO_META_MESH_ID
      value: "@MESH_ID@"
    - name: TRUST_DOMAIN
      value: "@TRUST_DOMAIN@"
@NETWORK_ENV@    - name: ISTIO_META_INTERCEPTION_MODE
      value: {{ printf "%q" (annotation .ObjectMeta "sidecar.istio.io/interceptionMode" .ProxyConfig.InterceptionMode) }}
    - name: ISTIO_META_WORKLOAD_NAME
      value: {{ printf "%q" .DeploymentMeta.Name }}
    - name: ISTIO_META_OWNER
      value: {{ printf "%q" (printf "kubernetes://apis/%s/namespaces/%s/%ss/%s" .TypeMeta.APIVersion .DeploymentMeta.Namespace (toLower .TypeMeta.Kind) .DeploymentMeta.Name) }}
{{- range $key, $value := .ProxyConfig.ProxyMetadata }}
    - name: {{ $key }}
      value: {{ printf "%q" $value }}
{{- end }}
    readinessProbe:
      httpGet:
        path: /healthz/ready
        port: 15021
      initialDelaySeconds: 1
      periodSeconds: 2
      timeoutSeconds: 3
      failureThreshold: 30
    resources:
      requests:
        cpu: 100m
        memory: 128Mi
      limits:
        cpu: 2000m
        memory: 1024Mi
    securityContext:
      allowPrivilegeEscalation: false
      privileged: false
      readOnlyRootFilesystem: true
      runAsGroup: 1337
      runAsNonRoot: true
      runAsUser: 1337
      capabilities:
        drop:
        - ALL
    volumeMounts:
    - name: workload-socket
      mountPath: /var/run/secrets/workload-spiffe-uds
    - name: credential-socket
      mountPath: /var/run/secrets/credential-uds
    - name: workload-certs
      mountPath: /var/run/secrets/workload-spiffe-credentials
    - name: istiod-ca-cert
      mountPath: /var/run/secrets/istio
    - name: istio-data
      mountPath: /var/lib/istio/data
    - name: istio-envoy
      mountPath: /etc/istio/proxy
    - name: istio-token
      mountPath: /var/run/secrets/tokens
    - name: istio-podinfo
      mountPath: /etc/istio/pod
  volumes:
  - name: workload-socket
    emptyDir: {}
  - name: credential-socket
    emptyDir: {}
  - name: workload-certs
    emptyDir: {}
  - name: istio-envoy
    emptyDir:
      medium: Memory
  - name: istio-data
    emptyDir: {}
  - name: istio-podinfo
    downwardAPI:
      items:
      - path: labels
        fieldRef:
          fieldPath: metadata.labels
      - path: annotations
        fieldRef:
          fieldPath: metadata.annotations
  - name: istio-token
    projected:
      sources:
      - serviceAccountToken:
          audience: istio-ca
          expirationSeconds: 43200
          path: istio-token
  - name: istiod-ca-cert
    configMap:
      name: istio-ca-root-cert
"#;

/// Cluster DNS domain of service names.
pub(crate) const CLUSTER_DOMAIN: &str = "cluster.local";

/// ConfigMap `istio-sidecar-injector-<revision>`.
pub(crate) fn render_injector_config_map(ctx: &RenderContext) -> Value {
    let name = format!("istio-sidecar-injector-{}", ctx.revision);
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": namespaced_meta(&name, ISTIO_NAMESPACE, ctx.labels(&[("app", "sidecar-injector")])),
        "data": {
            "config": injector_config_yaml(ctx),
            "values": injector_values_json(ctx),
        },
    })
}

/// The `config` key: injection policy and templates.
fn injector_config_yaml(ctx: &RenderContext) -> String {
    let config = json!({
        "defaultTemplates": ["sidecar"],
        // Namespaces and pods opt in through the webhook's selectors.
        "policy": "enabled",
        "alwaysInjectSelector": [],
        "neverInjectSelector": [],
        "injectedAnnotations": {},
        "templates": { "sidecar": sidecar_template(ctx) },
    });
    // A JSON value with string keys always serializes.
    serde_yaml::to_string(&config).unwrap_or_default()
}

/// The `values` key. Only fields of Istio's install values are used: istiod parses them.
fn injector_values_json(ctx: &RenderContext) -> String {
    let spec = ctx.spec;
    let mut global = json!({
        "hub": spec.effective_hub(),
        "tag": ctx.version.image_tag,
        "meshID": spec.mesh_id,
        "multiCluster": { "clusterName": spec.cluster_name },
        "istioNamespace": ISTIO_NAMESPACE,
        "pilotCertProvider": "istiod",
        "jwtPolicy": "third-party-jwt",
        "proxy": { "image": "proxyv2", "clusterDomain": CLUSTER_DOMAIN, "statusPort": 15020 },
    });
    if let (Some(network), Value::Object(map)) = (&spec.network, &mut global) {
        map.insert("network".to_string(), json!(network));
    }
    let values = json!({
        "global": global,
        "revision": ctx.revision,
        "sidecarInjectorWebhook": { "rewriteAppHTTPProbe": true },
    });
    serde_json::to_string_pretty(&values).unwrap_or_default()
}

/// The sidecar template with this install's values filled in.
pub(crate) fn sidecar_template(ctx: &RenderContext) -> String {
    let network_env = match &ctx.spec.network {
        Some(network) => {
            format!("    - name: ISTIO_META_NETWORK\n      value: \"{network}\"\n")
        }
        None => String::new(),
    };
    SIDECAR_TEMPLATE
        .replace("@PROXY_IMAGE@", &ctx.image("proxyv2"))
        .replace("@ISTIOD_ADDRESS@", &ctx.istiod_address())
        .replace("@CLUSTER_DOMAIN@", CLUSTER_DOMAIN)
        .replace("@CLUSTER_ID@", &ctx.spec.cluster_name)
        .replace("@MESH_ID@", &ctx.spec.mesh_id)
        .replace("@TRUST_DOMAIN@", &ctx.spec.trust_domain)
        .replace("@NETWORK_ENV@", &network_env)
}
