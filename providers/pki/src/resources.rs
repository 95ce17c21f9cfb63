//! Create, update and delete of the three types: specs in, state values out.
//!
//! These functions are synchronous and CPU-heavy; the provider runs them on blocking threads.

use std::path::PathBuf;

use base64::Engine;
use mesh_engine::provider::ProviderError;
use mesh_engine::value::Value;
use rcgen::KeyPair;
use time::OffsetDateTime;

use crate::certs::{der_to_pem, fingerprint_sha256, inspect, CertBundle};
use crate::config::{
    intermediate_spec, leaf_spec, pkcs12_password, root_spec, IssuerKey, IssuerSpec,
};
use crate::issue::{self, Issued};
use crate::schema::{CERTIFICATE, INTERMEDIATE_CA, ROOT_CA};
use crate::{key_file, keys, pkcs12, rfc3339};

/// An attribute of a state value without its sensitive mark.
pub(crate) fn plain<'a>(value: &'a Value, name: &str) -> &'a Value {
    value.get(name).map_or(&Value::Null, |v| v.unmark().0)
}

fn unknown_left(resource_type: &str) -> ProviderError {
    ProviderError::new(format!(
        "the planned {resource_type} still holds values known only after apply"
    ))
}

/// Make the key and certificate of a planned resource; return its state.
pub(crate) fn create(
    resource_type: &str,
    planned: Value,
    now: OffsetDateTime,
) -> Result<Value, ProviderError> {
    let state = match resource_type {
        ROOT_CA => create_root(planned, now)?,
        INTERMEDIATE_CA => {
            let spec = intermediate_spec(&planned, now)?;
            let issuer_key = issuer_key(&spec.issuer)?;
            let issued = issue::intermediate(&spec, &issuer_key, now)?;
            signed_state(planned, issued, &spec.issuer)?
        }
        CERTIFICATE => {
            let spec = leaf_spec(&planned, now)?;
            let issuer_key = issuer_key(&spec.issuer)?;
            let issued = issue::leaf(&spec, &issuer_key, now)?;
            signed_state(planned, issued, &spec.issuer)?
        }
        other => return Err(ProviderError::new(format!("unknown resource type {other}"))),
    };
    if state.is_unknown_deep() {
        return Err(unknown_left(resource_type));
    }
    Ok(state)
}

fn create_root(planned: Value, now: OffsetDateTime) -> Result<Value, ProviderError> {
    let spec = root_spec(&planned)?;
    let issued = issue::root(&spec, now)?;
    let mut state = planned;
    set_certificate_outputs(&mut state, &issued.cert_der)?;
    let key_pem = issued.key_pem();
    match &spec.key_file {
        Some(path) => {
            key_file::write_new(path, &key_pem, "private_key_file")?;
            state.set_or_insert("private_key_pem", Value::Null);
        }
        None => state.set_or_insert("private_key_pem", Value::String(key_pem)),
    }
    Ok(state)
}

/// The issuer's key, from the configuration or its file.
fn issuer_key(issuer: &IssuerSpec) -> Result<KeyPair, ProviderError> {
    match &issuer.key {
        IssuerKey::Pem(pem) => keys::load_key(pem).map_err(|why| {
            ProviderError::at_attribute(
                format!("issuer_private_key_pem {why}"),
                "issuer_private_key_pem",
            )
        }),
        IssuerKey::File(path) => {
            key_file::read(path, &issuer.facts.public_key, "issuer_private_key_file")
        }
    }
}

/// The state of a CA-signed certificate: outputs, chain, root and PKCS#12 bundle.
fn signed_state(
    planned: Value,
    issued: Issued,
    issuer: &IssuerSpec,
) -> Result<Value, ProviderError> {
    let password = pkcs12_password(&planned)?;
    let chain = CertBundle::single(issued.cert_der.clone()).followed_by(&issuer.chain);
    let mut state = planned;
    set_certificate_outputs(&mut state, &issued.cert_der)?;
    state.set_or_insert("private_key_pem", Value::String(issued.key_pem()));
    state.set_or_insert("cert_chain_pem", Value::String(chain.to_pem()));
    let root = chain
        .root()
        .map_or(Value::Null, |der| Value::String(der_to_pem(der)));
    state.set_or_insert("root_cert_pem", root);
    let bundle = pkcs12_base64(&issued.key_der, &chain, &password)?;
    state.set_or_insert("pkcs12_base64", Value::String(bundle));
    Ok(state)
}

fn pkcs12_base64(
    key_der: &[u8],
    chain: &CertBundle,
    password: &str,
) -> Result<String, ProviderError> {
    let bundle = pkcs12::export(key_der, chain.all(), password)
        .map_err(|e| ProviderError::new(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bundle))
}

fn set_certificate_outputs(state: &mut Value, cert_der: &[u8]) -> Result<(), ProviderError> {
    let facts = inspect(cert_der)
        .map_err(|why| ProviderError::new(format!("the new certificate {why}")))?;
    state.set_or_insert("id", Value::String(facts.serial_hex.clone()));
    state.set_or_insert("serial_number", Value::String(facts.serial_hex));
    state.set_or_insert(
        "fingerprint_sha256",
        Value::String(fingerprint_sha256(cert_der)),
    );
    state.set_or_insert("not_before", Value::String(rfc3339(facts.not_before)));
    state.set_or_insert("not_after", Value::String(rfc3339(facts.not_after)));
    state.set_or_insert("cert_pem", Value::String(der_to_pem(cert_der)));
    Ok(())
}

/// Apply an in-place change: only `early_renewal_days` and `pkcs12_password` change in place,
/// and a new password means a new bundle of the stored key and chain.
pub(crate) fn update(resource_type: &str, planned: Value) -> Result<Value, ProviderError> {
    let mut state = planned;
    if state.get("pkcs12_base64").is_some_and(Value::is_unknown) {
        let password = pkcs12_password(&state)?;
        let key_der = stored_key_der(&state)?;
        let chain = match plain(&state, "cert_chain_pem") {
            Value::String(text) => CertBundle::parse(text)
                .map_err(|why| ProviderError::new(format!("the stored cert_chain_pem {why}")))?,
            _ => return Err(ProviderError::new("the stored state has no cert_chain_pem")),
        };
        let bundle = pkcs12_base64(&key_der, &chain, &password)?;
        state.set_or_insert("pkcs12_base64", Value::String(bundle));
    }
    if state.is_unknown_deep() {
        return Err(unknown_left(resource_type));
    }
    Ok(state)
}

/// The PKCS#8 DER of the stored `private_key_pem` (never quoted in errors).
fn stored_key_der(state: &Value) -> Result<Vec<u8>, ProviderError> {
    let Value::String(text) = plain(state, "private_key_pem") else {
        return Err(ProviderError::new(
            "the stored state has no private_key_pem",
        ));
    };
    match pem::parse(text) {
        Ok(block) if block.tag() == "PRIVATE KEY" => Ok(block.into_contents()),
        _ => Err(ProviderError::new(
            "the stored private_key_pem is not a PKCS#8 PEM key",
        )),
    }
}

/// Delete: nothing exists outside state except a root's key file, which goes only while it
/// still holds this root's key.
pub(crate) fn delete(resource_type: &str, prior: &Value) -> Result<(), ProviderError> {
    if resource_type != ROOT_CA {
        return Ok(());
    }
    let (Value::String(path), Value::String(cert_pem)) =
        (plain(prior, "private_key_file"), plain(prior, "cert_pem"))
    else {
        return Ok(());
    };
    let Ok(cert) = CertBundle::parse(cert_pem) else {
        return Ok(());
    };
    let Ok(facts) = inspect(cert.first()) else {
        return Ok(());
    };
    key_file::remove_if_holds(&PathBuf::from(path), &facts.public_key)
}
