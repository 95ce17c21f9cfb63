//! Reading certificates: PEM bundles and the facts of one certificate that signing and
//! validation need.

use aws_lc_rs::digest;
use rcgen::string::{BmpString, UniversalString};
use rcgen::{DistinguishedName, DnType, DnValue, KeyIdMethod};
use time::OffsetDateTime;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{X509Certificate, X509Name};

/// A certificate followed by its chain (toward the root), as DER.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CertBundle {
    ders: Vec<Vec<u8>>,
}

impl CertBundle {
    /// Parse PEM text holding one or more `CERTIFICATE` blocks (and nothing else but
    /// whitespace between them). The error says what is wrong, for an attribute message.
    pub fn parse(pem_text: &str) -> Result<CertBundle, String> {
        let blocks = pem::parse_many(pem_text).map_err(|e| format!("is not valid PEM ({e})"))?;
        if blocks.is_empty() {
            return Err("holds no PEM certificate".to_string());
        }
        let mut ders = Vec::new();
        for block in blocks {
            if block.tag() != "CERTIFICATE" {
                return Err(format!(
                    "holds a PEM \"{}\" block where only CERTIFICATE blocks belong",
                    block.tag()
                ));
            }
            let der = block.into_contents();
            inspect(&der)?;
            ders.push(der);
        }
        Ok(CertBundle { ders })
    }

    /// A bundle of one certificate.
    pub fn single(der: Vec<u8>) -> CertBundle {
        CertBundle { ders: vec![der] }
    }

    /// This certificate followed by `chain`.
    pub fn followed_by(mut self, chain: &CertBundle) -> CertBundle {
        self.ders.extend(chain.ders.iter().cloned());
        self
    }

    /// The first certificate: the one the bundle is about.
    pub fn first(&self) -> &[u8] {
        &self.ders[0]
    }

    /// Every certificate, first to last.
    pub fn all(&self) -> &[Vec<u8>] {
        &self.ders
    }

    /// The last certificate when it is self-signed: the root of the chain.
    pub fn root(&self) -> Option<&[u8]> {
        let last = self.ders.last()?;
        let facts = inspect(last).ok()?;
        facts.self_signed.then_some(last.as_slice())
    }

    /// The bundle as PEM, one block per certificate.
    pub fn to_pem(&self) -> String {
        self.ders.iter().map(|der| der_to_pem(der)).collect()
    }
}

/// One certificate as a PEM block, with a trailing newline.
pub(crate) fn der_to_pem(der: &[u8]) -> String {
    let block = pem::Pem::new("CERTIFICATE", der.to_vec());
    pem::encode_config(
        &block,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// What validation and signing need to know about one certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertFacts {
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// basicConstraints says CA:TRUE.
    pub is_ca: bool,
    /// basicConstraints' pathLenConstraint, when there is one.
    pub path_len: Option<u32>,
    /// keyUsage allows keyCertSign (or there is no keyUsage).
    pub may_sign_certificates: bool,
    /// The subject public key (the BIT STRING's contents).
    pub public_key: Vec<u8>,
    /// Subject and issuer are the same name.
    pub self_signed: bool,
    /// Serial number, upper-case hex.
    pub serial_hex: String,
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err("holds a certificate followed by stray bytes".to_string()),
        Err(e) => Err(format!("holds a certificate that does not parse ({e})")),
    }
}

/// The facts of a DER certificate.
pub(crate) fn inspect(der: &[u8]) -> Result<CertFacts, String> {
    let cert = parse(der)?;
    let constraints = cert
        .basic_constraints()
        .map_err(|e| format!("has a malformed basicConstraints extension ({e})"))?
        .map(|ext| ext.value.clone());
    let key_usage = cert
        .key_usage()
        .map_err(|e| format!("has a malformed keyUsage extension ({e})"))?
        .map(|ext| ext.value.key_cert_sign());
    Ok(CertFacts {
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        is_ca: constraints.as_ref().is_some_and(|c| c.ca),
        path_len: constraints.and_then(|c| c.path_len_constraint),
        may_sign_certificates: key_usage.unwrap_or(true),
        public_key: cert.public_key().subject_public_key.data.to_vec(),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        serial_hex: hex::encode_upper(cert.raw_serial()),
    })
}

/// SHA-256 of a DER certificate, lower-case hex.
pub(crate) fn fingerprint_sha256(der: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, der).as_ref())
}

/// What rcgen needs to sign as the holder of this certificate: its subject name, encoded as
/// the certificate encodes it (chain builders such as Go's compare names byte for byte), and
/// its key identifier (so the authorityKeyIdentifier of what it signs matches).
pub(crate) fn issuer_identity(der: &[u8]) -> Result<(DistinguishedName, KeyIdMethod), String> {
    let cert = parse(der)?;
    let name = distinguished_name(cert.subject())?;
    let key_id = cert
        .iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        });
    let method = key_id.map_or(KeyIdMethod::Sha256, KeyIdMethod::PreSpecified);
    Ok((name, method))
}

fn distinguished_name(name: &X509Name<'_>) -> Result<DistinguishedName, String> {
    let mut out = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attributes = rdn.iter();
        let (Some(attribute), None) = (attributes.next(), attributes.next()) else {
            return Err(
                "has a subject with a multi-valued name component, which mesh cannot \
                        reproduce when signing"
                    .to_string(),
            );
        };
        let oid: Vec<u64> = attribute
            .attr_type()
            .iter()
            .ok_or_else(|| "has a subject attribute with an oversized OID".to_string())?
            .collect();
        let value = attribute.attr_value();
        out.push(
            DnType::from_oid(&oid),
            dn_value(value.header.tag(), value.data)?,
        );
    }
    Ok(out)
}

fn dn_value(tag: Tag, data: &[u8]) -> Result<DnValue, String> {
    let unsupported = || "has a subject whose string type mesh cannot reproduce".to_string();
    let text = || std::str::from_utf8(data).map_err(|_| unsupported());
    let value = match tag {
        Tag::Utf8String => DnValue::Utf8String(text()?.to_string()),
        Tag::PrintableString => {
            DnValue::PrintableString(text()?.try_into().map_err(|_| unsupported())?)
        }
        Tag::Ia5String => DnValue::Ia5String(text()?.try_into().map_err(|_| unsupported())?),
        Tag::T61String => DnValue::TeletexString(text()?.try_into().map_err(|_| unsupported())?),
        Tag::BmpString => {
            DnValue::BmpString(BmpString::from_utf16be(data.to_vec()).map_err(|_| unsupported())?)
        }
        Tag::UniversalString => DnValue::UniversalString(
            UniversalString::from_utf32be(data.to_vec()).map_err(|_| unsupported())?,
        ),
        _ => return Err(unsupported()),
    };
    Ok(value)
}
