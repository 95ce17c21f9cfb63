//! Trust: every cluster's istiod signs with an intermediate CA that chains to one root; no
//! cluster of a multi-cluster mesh is left on Istio's self-signed CA; no certificate expires
//! within 30 days.
//!
//! A cluster's CA is followed from its control plane's `ca_source`: the `cacerts` Secret in
//! istio-system (its `root-cert.pem` and `ca-cert.pem`), or the SecretProviderClass that
//! mounts the same files from Key Vault (through the Key Vault secrets and certificates the
//! deployment puts there). Each file's value leads to a `pki_root_ca` or `pki_intermediate_ca`
//! — by equal PEM text once known, by the placeholder naming its origin before that.

use mesh_engine::provider::PlanFinding;
use mesh_engine::value::Value;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::model::{Cluster, MeshModel};
use super::values::{blocks, effective, json_str, known_string, text_of, Text};
use super::{FindingExt, Rule};
use crate::istio::ISTIO_NAMESPACE;

/// Certificates expiring sooner than this are reported.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// The files of Istio's plug-in CA.
const CA_FILES: [&str; 4] = [
    "ca-cert.pem",
    "ca-key.pem",
    "root-cert.pem",
    "cert-chain.pem",
];

/// A root of trust.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Root {
    /// A `pki_root_ca` of the deployment.
    Resource(String),
    /// A certificate from elsewhere, by the start of its SHA-256 digest.
    Pem(String),
}

impl Root {
    fn describe(&self) -> String {
        match self {
            Root::Resource(address) => address.clone(),
            Root::Pem(digest) => {
                format!("a root certificate from outside the spec (sha256 {digest}…)")
            }
        }
    }

    fn address(&self) -> Option<String> {
        match self {
            Root::Resource(address) => Some(address.clone()),
            Root::Pem(_) => None,
        }
    }
}

/// Where a PEM value comes from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Root(Root),
    Intermediate(String),
    Unknown,
}

/// What looking for a cluster's CA found.
enum Lookup {
    /// The root its istiod's CA chains to.
    Anchor(Anchor),
    /// Something wrong on the way.
    Finding(Box<PlanFinding>),
    /// Nothing to decide with yet (values known only after apply, objects from elsewhere).
    Undecided,
}

/// What a cluster's istiod signs with.
#[derive(Debug, Clone)]
struct Anchor {
    /// The resource findings about it point at (its intermediate CA, else the CA files).
    address: String,
    /// The root its workloads trust.
    root: Root,
    /// Resources on the way.
    evidence: Vec<String>,
}

/// Every trust rule.
pub fn check(model: &MeshModel<'_>, now: OffsetDateTime) -> Vec<PlanFinding> {
    let mut out = expiry(model, now);
    let multi_cluster = model.primaries().count() >= 2;
    let mut anchors: Vec<(&Cluster, Anchor)> = Vec::new();
    for cluster in model.primaries() {
        let Some(control_plane) = cluster.control_planes.first() else {
            continue;
        };
        match control_plane.ca_source.known() {
            Some("self_signed") if multi_cluster => {
                out.push(self_signed(cluster, &control_plane.address))
            }
            Some("cacerts") => match cacerts_anchor(model, cluster) {
                Lookup::Anchor(anchor) => anchors.push((cluster, anchor)),
                Lookup::Finding(finding) => out.push(*finding),
                Lookup::Undecided => {}
            },
            Some("key_vault") => match key_vault_anchor(model, cluster) {
                Lookup::Anchor(anchor) => anchors.push((cluster, anchor)),
                Lookup::Finding(finding) => out.push(*finding),
                Lookup::Undecided => {}
            },
            _ => {}
        }
    }
    out.extend(disagreeing_roots(&anchors));
    out
}

fn self_signed(cluster: &Cluster, address: &str) -> PlanFinding {
    Rule::Trust
        .error(
            address,
            format!(
                "istiod in {} signs workload certificates with Istio's self-signed CA, a root \
                 made inside the cluster that no other cluster trusts: cross-cluster mTLS fails \
                 the TLS handshake",
                cluster.name
            ),
        )
        .at("ca_source")
        .fix(
            "set ca_source = \"cacerts\" (a Secret istio-system/cacerts with an intermediate CA \
             signed by the mesh's root, e.g. pki_intermediate_ca) or \"key_vault\"",
        )
}

/// Clusters whose CA chains to another root than most clusters'.
fn disagreeing_roots(anchors: &[(&Cluster, Anchor)]) -> Vec<PlanFinding> {
    let mut roots: Vec<(&Root, usize)> = Vec::new();
    for (_, anchor) in anchors {
        match roots.iter_mut().find(|(r, _)| *r == &anchor.root) {
            Some((_, n)) => *n += 1,
            None => roots.push((&anchor.root, 1)),
        }
    }
    if roots.len() < 2 {
        return Vec::new();
    }
    let majority = roots
        .iter()
        .fold(roots[0], |best, r| if r.1 > best.1 { *r } else { best })
        .0
        .clone();
    let majority_clusters: Vec<&str> = anchors
        .iter()
        .filter(|(_, a)| a.root == majority)
        .map(|(c, _)| c.name.as_str())
        .collect();
    anchors
        .iter()
        .filter(|(_, a)| a.root != majority)
        .map(|(cluster, anchor)| {
            Rule::Trust
                .error(
                    &anchor.address,
                    format!(
                        "the CA of {} chains to {}, but the CA of {} chains to {}: each \
                         sidecar trusts only its own cluster's root, so cross-cluster calls \
                         fail the mTLS handshake",
                        cluster.name,
                        anchor.root.describe(),
                        majority_clusters.join(", "),
                        majority.describe()
                    ),
                )
                .related(anchor.evidence.iter().cloned())
                .related(anchor.root.address())
                .related(majority.address())
                .fix(format!(
                    "sign the intermediate CA of {} with {} (its issuer_cert_pem and \
                     issuer_private_key_pem), so that every cluster shares one root",
                    cluster.name,
                    majority.describe()
                ))
        })
        .collect()
}

/// The CA of a cluster whose istiod reads the Secret istio-system/cacerts.
fn cacerts_anchor(model: &MeshModel<'_>, cluster: &Cluster) -> Lookup {
    let control_plane = &cluster.control_planes[0].address;
    let secret = cluster
        .objects_of("Secret")
        .find(|o| o.name() == "cacerts" && o.namespace() == ISTIO_NAMESPACE);
    let Some(secret) = secret else {
        return missing_ca_object(
            cluster,
            control_plane,
            "the Secret istio-system/cacerts",
            "ca_source = \"cacerts\"",
        );
    };
    let data = secret_data(&secret.json);
    let missing: Vec<&str> = CA_FILES
        .iter()
        .filter(|f| !data.iter().any(|(k, _)| k == *f))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Lookup::Finding(Box::new(
            Rule::Trust
                .error(
                    &secret.address,
                    format!(
                        "the Secret istio-system/cacerts of {} lacks {}: istiod does not use an \
                         incomplete plug-in CA and falls back to its self-signed one",
                        cluster.name,
                        missing.join(", ")
                    ),
                )
                .related([control_plane.clone()])
                .fix(format!("put all of {} in the Secret", CA_FILES.join(", "))),
        ));
    }
    let value = |file: &str| {
        data.iter()
            .find(|(k, _)| k == file)
            .map(|(_, v)| Value::string(v.clone()))
            .unwrap_or(Value::Null)
    };
    let files = CaFiles {
        root: source_of(model, &value("root-cert.pem")),
        signer: source_of(model, &value("ca-cert.pem")),
        holder: secret.address.clone(),
    };
    files.anchor(model, cluster, control_plane)
}

/// The CA of a cluster whose istiod mounts the CA files from Key Vault.
fn key_vault_anchor(model: &MeshModel<'_>, cluster: &Cluster) -> Lookup {
    let control_plane = &cluster.control_planes[0];
    let Some(class) = control_plane.ca_secret_provider_class.known() else {
        return Lookup::Undecided;
    };
    let spc = cluster
        .objects_of("SecretProviderClass")
        .find(|o| o.name() == class && o.namespace() == ISTIO_NAMESPACE);
    let Some(spc) = spc else {
        let what = format!("the SecretProviderClass istio-system/{class}");
        return missing_ca_object(
            cluster,
            &control_plane.address,
            &what,
            "ca_source = \"key_vault\"",
        );
    };
    let objects = key_vault_objects(&spc.json);
    let source = |alias: &str| -> Source {
        let Some((name, kind)) = objects
            .iter()
            .find(|(_, _, a)| a == alias)
            .map(|(n, k, _)| (n, k))
        else {
            return Source::Unknown;
        };
        match key_vault_value(model, name, kind) {
            Some(value) => source_of(model, &value),
            None => Source::Unknown,
        }
    };
    let files = CaFiles {
        root: source("root-cert.pem"),
        signer: source("ca-cert.pem"),
        holder: spc.address.clone(),
    };
    files.anchor(model, cluster, &control_plane.address)
}

/// A CA object istiod needs is not declared: an error, unless some objects of the cluster are
/// not known yet (it may be among them).
fn missing_ca_object(cluster: &Cluster, control_plane: &str, what: &str, setting: &str) -> Lookup {
    if let Some(opaque) = cluster.opaque.first() {
        return Lookup::Finding(Box::new(Rule::Trust
            .info(
                control_plane,
                format!(
                    "cannot find {what} in {} until the objects of {opaque} are known (after apply)",
                    cluster.name
                ),
            )
            .related(cluster.opaque.iter().cloned())));
    }
    Lookup::Finding(Box::new(
        Rule::Trust
            .error(
                control_plane,
                format!(
                    "{setting} but the spec declares no {what} in {}: istiod starts on its \
                     self-signed CA, whose root no other cluster trusts",
                    cluster.name
                ),
            )
            .at("ca_source")
            .fix(format!(
                "declare {what} in {}, or change ca_source",
                cluster.name
            )),
    ))
}

/// What a cluster's CA files lead to.
struct CaFiles {
    /// `root-cert.pem`: the root its workloads trust.
    root: Source,
    /// `ca-cert.pem`: the intermediate istiod signs with.
    signer: Source,
    /// The resource holding the files.
    holder: String,
}

impl CaFiles {
    fn anchor(self, model: &MeshModel<'_>, cluster: &Cluster, control_plane: &str) -> Lookup {
        let intermediate = match &self.signer {
            Source::Intermediate(address) => Some(address.clone()),
            _ => None,
        };
        let signer_root = match &self.signer {
            Source::Intermediate(address) => root_of_intermediate(model, address, 0),
            Source::Root(root) => Some(root.clone()),
            Source::Unknown => None,
        };
        let trusted_root = match self.root {
            Source::Root(root) => Some(root),
            Source::Intermediate(address) => root_of_intermediate(model, &address, 0),
            Source::Unknown => None,
        };
        let address = intermediate.clone().unwrap_or_else(|| self.holder.clone());
        let evidence: Vec<String> = [Some(self.holder.clone()), Some(control_plane.to_string())]
            .into_iter()
            .flatten()
            .collect();
        if let (Some(trusted), Some(signer)) = (&trusted_root, &signer_root) {
            if trusted != signer {
                return Lookup::Finding(Box::new(Rule::Trust
                    .error(
                        &self.holder,
                        format!(
                            "in {} root-cert.pem is {} but ca-cert.pem chains to {}: istiod \
                             signs certificates its own workloads do not trust",
                            cluster.name,
                            trusted.describe(),
                            signer.describe()
                        ),
                    )
                    .related(intermediate.clone())
                    .related(trusted.address())
                    .related(signer.address())
                    .fix("take root-cert.pem from the root that signs ca-cert.pem (pki_intermediate_ca's root_cert_pem)")));
            }
        }
        match trusted_root.or(signer_root) {
            Some(root) => Lookup::Anchor(Anchor {
                address,
                root,
                evidence,
            }),
            None => Lookup::Undecided,
        }
    }
}

/// Where a PEM value comes from: equal text once known, the placeholder's origin before.
fn source_of(model: &MeshModel<'_>, value: &Value) -> Source {
    match text_of(model.deployment, Some(value)) {
        Text::Known(pem) => source_of_pem(model, pem.trim()),
        Text::Unknown(Some(origin)) => {
            let Some(resource) = model.resource(&origin.address) else {
                return Source::Unknown;
            };
            match (resource.resource_type.as_str(), origin.attribute.as_str()) {
                ("pki_root_ca", "cert_pem") => Source::Root(Root::Resource(origin.address.clone())),
                ("pki_intermediate_ca", "root_cert_pem") => {
                    match root_of_intermediate(model, &origin.address, 0) {
                        Some(root) => Source::Root(root),
                        None => Source::Unknown,
                    }
                }
                ("pki_intermediate_ca", _) => Source::Intermediate(origin.address.clone()),
                _ => Source::Unknown,
            }
        }
        _ => Source::Unknown,
    }
}

fn source_of_pem(model: &MeshModel<'_>, pem: &str) -> Source {
    let same = |value: &Value, key: &str| known_string(value, key).is_some_and(|v| v.trim() == pem);
    if let Some((address, _)) = model
        .of_type("pki_root_ca")
        .find(|(_, v)| same(v, "cert_pem"))
    {
        return Source::Root(Root::Resource(address.to_string()));
    }
    let intermediate = model.of_type("pki_intermediate_ca").find(|(_, v)| {
        same(v, "cert_pem") || same(v, "cert_chain_pem") || same(v, "pkcs12_base64")
    });
    if let Some((address, _)) = intermediate {
        return Source::Intermediate(address.to_string());
    }
    if !pem.contains("BEGIN CERTIFICATE") {
        return Source::Unknown;
    }
    let digest = hex::encode(Sha256::digest(pem.as_bytes()));
    Source::Root(Root::Pem(digest[..12].to_string()))
}

/// The root an intermediate chains to, through its issuer (intermediates of intermediates
/// are followed a few levels).
fn root_of_intermediate(model: &MeshModel<'_>, address: &str, depth: usize) -> Option<Root> {
    if depth > 4 {
        return None;
    }
    let resource = model.resource(address)?;
    let value = effective(resource);
    let issuer = value.get("issuer_cert_pem").cloned().unwrap_or(Value::Null);
    match source_of(model, &issuer) {
        Source::Root(root) => Some(root),
        Source::Intermediate(parent) if parent != address => {
            root_of_intermediate(model, &parent, depth + 1)
        }
        _ => None,
    }
}

/// The data of a Secret object as text: `data` decoded from base64, and `stringData`.
fn secret_data(secret: &Json) -> Vec<(String, String)> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    if let Some(data) = secret.get("data").and_then(Json::as_object) {
        for (key, value) in data {
            let decoded = value
                .as_str()
                .and_then(|v| engine.decode(v).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok());
            out.push((key.clone(), decoded.unwrap_or_default()));
        }
    }
    if let Some(data) = secret.get("stringData").and_then(Json::as_object) {
        for (key, value) in data {
            out.push((key.clone(), value.as_str().unwrap_or_default().to_string()));
        }
    }
    out
}

/// The Key Vault objects a SecretProviderClass mounts: (objectName, objectType, file name).
fn key_vault_objects(spc: &Json) -> Vec<(String, String, String)> {
    let Some(text) = json_str(spc, "/spec/parameters/objects") else {
        return Vec::new();
    };
    let Ok(outer) = serde_yaml::from_str::<Json>(text) else {
        return Vec::new();
    };
    let items = outer
        .get("array")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    items
        .iter()
        .filter_map(|item| {
            let object: Json = match item {
                Json::String(s) => serde_yaml::from_str(s).ok()?,
                other => other.clone(),
            };
            let name = object.get("objectName")?.as_str()?.to_string();
            let kind = object
                .get("objectType")
                .and_then(Json::as_str)
                .unwrap_or("secret")
                .to_string();
            let alias = object
                .get("objectAlias")
                .and_then(Json::as_str)
                .unwrap_or(&name)
                .to_string();
            Some((name, kind, alias))
        })
        .collect()
}

/// What the deployment stores in Key Vault under a name: a secret's value, or a certificate's
/// contents.
fn key_vault_value(model: &MeshModel<'_>, name: &str, kind: &str) -> Option<Value> {
    let named = |value: &Value| known_string(value, "name").as_deref() == Some(name);
    if kind == "cert" {
        let (_, value) = model
            .of_type("azure_key_vault_certificate")
            .find(|(_, v)| named(v))?;
        let certificate = blocks(&value, "certificate").first().copied().cloned()?;
        return certificate.get("contents").cloned();
    }
    let (_, value) = model
        .of_type("azure_key_vault_secret")
        .find(|(_, v)| named(v))?;
    value.get("value").cloned()
}

/// Certificates of the deployment that expire within 30 days, or have.
fn expiry(model: &MeshModel<'_>, now: OffsetDateTime) -> Vec<PlanFinding> {
    let mut out = Vec::new();
    for resource_type in ["pki_root_ca", "pki_intermediate_ca", "pki_certificate"] {
        for (address, value) in model.of_type(resource_type) {
            let Some(not_after) = known_string(&value, "not_after") else {
                continue;
            };
            let Ok(at) = OffsetDateTime::parse(&not_after, &Rfc3339) else {
                continue;
            };
            let fix = format!(
                "renew it: mesh apply -replace={address} (set early_renewal_days so that plans \
                 renew it in time)"
            );
            if at <= now {
                out.push(
                    Rule::Trust
                        .error(
                            address,
                            format!("the certificate expired on {not_after}: TLS with it fails"),
                        )
                        .at("not_after")
                        .fix(fix),
                );
            } else if at - now < Duration::days(EXPIRY_WARNING_DAYS) {
                let days = (at - now).whole_days();
                out.push(
                    Rule::Trust
                        .warning(
                            address,
                            format!("the certificate expires on {not_after}, in {days} days"),
                        )
                        .at("not_after")
                        .fix(fix),
                );
            }
        }
    }
    out
}
