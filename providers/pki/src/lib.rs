//! The `pki` provider: root and intermediate CAs and leaf certificates, generated on the
//! machine that runs mesh.
//!
//! It makes what Istio's `tools/certs/Makefile.selfsigned.mk` makes for a multi-cluster mesh
//! with a shared root of trust, declaratively:
//!
//! | type | Istio file(s) |
//! | --- | --- |
//! | `pki_root_ca` | `root-cert.pem` (`cert_pem`), `root-key.pem` (`private_key_pem` or a local file) |
//! | `pki_intermediate_ca` | per cluster: `ca-cert.pem`, `ca-key.pem`, `cert-chain.pem`, `root-cert.pem` |
//! | `pki_certificate` | TLS server and client certificates (echoserver, httpbin, MUTUAL clients) |
//!
//! Keys and certificates are made at apply (`create`), never at plan: a plan shows them as
//! known after apply. There is no remote object: the state is the certificate, `read` returns
//! it unchanged, and a certificate is never edited, only replaced — every input that shapes it
//! forces replacement, and `early_renewal_days` plans a replacement before it expires.
//!
//! Private keys never leave this machine through this provider: they are kept in state as
//! sensitive attributes, or (a root's `private_key_file`) only in a local file. Where they go
//! next (a Key Vault secret, a Kubernetes Secret) is for the configuration to say.
//!
//! This crate owns certificate making, PKCS#12 export and key files. It knows nothing of
//! Azure, Kubernetes or how the engine plans.
#![deny(missing_docs)]

mod certs;
mod config;
mod issue;
mod key_file;
mod keys;
mod pkcs12;
mod plan;
mod resources;
mod schema;

use std::collections::BTreeMap;

use async_trait::async_trait;
use mesh_engine::provider::{
    ApplyRequest, BlockSchema, PlanRequest, PlannedChange, Provider, ProviderError, ProviderSchema,
    ReadRequest,
};
use mesh_engine::value::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub use keys::KeyAlgorithm;
pub use schema::{CERTIFICATE, INTERMEDIATE_CA, ISTIOD_SAN, ROOT_CA};

/// The provider name: the prefix of its resource types.
pub const PROVIDER_NAME: &str = "pki";

/// The `pki` provider. Stateless: everything it makes lives in state (and key files).
#[derive(Debug, Default)]
pub struct PkiProvider;

impl PkiProvider {
    /// A provider; it takes no configuration.
    pub fn new() -> PkiProvider {
        PkiProvider
    }
}

/// A time as RFC 3339 (`2025-01-31T12:00:00Z`).
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn check_type(resource_type: &str) -> Result<(), ProviderError> {
    if schema::RESOURCE_TYPES.contains(&resource_type) {
        return Ok(());
    }
    Err(ProviderError::new(format!(
        "the pki provider has no resource type {resource_type}"
    )))
}

/// Run CPU-heavy work (key generation, signing) off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProviderError> + Send + 'static,
) -> Result<T, ProviderError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ProviderError::new(format!("certificate work stopped: {e}")))?
}

#[async_trait]
impl Provider for PkiProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> ProviderSchema {
        let resources = schema::RESOURCE_TYPES
            .iter()
            .filter_map(|t| Some((t.to_string(), schema::resource_schema(t)?)))
            .collect::<BTreeMap<_, _>>();
        ProviderSchema {
            provider: BlockSchema::default(),
            resources,
            data_sources: BTreeMap::new(),
        }
    }

    fn validate(&self, resource_type: &str, config: &Value) -> Vec<ProviderError> {
        config::validate(resource_type, config, OffsetDateTime::now_utc())
    }

    fn expected_duration(
        &self,
        resource_type: &str,
        operation: mesh_engine::graph::OpKind,
        _value: &Value,
    ) -> Option<std::time::Duration> {
        use mesh_engine::graph::OpKind;
        // Key generation is the only slow part: an RSA 4096 CA key takes about a second or two.
        let millis = match (operation, resource_type) {
            (OpKind::Create | OpKind::Update, schema::ROOT_CA | schema::INTERMEDIATE_CA) => 1500,
            (OpKind::Create | OpKind::Update, _) => 300,
            (OpKind::Delete | OpKind::DeleteDeposed, _) => 0,
            (OpKind::Read | OpKind::Barrier(_), _) => return None,
        };
        Some(std::time::Duration::from_millis(millis))
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlannedChange, ProviderError> {
        plan::plan(&request, OffsetDateTime::now_utc()).await
    }

    async fn create(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        check_type(&request.resource_type)?;
        let ApplyRequest {
            resource_type,
            planned,
            ..
        } = request;
        let planned = planned.strip_sensitive();
        blocking(move || resources::create(&resource_type, planned, OffsetDateTime::now_utc()))
            .await
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        check_type(&request.resource_type)?;
        // Nothing exists until a certificate was generated: a planned value looked up after a
        // crash has none.
        let generated = request
            .current
            .get("cert_pem")
            .is_some_and(|c| !c.is_null() && !c.is_unknown());
        Ok(generated.then_some(request.current))
    }

    async fn update(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        check_type(&request.resource_type)?;
        let ApplyRequest {
            resource_type,
            planned,
            ..
        } = request;
        let planned = planned.strip_sensitive();
        blocking(move || resources::update(&resource_type, planned)).await
    }

    async fn delete(&self, request: ApplyRequest) -> Result<(), ProviderError> {
        check_type(&request.resource_type)?;
        let Some(prior) = request.prior.map(|p| p.strip_sensitive()) else {
            return Ok(());
        };
        let resource_type = request.resource_type;
        blocking(move || resources::delete(&resource_type, &prior)).await
    }
}

#[cfg(test)]
mod tests;
