//! Trust between clusters: which root each cluster's workload certificates chain to, and which
//! roots its sidecars accept. istiod signs workload certificates with the plug-in CA mounted at
//! `/etc/cacerts` — the `cacerts` Secret, or the Key Vault objects a SecretProviderClass mounts
//! through the CSI driver — or, with neither, with a self-signed root of its own. Two sidecars
//! complete an mTLS handshake when each accepts the root the other's certificate chains to.
//!
//! Roots are compared by the SHA-256 of their DER bytes; signatures are not verified: the chain
//! a cluster serves (`cert-chain.pem`) is taken to end in the root that issued it.

use base64::Engine as _;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::view::{meta, ClusterView, ISTIO_NAMESPACE};

/// One cluster's mesh CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaView {
    /// Fingerprints of the roots its sidecars accept (`root-cert.pem`).
    pub trusted: Vec<String>,
    /// Fingerprint of the root its workload certificates chain to.
    pub issuer: String,
    /// Where the CA comes from, for traces.
    pub source: String,
}

impl CaView {
    /// A CA whose root is its own: istiod's self-signed one.
    pub fn self_signed(cluster: &str) -> CaView {
        let root = format!("self-signed:{cluster}");
        CaView {
            trusted: vec![root.clone()],
            issuer: root,
            source: "istiod's self-signed CA".to_string(),
        }
    }

    /// Whether sidecars with this CA accept a peer whose certificate comes from `peer`, and
    /// the peer accepts theirs.
    pub fn trusts_mutually(&self, peer: &CaView) -> bool {
        self.trusted.contains(&peer.issuer) && peer.trusted.contains(&self.issuer)
    }

    /// A short name of the issuing root, for traces.
    pub fn issuer_short(&self) -> &str {
        match self.issuer.strip_prefix("self-signed:") {
            Some(_) => "self-signed",
            None => &self.issuer[..self.issuer.len().min(16)],
        }
    }
}

/// The DER bytes of every `CERTIFICATE` block of a PEM text, in order.
pub(crate) fn certificates(pem: &str) -> Vec<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let Some(stop) = body.find(END) else {
            break;
        };
        let b64: String = body[..stop]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push(der);
        }
        rest = &body[stop + END.len()..];
    }
    out
}

fn fingerprint(der: &[u8]) -> String {
    hex_of(&Sha256::digest(der))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The CA the four plug-in files make: `root-cert.pem` trusted, the last certificate of
/// `cert-chain.pem` (else the first root) the issuer. `None` without a root.
pub(crate) fn from_files(
    root_cert: Option<&str>,
    cert_chain: Option<&str>,
    source: String,
) -> Option<CaView> {
    let trusted: Vec<String> = root_cert
        .map(certificates)
        .unwrap_or_default()
        .iter()
        .map(|d| fingerprint(d))
        .collect();
    let chain_root = cert_chain
        .map(certificates)
        .and_then(|c| c.last().map(|d| fingerprint(d)));
    let issuer = chain_root.or_else(|| trusted.first().cloned())?;
    Some(CaView {
        trusted,
        issuer,
        source,
    })
}

/// A Secret's `data` value, decoded.
fn secret_text(secret: &Json, key: &str) -> Option<String> {
    let encoded = secret["data"][key].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The `cacerts` volume of istiod's pod template.
fn cacerts_volume(istiod: &Json) -> Option<&Json> {
    istiod
        .pointer("/spec/template/spec/volumes")?
        .as_array()?
        .iter()
        .find(|v| v["name"] == "cacerts")
}

/// The Key Vault objects a SecretProviderClass mounts: (vault, object name, alias).
pub(crate) fn provider_objects(class: &Json) -> (String, Vec<(String, String)>) {
    let parameters = &class["spec"]["parameters"];
    let vault = parameters["keyvaultName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let doc: Json = parameters["objects"]
        .as_str()
        .and_then(|text| serde_yaml::from_str(text).ok())
        .unwrap_or_default();
    let items = doc["array"].as_array().cloned().unwrap_or_default();
    let objects = items
        .iter()
        .filter_map(|item| {
            let item: Json = match item {
                Json::String(text) => serde_yaml::from_str(text).ok()?,
                other => other.clone(),
            };
            let name = item["objectName"].as_str()?.to_string();
            let alias = item["objectAlias"].as_str().unwrap_or(&name).to_string();
            Some((name, alias))
        })
        .collect();
    (vault, objects)
}

/// The cluster's CA, as its istiod would load it. `vault_secret(vault, name)` reads the
/// current value of a Key Vault secret. `None` without istiod.
pub(crate) fn cluster_ca(
    cluster: &ClusterView,
    vault_secret: &dyn Fn(&str, &str) -> Option<String>,
) -> Option<CaView> {
    let istiod = cluster.istiod()?;
    let self_signed = || Some(CaView::self_signed(&cluster.name));
    let Some(volume) = cacerts_volume(istiod) else {
        return self_signed();
    };
    if let Some(name) = volume["secret"]["secretName"].as_str() {
        let Some(secret) = cluster.secret(ISTIO_NAMESPACE, name) else {
            return self_signed();
        };
        let source = format!("Secret {ISTIO_NAMESPACE}/{name}");
        return from_files(
            secret_text(secret, "root-cert.pem").as_deref(),
            secret_text(secret, "cert-chain.pem").as_deref(),
            source,
        )
        .or_else(self_signed);
    }
    let class_name = volume["csi"]["volumeAttributes"]["secretProviderClass"]
        .as_str()
        .unwrap_or_default();
    let class = cluster
        .objects
        .secret_provider_classes
        .iter()
        .find(|c| meta(c, "namespace") == ISTIO_NAMESPACE && meta(c, "name") == class_name);
    let Some(class) = class else {
        return self_signed();
    };
    let (vault, objects) = provider_objects(class);
    let file = |alias: &str| {
        objects
            .iter()
            .find(|(_, a)| a == alias)
            .and_then(|(name, _)| vault_secret(&vault, name))
    };
    let source =
        format!("Key Vault {vault} through SecretProviderClass {ISTIO_NAMESPACE}/{class_name}");
    from_files(
        file("root-cert.pem").as_deref(),
        file("cert-chain.pem").as_deref(),
        source,
    )
    .or_else(self_signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_of(der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
    }

    #[test]
    fn bundles_split_into_certificates() {
        let bundle = format!("{}{}", pem_of(b"\x30one"), pem_of(b"\x30two"));
        assert_eq!(
            certificates(&bundle),
            vec![b"\x30one".to_vec(), b"\x30two".to_vec()]
        );
        assert!(certificates("no pem").is_empty());
    }

    #[test]
    fn one_root_makes_mutual_trust_and_two_do_not() {
        let root = pem_of(b"\x30root");
        let chain = |inter: &[u8], root: &str| format!("{}{root}", pem_of(inter));
        let one = from_files(Some(&root), Some(&chain(b"\x30a", &root)), "a".into()).unwrap();
        let two = from_files(Some(&root), Some(&chain(b"\x30b", &root)), "b".into()).unwrap();
        assert!(one.trusts_mutually(&two));
        let other = pem_of(b"\x30other");
        let three = from_files(Some(&other), Some(&chain(b"\x30c", &other)), "c".into()).unwrap();
        assert!(!one.trusts_mutually(&three));
        assert!(!CaView::self_signed("x").trusts_mutually(&CaView::self_signed("y")));
        // A bundle of both roots (a rotation) trusts both, but the others must trust it too.
        let both = format!("{root}{other}");
        let four = from_files(Some(&both), Some(&chain(b"\x30d", &root)), "d".into()).unwrap();
        assert!(four.trusts_mutually(&one));
        assert!(!four.trusts_mutually(&three));
    }

    #[test]
    fn provider_objects_read_the_yaml_in_a_string() {
        let class = serde_json::json!({"spec": {"parameters": {"keyvaultName": "kv",
            "objects": "array:\n- |\n  objectName: root-cert\n  objectType: secret\n  objectAlias: root-cert.pem\n- |\n  objectName: one-cert-chain\n  objectType: secret\n  objectAlias: cert-chain.pem\n"}}});
        let (vault, objects) = provider_objects(&class);
        assert_eq!(vault, "kv");
        assert_eq!(
            objects,
            [
                ("root-cert".to_string(), "root-cert.pem".to_string()),
                ("one-cert-chain".to_string(), "cert-chain.pem".to_string())
            ]
        );
    }
}
