//! Configurations as typed, checked specs.
//!
//! `validate` and `create` read a configuration the same way: [`Reader`] collects every
//! problem, and a spec is complete only when every value is known and right. Validation
//! accepts unknown values; create refuses them.

mod issuer;
mod reader;

use std::net::IpAddr;
use std::path::PathBuf;

use mesh_engine::provider::ProviderError;
use mesh_engine::value::Value;
use time::OffsetDateTime;

pub(crate) use issuer::{IssuerKey, IssuerSpec};
pub(crate) use reader::Reader;

use crate::keys::KeyAlgorithm;
use crate::schema::{CERTIFICATE, INTERMEDIATE_CA, ROOT_CA};

/// The subject name of a certificate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Subject {
    /// O, when set.
    pub organization: Option<String>,
    /// CN.
    pub common_name: String,
    /// L, when set (an intermediate's cluster name).
    pub locality: Option<String>,
}

/// What a leaf certificate is for: its extendedKeyUsage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    /// serverAuth.
    Server,
    /// clientAuth.
    Client,
    /// serverAuth and clientAuth.
    Both,
}

impl Usage {
    fn parse(name: &str) -> Option<Usage> {
        match name {
            "server" => Some(Usage::Server),
            "client" => Some(Usage::Client),
            "both" => Some(Usage::Both),
            _ => None,
        }
    }

    /// Includes serverAuth.
    pub fn server(self) -> bool {
        matches!(self, Usage::Server | Usage::Both)
    }

    /// Includes clientAuth.
    pub fn client(self) -> bool {
        matches!(self, Usage::Client | Usage::Both)
    }
}

/// A root CA to make.
#[derive(Debug, Clone)]
pub(crate) struct RootSpec {
    /// Its subject.
    pub subject: Subject,
    /// Its key type.
    pub key_algorithm: KeyAlgorithm,
    /// Days of validity.
    pub validity_days: u32,
    /// Where to write the key instead of state.
    pub key_file: Option<PathBuf>,
}

/// An intermediate CA to make.
pub(crate) struct IntermediateSpec {
    /// Who signs it.
    pub issuer: IssuerSpec,
    /// Its subject (L = cluster name).
    pub subject: Subject,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// Its key type.
    pub key_algorithm: KeyAlgorithm,
    /// Days of validity.
    pub validity_days: u32,
}

/// A leaf certificate to make.
pub(crate) struct LeafSpec {
    /// Who signs it.
    pub issuer: IssuerSpec,
    /// Its subject.
    pub subject: Subject,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP address SANs.
    pub ip_addresses: Vec<IpAddr>,
    /// URI SANs.
    pub uris: Vec<String>,
    /// Server, client or both.
    pub usage: Usage,
    /// Its key type.
    pub key_algorithm: KeyAlgorithm,
    /// Days of validity.
    pub validity_days: u32,
}

/// Check a configuration of any of the three types; every problem found.
pub(crate) fn validate(
    resource_type: &str,
    config: &Value,
    now: OffsetDateTime,
) -> Vec<ProviderError> {
    let mut reader = Reader::new(config);
    match resource_type {
        ROOT_CA => {
            read_root(&mut reader);
        }
        INTERMEDIATE_CA => {
            read_intermediate(&mut reader, now);
        }
        CERTIFICATE => {
            read_leaf(&mut reader, now);
        }
        _ => {}
    }
    reader.finish().0
}

/// Turn what `read` made of a planned value into a spec, or the reason it cannot be one.
fn complete<T>(
    resource_type: &str,
    planned: &Value,
    read: impl FnOnce(&mut Reader) -> Option<T>,
) -> Result<T, ProviderError> {
    let mut reader = Reader::new(planned);
    let spec = read(&mut reader);
    let (mut errors, unknown) = reader.finish();
    if !errors.is_empty() {
        return Err(errors.swap_remove(0));
    }
    if unknown {
        return Err(ProviderError::new(format!(
            "the planned {resource_type} still holds values known only after apply"
        )));
    }
    spec.ok_or_else(|| ProviderError::new(format!("the planned {resource_type} is incomplete")))
}

/// The root spec of a planned value.
pub(crate) fn root_spec(planned: &Value) -> Result<RootSpec, ProviderError> {
    complete(ROOT_CA, planned, read_root)
}

/// The intermediate spec of a planned value.
pub(crate) fn intermediate_spec(
    planned: &Value,
    now: OffsetDateTime,
) -> Result<IntermediateSpec, ProviderError> {
    complete(INTERMEDIATE_CA, planned, |r| read_intermediate(r, now))
}

/// The leaf spec of a planned value.
pub(crate) fn leaf_spec(planned: &Value, now: OffsetDateTime) -> Result<LeafSpec, ProviderError> {
    complete(CERTIFICATE, planned, |r| read_leaf(r, now))
}

/// The PKCS#12 password of a configuration: empty when unset.
pub(crate) fn pkcs12_password(config: &Value) -> Result<String, ProviderError> {
    let mut reader = Reader::new(config);
    let password = reader
        .text("pkcs12_password")
        .unwrap_or_default()
        .to_string();
    let (mut errors, unknown) = reader.finish();
    if !errors.is_empty() {
        return Err(errors.swap_remove(0));
    }
    if unknown {
        return Err(ProviderError::at_attribute(
            "pkcs12_password is not known yet",
            "pkcs12_password",
        ));
    }
    Ok(password)
}

fn read_key_algorithm(r: &mut Reader) -> Option<KeyAlgorithm> {
    let name = r.text("key_algorithm")?;
    let algorithm = KeyAlgorithm::parse(name);
    if algorithm.is_none() {
        r.error(
            "key_algorithm",
            format!(
                "key_algorithm must be one of {}, not {name:?}",
                KeyAlgorithm::NAMES.join(", ")
            ),
        );
    }
    algorithm
}

/// validity_days, and early_renewal_days checked against it.
fn read_validity(r: &mut Reader) -> Option<u32> {
    let validity = r.days("validity_days", 1);
    let early = r.days("early_renewal_days", 0);
    if let (Some(validity), Some(early)) = (validity, early) {
        if early >= validity {
            r.error(
                "early_renewal_days",
                format!(
                    "early_renewal_days ({early}) must be less than validity_days ({validity}), \
                     or every plan would replace the certificate"
                ),
            );
        }
    }
    validity
}

fn read_root(r: &mut Reader) -> Option<RootSpec> {
    let common_name = r.non_empty("common_name");
    let organization = r.text("organization");
    let key_algorithm = read_key_algorithm(r);
    let validity_days = read_validity(r);
    let unset = r.is_null("private_key_file");
    let key_file = r.non_empty("private_key_file").map(PathBuf::from);
    if key_file.is_none() && !unset {
        return None;
    }
    Some(RootSpec {
        subject: Subject {
            organization: organization.map(str::to_string),
            common_name: common_name?.to_string(),
            locality: None,
        },
        key_algorithm: key_algorithm?,
        validity_days: validity_days?,
        key_file,
    })
}

fn read_intermediate(r: &mut Reader, now: OffsetDateTime) -> Option<IntermediateSpec> {
    let cluster_name = r.non_empty("cluster_name");
    let common_name = r.non_empty("common_name");
    let organization = r.text("organization");
    let dns_names = read_dns_names(r);
    let key_algorithm = read_key_algorithm(r);
    let validity_days = read_validity(r);
    let issuer = IssuerSpec::read(r, true, validity_days, now);
    Some(IntermediateSpec {
        issuer: issuer?,
        subject: Subject {
            organization: organization.map(str::to_string),
            common_name: common_name?.to_string(),
            locality: Some(cluster_name?.to_string()),
        },
        dns_names: dns_names?,
        key_algorithm: key_algorithm?,
        validity_days: validity_days?,
    })
}

fn read_leaf(r: &mut Reader, now: OffsetDateTime) -> Option<LeafSpec> {
    let common_name = r.non_empty("common_name");
    let organization = r.text("organization");
    let dns_names = read_dns_names(r);
    let ip_addresses = read_ip_addresses(r);
    let uris = read_uris(r);
    let usage = read_usage(r);
    let key_algorithm = read_key_algorithm(r);
    let validity_days = read_validity(r);
    let issuer = IssuerSpec::read(r, false, validity_days, now);
    Some(LeafSpec {
        issuer: issuer?,
        subject: Subject {
            organization: organization.map(str::to_string),
            common_name: common_name?.to_string(),
            locality: None,
        },
        dns_names: dns_names?,
        ip_addresses: ip_addresses?,
        uris: uris?,
        usage: usage?,
        key_algorithm: key_algorithm?,
        validity_days: validity_days?,
    })
}

fn read_usage(r: &mut Reader) -> Option<Usage> {
    let name = r.text("usage")?;
    let usage = Usage::parse(name);
    if usage.is_none() {
        r.error(
            "usage",
            format!("usage must be \"server\", \"client\" or \"both\", not {name:?}"),
        );
    }
    usage
}

/// A DNS name a certificate may carry: ASCII letters, digits, `-`, `_` and dots, with an
/// optional leading `*.` wildcard.
fn is_dns_name(name: &str) -> bool {
    let bare = name.strip_prefix("*.").unwrap_or(name);
    !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn read_dns_names(r: &mut Reader) -> Option<Vec<String>> {
    let names = r.texts("dns_names")?;
    let mut ok = true;
    for (i, name) in names.iter().enumerate() {
        if !is_dns_name(name) {
            r.error(
                "dns_names",
                format!("dns_names[{i}] is not a DNS name: {name:?}"),
            );
            ok = false;
        }
    }
    ok.then(|| names.iter().map(|n| n.to_string()).collect())
}

fn read_ip_addresses(r: &mut Reader) -> Option<Vec<IpAddr>> {
    let texts = r.texts("ip_addresses")?;
    let mut out = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        match text.parse::<IpAddr>() {
            Ok(ip) => out.push(ip),
            Err(_) => r.error(
                "ip_addresses",
                format!("ip_addresses[{i}] is not an IP address: {text:?}"),
            ),
        }
    }
    (out.len() == texts.len()).then_some(out)
}

/// A URI with a scheme, as SAN URIs must be (`spiffe://...`, `https://...`).
fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    scheme_ok && !rest.is_empty() && text.is_ascii() && !text.contains(char::is_whitespace)
}

fn read_uris(r: &mut Reader) -> Option<Vec<String>> {
    let uris = r.texts("uris")?;
    let mut ok = true;
    for (i, uri) in uris.iter().enumerate() {
        if !is_uri(uri) {
            r.error(
                "uris",
                format!("uris[{i}] is not a URI with a scheme: {uri:?}"),
            );
            ok = false;
        }
    }
    ok.then(|| uris.iter().map(|u| u.to_string()).collect())
}
