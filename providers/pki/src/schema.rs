//! The schemas of the three resource types.
//!
//! Every input that shapes a key or a certificate forces replacement: a certificate cannot be
//! edited, only issued anew. Two inputs change in place because they shape neither:
//! `early_renewal_days` (a planning policy) and `pkcs12_password` (the bundle is re-exported
//! from the stored key and chain).

use mesh_engine::provider::{AttrType, AttributeSchema, BlockSchema, Presence, ResourceSchema};
use mesh_engine::value::Value;

use crate::keys::KeyAlgorithm;

/// The root CA resource type.
pub const ROOT_CA: &str = "pki_root_ca";
/// The intermediate (per-cluster) CA resource type.
pub const INTERMEDIATE_CA: &str = "pki_intermediate_ca";
/// The leaf certificate resource type.
pub const CERTIFICATE: &str = "pki_certificate";

/// The SAN Istio's Makefile gives every cluster's intermediate CA.
pub const ISTIOD_SAN: &str = "istiod.istio-system.svc";

/// The three resource types, in the order of a chain.
pub(crate) const RESOURCE_TYPES: [&str; 3] = [ROOT_CA, INTERMEDIATE_CA, CERTIFICATE];

/// The schema of a resource type of this provider, or `None` for a foreign type.
pub(crate) fn resource_schema(resource_type: &str) -> Option<ResourceSchema> {
    match resource_type {
        ROOT_CA => Some(root_ca()),
        INTERMEDIATE_CA => Some(intermediate_ca()),
        CERTIFICATE => Some(certificate()),
        _ => None,
    }
}

fn input(attr_type: AttrType, presence: Presence, description: &str) -> AttributeSchema {
    AttributeSchema::new(attr_type, presence, description).force_new()
}

fn text_default(description: &str, default: &str) -> AttributeSchema {
    input(AttrType::String, Presence::Optional, description).default_value(Value::string(default))
}

fn days_default(description: &str, default: u32) -> AttributeSchema {
    input(AttrType::Number, Presence::Optional, description)
        .default_value(Value::Number(f64::from(default)))
}

fn output(description: &str) -> AttributeSchema {
    AttributeSchema::new(AttrType::String, Presence::Computed, description)
}

fn key_algorithm(default: KeyAlgorithm) -> AttributeSchema {
    text_default(
        &format!(
            "Key type: one of {}. Default `{}`.",
            KeyAlgorithm::NAMES.join(", "),
            default.name()
        ),
        default.name(),
    )
}

fn early_renewal_days() -> AttributeSchema {
    AttributeSchema::new(
        AttrType::Number,
        Presence::Optional,
        "Plan a replacement once the certificate expires within this many days (0, the \
         default, replaces only an expired certificate). Changing it replaces nothing.",
    )
    .default_value(Value::Number(0.0))
}

/// The outputs every certificate has.
fn certificate_outputs(block: BlockSchema) -> BlockSchema {
    block
        .attribute(
            "id",
            output("The certificate's serial number (the resource's ID)."),
        )
        .attribute(
            "serial_number",
            output("Serial number, upper-case hex as `openssl x509 -serial` prints it."),
        )
        .attribute(
            "fingerprint_sha256",
            output("SHA-256 of the certificate's DER, lower-case hex."),
        )
        .attribute("not_before", output("Start of validity (RFC 3339)."))
        .attribute("not_after", output("End of validity (RFC 3339)."))
}

/// The inputs naming the CA that signs an intermediate or a leaf.
fn issuer_inputs(block: BlockSchema) -> BlockSchema {
    block
        .attribute(
            "issuer_cert_pem",
            input(
                AttrType::String,
                Presence::Required,
                "The signing CA's certificate (PEM), optionally followed by its own chain up to \
                 the root: pass a root's `cert_pem` or an intermediate's `cert_chain_pem`.",
            ),
        )
        .attribute(
            "issuer_private_key_pem",
            input(
                AttrType::String,
                Presence::Optional,
                "The signing CA's private key (PEM). Set this or `issuer_private_key_file`.",
            )
            .sensitive(),
        )
        .attribute(
            "issuer_private_key_file",
            input(
                AttrType::String,
                Presence::Optional,
                "A file holding the signing CA's private key (a root's `private_key_file`). Set \
                 this or `issuer_private_key_pem`. Read only when a certificate is signed.",
            ),
        )
}

/// The inputs and outputs of a PKCS#12 export.
fn pkcs12(block: BlockSchema) -> BlockSchema {
    block
        .attribute(
            "pkcs12_password",
            AttributeSchema::new(
                AttrType::String,
                Presence::Optional,
                "Password of `pkcs12_base64` (default: empty, as `openssl pkcs12 -passout pass:`). \
                 Changing it re-exports the bundle; the key and certificate stay.",
            )
            .sensitive(),
        )
        .attribute(
            "pkcs12_base64",
            output(
                "PKCS#12 (.pfx) bundle of the private key, the certificate and its chain, \
                 base64-encoded, as Key Vault's certificate import takes it.",
            )
            .sensitive(),
        )
}

fn root_ca() -> ResourceSchema {
    let block = BlockSchema::default()
        .attribute(
            "common_name",
            text_default(
                "Subject CN. Default `Root CA` (Istio's ROOTCA_CN).",
                "Root CA",
            ),
        )
        .attribute(
            "organization",
            text_default("Subject O. Default `Istio` (Istio's ROOTCA_ORG).", "Istio"),
        )
        .attribute("key_algorithm", key_algorithm(KeyAlgorithm::Rsa4096))
        .attribute(
            "validity_days",
            days_default(
                "Days of validity. Default 3650 (Istio's ROOTCA_DAYS).",
                3650,
            ),
        )
        .attribute("early_renewal_days", early_renewal_days())
        .attribute(
            "private_key_file",
            input(
                AttrType::String,
                Presence::Optional,
                "Write the private key to this file (mode 0600; relative paths are relative to \
                 the working directory) instead of keeping it in state. The file must not exist \
                 yet. Destroying the root deletes the file if it still holds this root's key.",
            ),
        )
        .attribute(
            "cert_pem",
            output("The self-signed root certificate (Istio's `root-cert.pem`)."),
        )
        .attribute(
            "private_key_pem",
            output(
                "The root's private key (PKCS#8 PEM, Istio's `root-key.pem`); null when \
                 `private_key_file` is set.",
            )
            .sensitive(),
        );
    ResourceSchema {
        version: 0,
        description: "A self-signed root CA, as Istio's `make -f Makefile.selfsigned.mk root-ca` \
                      makes it: generated at apply on this machine; its key stays in state or in \
                      a local file."
            .to_string(),
        block: certificate_outputs(block),
    }
}

fn intermediate_ca() -> ResourceSchema {
    let block = issuer_inputs(BlockSchema::default())
        .attribute(
            "cluster_name",
            input(
                AttrType::String,
                Presence::Required,
                "The cluster this CA is for; it becomes the subject's L, as in Istio's \
                 `<cluster>-cacerts` target.",
            ),
        )
        .attribute(
            "common_name",
            text_default(
                "Subject CN. Default `Intermediate CA` (Istio's INTERMEDIATE_CN).",
                "Intermediate CA",
            ),
        )
        .attribute(
            "organization",
            text_default(
                "Subject O. Default `Istio` (Istio's INTERMEDIATE_ORG).",
                "Istio",
            ),
        )
        .attribute(
            "dns_names",
            input(
                AttrType::List(Box::new(AttrType::String)),
                Presence::Optional,
                "DNS SANs. Default `[\"istiod.istio-system.svc\"]` (Istio's INTERMEDIATE_SAN_DNS).",
            )
            .default_value(Value::List(vec![Value::string(ISTIOD_SAN)])),
        )
        .attribute("key_algorithm", key_algorithm(KeyAlgorithm::Rsa4096))
        .attribute(
            "validity_days",
            days_default(
                "Days of validity. Default 730 (Istio's INTERMEDIATE_DAYS); must end before the \
                 issuer does.",
                730,
            ),
        )
        .attribute("early_renewal_days", early_renewal_days())
        .attribute(
            "cert_pem",
            output("The intermediate CA certificate (Istio's `ca-cert.pem`)."),
        )
        .attribute(
            "private_key_pem",
            output("Its private key, PKCS#8 PEM (Istio's `ca-key.pem`).").sensitive(),
        )
        .attribute(
            "cert_chain_pem",
            output("This certificate followed by the issuer's chain (Istio's `cert-chain.pem`)."),
        )
        .attribute(
            "root_cert_pem",
            output("The self-signed root ending the chain (Istio's `root-cert.pem`)."),
        );
    ResourceSchema {
        version: 0,
        description: "A per-cluster intermediate CA signed by a root, as Istio's \
                      `<cluster>-cacerts` target makes it: the four files of the `cacerts` \
                      Secret, plus a PKCS#12 bundle for Key Vault."
            .to_string(),
        block: certificate_outputs(pkcs12(block)),
    }
}

fn certificate() -> ResourceSchema {
    let names = |description: &str| {
        input(
            AttrType::List(Box::new(AttrType::String)),
            Presence::Optional,
            description,
        )
    };
    let block = issuer_inputs(BlockSchema::default())
        .attribute(
            "common_name",
            input(AttrType::String, Presence::Required, "Subject CN."),
        )
        .attribute(
            "organization",
            input(AttrType::String, Presence::Optional, "Subject O."),
        )
        .attribute("dns_names", names("DNS SANs."))
        .attribute("ip_addresses", names("IP address SANs."))
        .attribute("uris", names("URI SANs (e.g. SPIFFE IDs)."))
        .attribute(
            "usage",
            text_default(
                "Extended key usage: `server` (serverAuth), `client` (clientAuth) or `both`. \
                 Default `server`.",
                "server",
            ),
        )
        .attribute("key_algorithm", key_algorithm(KeyAlgorithm::Rsa2048))
        .attribute(
            "validity_days",
            days_default(
                "Days of validity. Default 365; must end before the issuer does.",
                365,
            ),
        )
        .attribute("early_renewal_days", early_renewal_days())
        .attribute("cert_pem", output("The certificate (PEM)."))
        .attribute(
            "private_key_pem",
            output("Its private key, PKCS#8 PEM.").sensitive(),
        )
        .attribute(
            "cert_chain_pem",
            output("This certificate followed by the issuer's chain."),
        )
        .attribute(
            "root_cert_pem",
            output(
                "The self-signed root ending the chain (a MUTUAL TLS `ca.crt`); null when \
                 `issuer_cert_pem` does not end in one.",
            ),
        );
    ResourceSchema {
        version: 0,
        description: "A leaf certificate (TLS server or client) signed by a root or an \
                      intermediate CA, with its key and a PKCS#12 bundle for Key Vault."
            .to_string(),
        block: certificate_outputs(pkcs12(block)),
    }
}
