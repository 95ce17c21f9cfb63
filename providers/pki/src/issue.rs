//! Making keys and certificates with the extensions Istio's `tools/certs` gives them.
//!
//! Root (`root-ca.conf`): basicConstraints critical CA:TRUE; keyUsage critical
//! digitalSignature, nonRepudiation, keyEncipherment, keyCertSign — plus cRLSign, which RFC
//! 5280 expects of a CA that may sign revocation lists; subjectKeyIdentifier.
//! Intermediate (`intermediate.conf`): the same with pathlen:0, a DNS SAN
//! (`istiod.istio-system.svc`) and an authorityKeyIdentifier. Leaves (like Istio's workload
//! certificates): basicConstraints critical CA:FALSE; keyUsage digitalSignature (and
//! keyEncipherment for RSA keys); extendedKeyUsage serverAuth and/or clientAuth.
//! keyEncipherment is left out for ECDSA keys, which cannot encipher.
//!
//! Everything here is CPU-bound (RSA key generation takes seconds): callers run it on a
//! blocking thread.

use mesh_engine::provider::ProviderError;
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::certs::issuer_identity;
use crate::config::{IntermediateSpec, LeafSpec, RootSpec, Subject};
use crate::keys::KeyAlgorithm;

/// How far `not_before` lies in the past, so that a machine whose clock lags a little still
/// accepts a certificate made moments ago.
pub(crate) const BACKDATE: Duration = Duration::minutes(5);

/// A new certificate and its key.
pub(crate) struct Issued {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// Its private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl Issued {
    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        private_key_pem(&self.key_der)
    }
}

/// PKCS#8 DER as a `PRIVATE KEY` PEM block with `\n` line endings.
pub(crate) fn private_key_pem(pkcs8_der: &[u8]) -> String {
    let block = pem::Pem::new("PRIVATE KEY", pkcs8_der.to_vec());
    pem::encode_config(
        &block,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn signing_failed(e: rcgen::Error) -> ProviderError {
    ProviderError::new(format!("could not sign the certificate: {e}"))
}

/// Make a self-signed root CA.
pub(crate) fn root(spec: &RootSpec, now: OffsetDateTime) -> Result<Issued, ProviderError> {
    let key = spec.key_algorithm.generate()?;
    let mut params = base_params(&spec.subject, spec.validity_days, now)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = ca_key_usages(spec.key_algorithm);
    let cert = params.self_signed(&key).map_err(signing_failed)?;
    Ok(Issued {
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    })
}

/// Make an intermediate CA signed by `issuer_key`, the key of the first certificate of the
/// spec's issuer chain.
pub(crate) fn intermediate(
    spec: &IntermediateSpec,
    issuer_key: &KeyPair,
    now: OffsetDateTime,
) -> Result<Issued, ProviderError> {
    let key = spec.key_algorithm.generate()?;
    let mut params = base_params(&spec.subject, spec.validity_days, now)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = ca_key_usages(spec.key_algorithm);
    params.subject_alt_names = dns_sans(&spec.dns_names)?;
    params.use_authority_key_identifier_extension = true;
    signed(params, key, spec.issuer.chain.first(), issuer_key)
}

/// Make a leaf certificate signed by `issuer_key`.
pub(crate) fn leaf(
    spec: &LeafSpec,
    issuer_key: &KeyPair,
    now: OffsetDateTime,
) -> Result<Issued, ProviderError> {
    let key = spec.key_algorithm.generate()?;
    let mut params = base_params(&spec.subject, spec.validity_days, now)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if spec.key_algorithm.is_rsa() {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    if spec.usage.server() {
        params.insert_extended_key_usage(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if spec.usage.client() {
        params.insert_extended_key_usage(ExtendedKeyUsagePurpose::ClientAuth);
    }
    let mut sans = dns_sans(&spec.dns_names)?;
    sans.extend(spec.ip_addresses.iter().copied().map(SanType::IpAddress));
    for uri in &spec.uris {
        sans.push(SanType::URI(ia5(uri, "uris")?));
    }
    params.subject_alt_names = sans;
    params.use_authority_key_identifier_extension = true;
    signed(params, key, spec.issuer.chain.first(), issuer_key)
}

fn signed(
    params: CertificateParams,
    key: KeyPair,
    issuer_der: &[u8],
    issuer_key: &KeyPair,
) -> Result<Issued, ProviderError> {
    let (name, key_id) = issuer_identity(issuer_der).map_err(|why| {
        ProviderError::at_attribute(format!("issuer_cert_pem {why}"), "issuer_cert_pem")
    })?;
    let mut issuer_params = CertificateParams::default();
    issuer_params.distinguished_name = name;
    issuer_params.key_identifier_method = key_id;
    let issuer = Issuer::new(issuer_params, issuer_key);
    let cert = params.signed_by(&key, &issuer).map_err(signing_failed)?;
    Ok(Issued {
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    })
}

/// The parameters every certificate shares: subject, validity from now, a random serial.
fn base_params(
    subject: &Subject,
    validity_days: u32,
    now: OffsetDateTime,
) -> Result<CertificateParams, ProviderError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(subject);
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(i64::from(validity_days));
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

/// O, CN, then L: the order of Istio's `req_dn` sections. UTF8String values, as `utf8 = yes`
/// makes OpenSSL write them.
fn distinguished_name(subject: &Subject) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    if let Some(organization) = &subject.organization {
        name.push(DnType::OrganizationName, organization.as_str());
    }
    name.push(DnType::CommonName, subject.common_name.as_str());
    if let Some(locality) = &subject.locality {
        name.push(DnType::LocalityName, locality.as_str());
    }
    name
}

fn ca_key_usages(algorithm: KeyAlgorithm) -> Vec<KeyUsagePurpose> {
    let mut usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    if algorithm.is_rsa() {
        usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    usages
}

fn ia5(text: &str, attribute: &str) -> Result<Ia5String, ProviderError> {
    Ia5String::try_from(text).map_err(|_| {
        ProviderError::at_attribute(
            format!("{attribute} holds a non-ASCII name: {text:?}"),
            attribute,
        )
    })
}

fn dns_sans(names: &[String]) -> Result<Vec<SanType>, ProviderError> {
    names
        .iter()
        .map(|name| ia5(name, "dns_names").map(SanType::DnsName))
        .collect()
}

/// 128 random bits, positive and without leading zeros so every serial has the same length.
fn random_serial() -> Result<SerialNumber, ProviderError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ProviderError::new("the system random number generator failed"))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}
