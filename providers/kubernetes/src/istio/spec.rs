//! What an `istio_control_plane` asks for: plain data, built by the provider from mesh's
//! configuration values, checked by [`super::validate`] and rendered by
//! [`super::render_control_plane`].

use std::collections::BTreeMap;

use super::versions::revision_of;

/// Namespace of the control plane. mesh does not render it: users create it with
/// `kubernetes_namespace` so they can label it `topology.istio.io/network`.
pub const ISTIO_NAMESPACE: &str = "istio-system";

/// Image registry and repository used when the spec names none.
pub const DEFAULT_HUB: &str = "docker.io/istio";

/// One cluster's Istio control plane (a single revision of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlaneSpec {
    /// Istio release; must be one of [`super::supported_versions`].
    pub version: String,
    /// Revision name; `None` derives it from the version (`1.14.1` → `1-14-1`).
    pub revision: Option<String>,
    /// Image hub (registry/repository) of the `pilot` and `proxyv2` images;
    /// `None` means [`DEFAULT_HUB`].
    pub hub: Option<String>,
    /// Mesh ID, the same in every cluster of the mesh (`global.meshID`).
    pub mesh_id: String,
    /// This cluster's name in the mesh (`global.multiCluster.clusterName`, istiod's
    /// `CLUSTER_ID`); unique per cluster and equal to the name remote secrets use.
    pub cluster_name: String,
    /// Network of this cluster (`global.network`); `None` for a single-network mesh.
    /// Required by the east-west gateway.
    pub network: Option<String>,
    /// SPIFFE trust domain of workload identities.
    pub trust_domain: String,
    /// Envoy access log path (`meshConfig.accessLogFile`), e.g. `/dev/stdout`.
    pub access_log_file: Option<String>,
    /// What sidecars do with traffic to hosts outside the service registry.
    pub outbound_traffic_policy: OutboundPolicy,
    /// Let the sidecar agent answer DNS (`ISTIO_META_DNS_CAPTURE` and
    /// `ISTIO_META_DNS_AUTO_ALLOCATE` in the default proxy metadata).
    pub dns_capture: bool,
    /// Where istiod's signing CA comes from.
    pub ca: CaSource,
    /// Whether this revision also serves namespaces labelled `istio-injection=enabled`
    /// (and the non-revisioned `istiod` Service and default validator). At most one
    /// revision per cluster should set it.
    pub default_revision: bool,
    /// istiod Deployment settings.
    pub istiod: IstiodSettings,
    /// North-south ingress gateway, if any.
    pub ingress_gateway: Option<GatewaySpec>,
    /// East-west gateway (multi-network meshes), if any.
    pub eastwest_gateway: Option<EastWestSpec>,
}

impl ControlPlaneSpec {
    /// A spec with the defaults of a `minimal` profile install: self-signed CA,
    /// `ALLOW_ANY`, no DNS capture, no gateways, trust domain `cluster.local`.
    pub fn new(version: &str, mesh_id: &str, cluster_name: &str) -> Self {
        ControlPlaneSpec {
            version: version.to_string(),
            revision: None,
            hub: None,
            mesh_id: mesh_id.to_string(),
            cluster_name: cluster_name.to_string(),
            network: None,
            trust_domain: "cluster.local".to_string(),
            access_log_file: None,
            outbound_traffic_policy: OutboundPolicy::AllowAny,
            dns_capture: false,
            ca: CaSource::SelfSigned,
            default_revision: false,
            istiod: IstiodSettings::default(),
            ingress_gateway: None,
            eastwest_gateway: None,
        }
    }

    /// The revision this spec installs: the explicit one, or the one derived from the version.
    pub fn effective_revision(&self) -> String {
        match &self.revision {
            Some(revision) => revision.clone(),
            None => revision_of(&self.version),
        }
    }

    /// The image hub this spec pulls from.
    pub fn effective_hub(&self) -> &str {
        self.hub.as_deref().unwrap_or(DEFAULT_HUB)
    }
}

/// `meshConfig.outboundTrafficPolicy.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundPolicy {
    /// Unknown hosts are passed through (`ALLOW_ANY`).
    AllowAny,
    /// Only hosts in the service registry (Services and ServiceEntries) are reachable
    /// (`REGISTRY_ONLY`).
    RegistryOnly,
}

impl OutboundPolicy {
    /// The mesh config spelling.
    pub fn as_mesh_config(self) -> &'static str {
        match self {
            OutboundPolicy::AllowAny => "ALLOW_ANY",
            OutboundPolicy::RegistryOnly => "REGISTRY_ONLY",
        }
    }
}

/// Where istiod finds the intermediate CA it signs workload certificates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// istiod creates its own root (`istio-ca-secret`). Clusters with different
    /// self-signed roots do not trust each other, so multi-cluster meshes need a plug-in CA.
    SelfSigned,
    /// The Secret `cacerts` in istio-system (keys `ca-cert.pem`, `ca-key.pem`,
    /// `root-cert.pem`, `cert-chain.pem`), mounted at `/etc/cacerts`. The Secret is a
    /// user object; istiod does not start until it exists.
    CacertsSecret,
    /// The same four files from Key Vault, through a Secrets Store CSI volume
    /// (driver `secrets-store.csi.k8s.io`) mounted at `/etc/cacerts`. The
    /// SecretProviderClass (in istio-system, with those four file names as object
    /// aliases) is a user object.
    KeyVault {
        /// Name of the SecretProviderClass in istio-system.
        secret_provider_class: String,
    },
}

/// istiod Deployment settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IstiodSettings {
    /// Number of istiod replicas (no autoscaler is rendered).
    pub replicas: u32,
    /// Extra environment variables for istiod (feature flags); they may not redefine the
    /// variables mesh sets itself.
    pub env: BTreeMap<String, String>,
    /// Where istiod pods may run.
    pub scheduling: Scheduling,
}

impl Default for IstiodSettings {
    fn default() -> Self {
        IstiodSettings {
            replicas: 1,
            env: BTreeMap::new(),
            scheduling: Scheduling::default(),
        }
    }
}

/// Node placement of a Deployment's pods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scheduling {
    /// `spec.nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// `spec.tolerations`, e.g. to run on a tainted AKS system pool.
    pub tolerations: Vec<Toleration>,
}

/// One pod toleration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    /// Taint key; `None` with operator `Exists` tolerates every taint.
    pub key: Option<String>,
    /// `Equal` or `Exists`.
    pub operator: String,
    /// Taint value (with `Equal`).
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; `None` matches all effects.
    pub effect: Option<String>,
}

/// Kubernetes Service type of a gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceType {
    /// Reached only inside the cluster (e.g. behind an Application Gateway ingress).
    ClusterIp,
    /// Exposed on every node's port (`node_port` of each port, or one the API picks).
    NodePort,
    /// Exposed through the cloud load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The Kubernetes spelling.
    pub fn as_kubernetes(self) -> &'static str {
        match self {
            ServiceType::ClusterIp => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// How a gateway's Envoy builds its clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterMode {
    /// Istio's default.
    Standard,
    /// `ISTIO_META_ROUTER_MODE=sni-dnat`: adds the SNI clusters AUTO_PASSTHROUGH needs.
    SniDnat,
}

/// One Service port of a gateway (TCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPort {
    /// Port name (a DNS label; Istio reads the protocol from its prefix, e.g. `http2`).
    pub name: String,
    /// Service port.
    pub port: u32,
    /// Container port Envoy listens on; 1024 or higher, the gateway runs unprivileged.
    pub target_port: u32,
    /// Fixed node port (NodePort and LoadBalancer Services only).
    pub node_port: Option<u32>,
}

impl GatewayPort {
    /// A port without a fixed node port.
    pub fn new(name: &str, port: u32, target_port: u32) -> Self {
        GatewayPort {
            name: name.to_string(),
            port,
            target_port,
            node_port: None,
        }
    }
}

/// The ports of Istio's default ingress gateway: status 15021, http2 80→8080, https 443→8443.
pub fn default_ingress_ports() -> Vec<GatewayPort> {
    vec![
        GatewayPort::new("status-port", 15021, 15021),
        GatewayPort::new("http2", 80, 8080),
        GatewayPort::new("https", 443, 8443),
    ]
}

/// A north-south ingress gateway (an Envoy Deployment plus its Service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySpec {
    /// Deployment and Service name (`istio-ingressgateway` by default).
    pub name: String,
    /// Namespace; anything but istio-system is a user-managed namespace.
    pub namespace: String,
    /// Pod labels, also the Service selector and what Istio `Gateway` objects select
    /// (default `app: istio-ingressgateway`, `istio: ingressgateway`).
    pub labels: BTreeMap<String, String>,
    /// Service type.
    pub service_type: ServiceType,
    /// Service ports.
    pub ports: Vec<GatewayPort>,
    /// Envoy router mode.
    pub router_mode: RouterMode,
    /// Number of gateway replicas.
    pub replicas: u32,
    /// Ask Azure for an internal load balancer
    /// (`service.beta.kubernetes.io/azure-load-balancer-internal: "true"`).
    pub internal_load_balancer: bool,
    /// Extra Service annotations.
    pub service_annotations: BTreeMap<String, String>,
    /// SecretProviderClass (in the gateway's namespace) whose files are mounted at
    /// `/etc/istio/ingressgateway-certs`, e.g. a frontend certificate from Key Vault.
    pub certs_secret_provider_class: Option<String>,
    /// Where gateway pods may run.
    pub scheduling: Scheduling,
}

impl Default for GatewaySpec {
    fn default() -> Self {
        GatewaySpec {
            name: "istio-ingressgateway".to_string(),
            namespace: ISTIO_NAMESPACE.to_string(),
            labels: BTreeMap::from([
                ("app".to_string(), "istio-ingressgateway".to_string()),
                ("istio".to_string(), "ingressgateway".to_string()),
            ]),
            service_type: ServiceType::LoadBalancer,
            ports: default_ingress_ports(),
            router_mode: RouterMode::Standard,
            replicas: 1,
            internal_load_balancer: false,
            service_annotations: BTreeMap::new(),
            certs_secret_provider_class: None,
            scheduling: Scheduling::default(),
        }
    }
}

/// The east-west gateway of a multi-network mesh, always in istio-system with a
/// LoadBalancer Service on 15021 (status), 15443 (mTLS passthrough), 15012 (istiod xDS)
/// and 15017 (istiod webhooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EastWestSpec {
    /// Deployment and Service name (`istio-eastwestgateway` by default).
    pub name: String,
    /// Number of gateway replicas.
    pub replicas: u32,
    /// Ask Azure for an internal load balancer (peered VNets).
    pub internal_load_balancer: bool,
    /// Extra Service annotations.
    pub service_annotations: BTreeMap<String, String>,
    /// Render the `cross-network-gateway` Gateway that exposes every `*.local` service
    /// through this gateway (AUTO_PASSTHROUGH on 15443).
    pub expose_services: bool,
    /// Where gateway pods may run.
    pub scheduling: Scheduling,
}

impl Default for EastWestSpec {
    fn default() -> Self {
        EastWestSpec {
            name: "istio-eastwestgateway".to_string(),
            replicas: 1,
            internal_load_balancer: false,
            service_annotations: BTreeMap::new(),
            expose_services: true,
            scheduling: Scheduling::default(),
        }
    }
}
