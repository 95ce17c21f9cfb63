//! The CA that signs an intermediate or a leaf: its certificate (and chain) and where its key is.

use std::path::PathBuf;

use time::{Duration, OffsetDateTime};

use super::Reader;
use crate::certs::{inspect, CertBundle, CertFacts};
use crate::keys::load_key;
use crate::rfc3339;

/// Where the issuer's private key is.
#[derive(Debug, Clone)]
pub(crate) enum IssuerKey {
    /// In the configuration (a root's `private_key_pem`).
    Pem(String),
    /// In a local file (a root's `private_key_file`), read when signing.
    File(PathBuf),
}

/// The signing CA of a configuration.
pub(crate) struct IssuerSpec {
    /// Its certificate followed by its chain.
    pub chain: CertBundle,
    /// The facts of its certificate.
    pub facts: CertFacts,
    /// Its key.
    pub key: IssuerKey,
}

const CERT: &str = "issuer_cert_pem";
const KEY_PEM: &str = "issuer_private_key_pem";
const KEY_FILE: &str = "issuer_private_key_file";

impl IssuerSpec {
    /// Read and check the issuer inputs. `signs_ca` is true for an intermediate (the issuer
    /// must allow a CA below it); `validity_days` is checked against the issuer's end.
    pub fn read(
        r: &mut Reader,
        signs_ca: bool,
        validity_days: Option<u32>,
        now: OffsetDateTime,
    ) -> Option<IssuerSpec> {
        let chain = read_chain(r, signs_ca);
        if let (Some((_, facts)), Some(days)) = (&chain, validity_days) {
            check_validity(r, facts, days, now);
        }
        let key = read_key(r, chain.as_ref().map(|(_, facts)| facts));
        let (chain, facts) = chain?;
        Some(IssuerSpec {
            chain,
            facts,
            key: key?,
        })
    }
}

fn read_chain(r: &mut Reader, signs_ca: bool) -> Option<(CertBundle, CertFacts)> {
    let text = r.text(CERT)?;
    let chain = match CertBundle::parse(text) {
        Ok(chain) => chain,
        Err(why) => {
            r.error(CERT, format!("{CERT} {why}"));
            return None;
        }
    };
    let facts = match inspect(chain.first()) {
        Ok(facts) => facts,
        Err(why) => {
            r.error(CERT, format!("{CERT} {why}"));
            return None;
        }
    };
    let problem = if !facts.is_ca {
        Some("is not a CA certificate (its basicConstraints lacks CA:TRUE)".to_string())
    } else if !facts.may_sign_certificates {
        Some("has a keyUsage that does not allow signing certificates (keyCertSign)".to_string())
    } else if signs_ca && facts.path_len == Some(0) {
        Some(
            "is a CA with pathlen:0, which may sign leaf certificates only, not another CA"
                .to_string(),
        )
    } else {
        None
    };
    if let Some(problem) = problem {
        r.error(CERT, format!("{CERT} {problem}"));
        return None;
    }
    Some((chain, facts))
}

/// A certificate made now for `days` must not outlive its issuer.
fn check_validity(r: &mut Reader, issuer: &CertFacts, days: u32, now: OffsetDateTime) {
    let issuer_end = rfc3339(issuer.not_after);
    if issuer.not_after <= now {
        r.error(
            CERT,
            format!("{CERT} expired on {issuer_end}; renew the issuer first"),
        );
        return;
    }
    let end = now + Duration::days(i64::from(days));
    if end > issuer.not_after {
        r.error(
            "validity_days",
            format!(
                "validity_days = {days} would end on {}, after the issuer's certificate ends on \
                 {issuer_end}: shorten validity_days or renew the issuer",
                rfc3339(end)
            ),
        );
    }
}

fn read_key(r: &mut Reader, issuer: Option<&CertFacts>) -> Option<IssuerKey> {
    let pem_unset = r.is_null(KEY_PEM);
    let file_unset = r.is_null(KEY_FILE);
    if pem_unset && file_unset {
        r.error(
            KEY_PEM,
            format!("set {KEY_PEM} or {KEY_FILE}: the issuer's private key signs the certificate"),
        );
        return None;
    }
    let both_known = !r.is_unknown(KEY_PEM) && !r.is_unknown(KEY_FILE);
    if !pem_unset && !file_unset && both_known {
        r.error(KEY_PEM, format!("set only one of {KEY_PEM} and {KEY_FILE}"));
        return None;
    }
    if !file_unset {
        return r
            .non_empty(KEY_FILE)
            .map(|f| IssuerKey::File(PathBuf::from(f)));
    }
    let pem = r.text(KEY_PEM)?;
    let key = match load_key(pem) {
        Ok(key) => key,
        Err(why) => {
            r.error(KEY_PEM, format!("{KEY_PEM} {why}"));
            return None;
        }
    };
    if issuer.is_some_and(|facts| facts.public_key != key.public_key_raw()) {
        r.error(
            KEY_PEM,
            format!("{KEY_PEM} is not the key of the certificate in {CERT}"),
        );
        return None;
    }
    Some(IssuerKey::Pem(pem.to_string()))
}
