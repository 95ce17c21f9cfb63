//! Planning: the default plan (computed outputs unknown until apply, every shaping input
//! force-new) plus three rules of this provider.
//!
//! 1. Renewal: a certificate whose `not_after` falls within `early_renewal_days` of now (or has
//!    passed) is replaced; the plan marks `not_after` as the path forcing it.
//! 2. A new `pkcs12_password` re-exports the bundle in place: `pkcs12_base64` becomes unknown.
//! 3. A certificate about to be signed with `issuer_private_key_file` needs that file: when the
//!    issuer already exists (its certificate is known), the plan checks that the file is there
//!    and holds the issuer's key, and fails naming the path if not. Plans that sign nothing
//!    never read the file, so a machine without the offline root key (a CI drift check) plans
//!    fine.

use std::path::PathBuf;

use mesh_engine::provider::{default_plan, PlanRequest, PlannedChange, ProviderError};
use mesh_engine::value::{PathStep, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::certs::{inspect, CertBundle};
use crate::key_file;
use crate::resources::plain;
use crate::schema::resource_schema;

/// Plan one resource of this provider.
pub(crate) async fn plan(
    request: &PlanRequest,
    now: OffsetDateTime,
) -> Result<PlannedChange, ProviderError> {
    let schema = resource_schema(&request.resource_type).ok_or_else(|| {
        ProviderError::new(format!("unknown resource type {}", request.resource_type))
    })?;
    // Compare plain values: the engine re-marks what the plan returns.
    let config = request.config.strip_sensitive();
    let prior = request.prior.as_ref().map(Value::strip_sensitive);
    let mut change = default_plan(&schema.block, prior.as_ref(), &config);
    let Some(prior) = prior else {
        check_issuer_key_file(&config).await?;
        return Ok(change);
    };
    if !change.requires_replace.is_empty() {
        return Ok(change);
    }
    if renewal_due(&prior, &config, now) {
        change
            .requires_replace
            .push(vec![PathStep::Key("not_after".to_string())]);
        return Ok(change);
    }
    let has_bundle = schema.block.attributes.contains_key("pkcs12_base64");
    if has_bundle && plain(&prior, "pkcs12_password") != plain(&config, "pkcs12_password") {
        change
            .planned
            .set_or_insert("pkcs12_base64", Value::Unknown);
    }
    Ok(change)
}

/// The certificate in `prior` ends within `early_renewal_days` (as configured) of `now`.
pub(crate) fn renewal_due(prior: &Value, config: &Value, now: OffsetDateTime) -> bool {
    let Value::String(not_after) = plain(prior, "not_after") else {
        return false;
    };
    let Ok(not_after) = OffsetDateTime::parse(not_after, &Rfc3339) else {
        return false;
    };
    let days = match plain(config, "early_renewal_days") {
        Value::Number(days) if days.is_finite() && *days >= 0.0 => *days,
        Value::Null => 0.0,
        _ => return false,
    };
    let margin = Duration::seconds_f64(days * 86_400.0);
    now + margin >= not_after
}

/// Rule 3 of the module doc.
async fn check_issuer_key_file(config: &Value) -> Result<(), ProviderError> {
    let (Value::String(path), Value::String(cert_pem)) = (
        plain(config, "issuer_private_key_file"),
        plain(config, "issuer_cert_pem"),
    ) else {
        return Ok(());
    };
    // A malformed certificate is validate's to report.
    let Some(public_key) = CertBundle::parse(cert_pem)
        .ok()
        .and_then(|chain| inspect(chain.first()).ok())
        .map(|facts| facts.public_key)
    else {
        return Ok(());
    };
    let path = PathBuf::from(path);
    tokio::task::spawn_blocking(move || {
        key_file::read(&path, &public_key, "issuer_private_key_file").map(drop)
    })
    .await
    .map_err(|e| ProviderError::new(format!("checking the issuer key file failed: {e}")))?
}
