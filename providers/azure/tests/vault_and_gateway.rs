//! Key Vault (vaults, secrets, certificate import) and Application Gateway through the
//! provider against the local cloud: create, read, plan-after-apply, in-place update, drift,
//! errors (without secret values) and delete.

use std::sync::Arc;

use mesh_emulator::{LocalCloud, LocalCloudOptions};
use mesh_engine::provider::{
    ApplyRequest, BlockSchema, Nesting, PlanRequest, PlannedChange, Provider, ProviderError,
    ReadRequest,
};
use mesh_engine::value::Value;
use mesh_provider_azure::arm::{ArmClient, ArmConfig, Method, StaticToken};
use mesh_provider_azure::AzureProvider;
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "correct-horse-battery-staple";
const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const CERT_PEM: &str = include_str!("fixtures/test-cert-and-key.pem");
/// `openssl x509 -noout -fingerprint -sha1` of the fixture.
const CERT_THUMBPRINT: &str = "87FF3CE9204A7E80F505F8C6D9C8EB12010D99BA";

struct Env {
    cloud: LocalCloud,
    provider: AzureProvider,
    arm: ArmClient,
}

fn sub() -> &'static str {
    LocalCloud::SUBSCRIPTION_ID
}

fn rg_id(rg: &str) -> String {
    format!("/subscriptions/{}/resourceGroups/{rg}", sub())
}

async fn start() -> Env {
    let options = LocalCloudOptions {
        time_factor: 0.001,
        ..Default::default()
    };
    let cloud = LocalCloud::start(options).await.expect("local cloud");
    let provider = AzureProvider::new();
    let config = Value::from_json(
        &json!({"endpoint": cloud.url(), "subscription_id": sub(), "auth": "none"}),
    );
    provider.configure(config).await.expect("configured");
    let arm = ArmClient::new(ArmConfig {
        endpoint: cloud.url(),
        subscription_id: sub().into(),
        scope: "https://management.azure.com/.default".into(),
        credential: Arc::new(StaticToken("local".into())),
    })
    .expect("client");
    Env {
        cloud,
        provider,
        arm,
    }
}

/// A configuration as the engine builds it: every attribute present, defaults applied,
/// sensitive attributes marked.
fn complete(block: &BlockSchema, partial: &Json) -> Value {
    let mut out = std::collections::BTreeMap::new();
    for (name, attr) in &block.attributes {
        let v = partial.get(name).map(Value::from_json);
        let v = v.or(attr.default.clone()).unwrap_or(Value::Null);
        let v = if attr.sensitive && !v.is_null() {
            v.into_sensitive()
        } else {
            v
        };
        out.insert(name.clone(), v);
    }
    for (name, nested) in &block.blocks {
        let v = match (nested.nesting, partial.get(name)) {
            (Nesting::List, Some(Json::Array(a))) => {
                Value::List(a.iter().map(|i| complete(&nested.block, i)).collect())
            }
            (Nesting::List, _) => Value::List(vec![]),
            (Nesting::Single, Some(o)) if o.is_object() => complete(&nested.block, o),
            (Nesting::Single, _) => Value::Null,
        };
        out.insert(name.clone(), v);
    }
    Value::Map(out)
}

impl Env {
    fn config(&self, ty: &str, partial: Json) -> Value {
        let schema = self
            .provider
            .schema()
            .resources
            .get(ty)
            .cloned()
            .expect("type");
        complete(&schema.block, &partial)
    }

    async fn plan(&self, ty: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let request = PlanRequest {
            resource_type: ty.into(),
            address: format!("{ty}.test"),
            prior: prior.cloned(),
            config: config.clone(),
        };
        self.provider.plan(request).await.expect("plan")
    }

    fn apply_request(&self, ty: &str, prior: Option<&Value>, planned: Value) -> ApplyRequest {
        ApplyRequest {
            resource_type: ty.into(),
            address: format!("{ty}.test"),
            prior: prior.cloned(),
            planned,
            cancel: CancellationToken::new(),
        }
    }

    /// validate, plan and create.
    async fn create(&self, ty: &str, partial: Json) -> Result<Value, ProviderError> {
        let config = self.config(ty, partial);
        let problems = self.provider.validate(ty, &config);
        assert!(problems.is_empty(), "{ty}: {problems:?}");
        let planned = self.plan(ty, None, &config).await.planned;
        self.provider
            .create(self.apply_request(ty, None, planned))
            .await
    }

    /// plan and update in place.
    async fn update(&self, ty: &str, prior: &Value, partial: Json) -> Result<Value, ProviderError> {
        let config = self.config(ty, partial);
        let planned = self.plan(ty, Some(prior), &config).await;
        assert!(planned.requires_replace.is_empty(), "{ty}: in place");
        self.provider
            .update(self.apply_request(ty, Some(prior), planned.planned))
            .await
    }

    async fn read(&self, ty: &str, state: &Value) -> Option<Value> {
        let request = ReadRequest {
            resource_type: ty.into(),
            address: format!("{ty}.test"),
            current: state.clone(),
        };
        self.provider.read(request).await.expect("read")
    }

    async fn delete(&self, ty: &str, state: &Value) {
        let request = self.apply_request(ty, Some(state), Value::Null);
        self.provider.delete(request).await.expect("delete");
        assert_eq!(self.read(ty, state).await, None, "{ty} is gone");
    }

    /// Refresh, then plan the same configuration: nothing to do.
    async fn assert_no_changes(&self, ty: &str, state: &Value, partial: Json) -> Value {
        let live = self.read(ty, state).await.expect("exists");
        assert_eq!(&live, state, "{ty}: read matches the state after apply");
        let planned = self.plan(ty, Some(&live), &self.config(ty, partial)).await;
        assert_eq!(
            planned.planned, live,
            "{ty}: a plan after apply changes nothing"
        );
        assert!(planned.requires_replace.is_empty());
        live
    }

    async fn resource_group(&self, name: &str) {
        self.create(
            "azure_resource_group",
            json!({"name": name, "location": "westeurope"}),
        )
        .await
        .expect("resource group");
    }

    async fn vault(&self, rg: &str, name: &str) -> Value {
        self.create("azure_key_vault", vault_config(rg, name, json!({})))
            .await
            .expect("vault")
    }
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key).map(|v| v.unmark().0) {
        Some(Value::String(s)) => s.clone(),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

fn vault_config(rg: &str, name: &str, extra: Json) -> Json {
    let mut c = json!({
        "name": name, "resource_group_name": rg, "location": "westeurope", "tenant_id": TENANT,
        "sku_name": "standard", "soft_delete_retention_days": 7,
        "access_policy": [{"tenant_id": TENANT, "object_id": "22222222-2222-2222-2222-222222222222", "secret_permissions": ["Get", "List", "Set"], "certificate_permissions": ["Get", "Import"]}],
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        c[k] = v;
    }
    c
}

#[tokio::test]
async fn vault_create_read_update_delete() {
    let env = start().await;
    env.resource_group("rg-kv").await;
    let partial = vault_config(
        "rg-kv",
        "kv-mesh-one",
        json!({"purge_protection_enabled": true, "tags": {"env": "dev"}}),
    );
    let vault = env
        .create("azure_key_vault", partial.clone())
        .await
        .expect("created");
    assert_eq!(
        text(&vault, "vault_uri"),
        format!("{}/keyvault/kv-mesh-one/", env.cloud.url())
    );
    assert_eq!(
        text(&vault, "id"),
        format!(
            "{}/providers/Microsoft.KeyVault/vaults/kv-mesh-one",
            rg_id("rg-kv")
        )
    );
    let vault = env
        .assert_no_changes("azure_key_vault", &vault, partial.clone())
        .await;

    // In place: tags, network access, access policies.
    let changed = vault_config(
        "rg-kv",
        "kv-mesh-one",
        json!({"purge_protection_enabled": true, "tags": {"env": "prod"}, "public_network_access_enabled": false, "access_policy": []}),
    );
    let vault = env
        .update("azure_key_vault", &vault, changed.clone())
        .await
        .expect("updated");
    let vault = env
        .assert_no_changes("azure_key_vault", &vault, changed.clone())
        .await;
    assert_eq!(
        vault.get("public_network_access_enabled"),
        Some(&Value::Bool(false))
    );

    // Drift made outside mesh shows on refresh.
    let id = text(&vault, "id");
    let mut live = env
        .arm
        .get(&id, "2025-05-01", &CancellationToken::new())
        .await
        .unwrap()
        .unwrap();
    live["tags"] = json!({"env": "changed-by-hand"});
    env.arm
        .put(&id, "2025-05-01", &live, &CancellationToken::new())
        .await
        .expect("manual change");
    let drifted = env.read("azure_key_vault", &vault).await.unwrap();
    assert_eq!(
        drifted.get("tags"),
        Some(&Value::from_json(&json!({"env": "changed-by-hand"})))
    );

    // Purge protection cannot be turned off; a force-new attribute plans a replacement.
    let off = vault_config(
        "rg-kv",
        "kv-mesh-one",
        json!({"purge_protection_enabled": false}),
    );
    let e = env
        .update("azure_key_vault", &vault, off)
        .await
        .expect_err("sticky");
    assert!(e.message.contains("purge protection"), "{}", e.message);
    let moved = env
        .plan(
            "azure_key_vault",
            Some(&vault),
            &env.config(
                "azure_key_vault",
                vault_config("rg-kv", "kv-mesh-one", json!({"location": "northeurope"})),
            ),
        )
        .await;
    assert_eq!(moved.requires_replace.len(), 1);

    // Vault names are global.
    env.resource_group("rg-other").await;
    let e = env
        .create(
            "azure_key_vault",
            vault_config("rg-other", "kv-mesh-one", json!({})),
        )
        .await
        .expect_err("taken");
    assert!(e.message.contains("VaultAlreadyExists"), "{}", e.message);

    env.delete("azure_key_vault", &vault).await;
    assert!(!env
        .cloud
        .resource_ids()
        .iter()
        .any(|id| id.contains("kv-mesh-one")));
    env.cloud.shutdown().await;
}

#[tokio::test]
async fn secret_round_trip_never_shows_the_value() {
    let env = start().await;
    env.resource_group("rg-kv").await;
    let vault = env.vault("rg-kv", "kv-secrets").await;
    let vault_id = text(&vault, "id");
    let partial = json!({"name": "root-cert", "key_vault_id": vault_id, "value": SECRET, "content_type": "text/plain"});
    let secret = env
        .create("azure_key_vault_secret", partial.clone())
        .await
        .expect("created");
    assert_eq!(
        secret.get("value"),
        Some(&Value::string(SECRET).into_sensitive())
    );
    let versionless = format!("{}secrets/root-cert", text(&vault, "vault_uri"));
    assert_eq!(text(&secret, "versionless_id"), versionless);
    assert_eq!(
        text(&secret, "id"),
        format!("{versionless}/{}", text(&secret, "version"))
    );
    let secret = env
        .assert_no_changes("azure_key_vault_secret", &secret, partial.clone())
        .await;

    // A new value is a new version.
    let rotated = json!({"name": "root-cert", "key_vault_id": vault_id, "value": "second-value", "content_type": "text/plain"});
    let secret2 = env
        .update("azure_key_vault_secret", &secret, rotated.clone())
        .await
        .expect("updated");
    assert_ne!(text(&secret2, "version"), text(&secret, "version"));
    let secret2 = env
        .assert_no_changes("azure_key_vault_secret", &secret2, rotated.clone())
        .await;

    // A value set outside mesh is drift: the plan writes the configured value again.
    let url = format!("{versionless}?api-version=7.5");
    let body = json!({"value": "set-by-hand"});
    env.arm
        .data_plane(
            Method::Put,
            &url,
            Some(&body),
            "https://vault.azure.net/.default",
            &CancellationToken::new(),
        )
        .await
        .expect("manual set");
    let drifted = env.read("azure_key_vault_secret", &secret2).await.unwrap();
    assert_eq!(
        drifted.get("value"),
        Some(&Value::string("set-by-hand").into_sensitive())
    );
    let plan = env
        .plan(
            "azure_key_vault_secret",
            Some(&drifted),
            &env.config("azure_key_vault_secret", rotated.clone()),
        )
        .await;
    assert_eq!(plan.planned.get("version"), Some(&Value::Unknown));

    // Errors name the secret, never its value.
    let duplicate = env
        .create("azure_key_vault_secret", partial.clone())
        .await
        .expect_err("exists");
    assert!(
        duplicate.message.contains("already exists") && !duplicate.message.contains(SECRET),
        "{}",
        duplicate.message
    );
    let nowhere = json!({"name": "x", "key_vault_id": vault_id.replace("kv-secrets", "kv-missing"), "value": SECRET});
    let missing = env
        .create("azure_key_vault_secret", nowhere)
        .await
        .expect_err("no vault");
    assert!(
        missing.message.contains("does not exist") && !missing.message.contains(SECRET),
        "{}",
        missing.message
    );

    env.delete("azure_key_vault_secret", &secret2).await;
    env.cloud.shutdown().await;
}

#[tokio::test]
async fn certificate_import_of_a_pem() {
    let env = start().await;
    env.resource_group("rg-kv").await;
    let vault = env.vault("rg-kv", "kv-certs").await;
    let partial = json!({"name": "frontend-certificate", "key_vault_id": text(&vault, "id"), "certificate": {"contents": CERT_PEM}});
    let cert = env
        .create("azure_key_vault_certificate", partial.clone())
        .await
        .expect("imported");
    assert_eq!(text(&cert, "thumbprint"), CERT_THUMBPRINT);
    let uri = text(&vault, "vault_uri");
    assert_eq!(
        text(&cert, "versionless_secret_id"),
        format!("{uri}secrets/frontend-certificate")
    );
    assert!(text(&cert, "secret_id").starts_with(&format!("{uri}secrets/frontend-certificate/")));
    let cert = env
        .assert_no_changes("azure_key_vault_certificate", &cert, partial)
        .await;
    env.delete("azure_key_vault_certificate", &cert).await;
    env.cloud.shutdown().await;
}

/// The network, public IP and identity a gateway needs, created with plain ARM calls.
async fn gateway_prerequisites(env: &Env) -> (String, String, String) {
    let cancel = CancellationToken::new();
    let put = |id: String, api: &'static str, body: Json| {
        let cancel = cancel.clone();
        async move {
            env.arm
                .put(&id, api, &body, &cancel)
                .await
                .unwrap_or_else(|e| panic!("{id}: {e}"))
        }
    };
    let providers = format!("{}/providers", rg_id("rg-agw"));
    let vnet = format!("{providers}/Microsoft.Network/virtualNetworks/vnet-agw");
    put(vnet.clone(), "2024-05-01", json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "AppGateway", "properties": {"addressPrefix": "10.0.3.0/24"}}]}})).await;
    let pip = format!("{providers}/Microsoft.Network/publicIPAddresses/pip-agw");
    put(pip.clone(), "2024-05-01", json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}})).await;
    let identity = format!("{providers}/Microsoft.ManagedIdentity/userAssignedIdentities/id-agw");
    put(
        identity.clone(),
        "2024-11-30",
        json!({"location": "westeurope"}),
    )
    .await;
    (format!("{vnet}/subnets/AppGateway"), pip, identity)
}

fn gateway_config(
    subnet: &str,
    pip: &str,
    identity: &str,
    secret_id: &str,
    probe_path: &str,
) -> Json {
    let root = CERT_PEM
        .split("-----")
        .nth(2)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<String>();
    json!({
        "name": "agw-westeurope", "resource_group_name": "rg-agw", "location": "westeurope",
        "sku": {"name": "Standard_v2", "tier": "Standard_v2", "capacity": 2},
        "identity": {"identity_ids": [identity]},
        "gateway_ip_configuration": [{"name": "gateway", "subnet_id": subnet}],
        "frontend_ip_configuration": [{"name": "public", "public_ip_address_id": pip}, {"name": "private", "subnet_id": subnet}],
        "frontend_port": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
        "backend_address_pool": [{"name": "istio-ingress", "ip_addresses": ["10.0.1.100"]}],
        "backend_http_settings": [
            {"name": "plain", "port": 80, "protocol": "Http", "probe_name": "http-health"},
            {"name": "tls", "port": 443, "protocol": "Https", "host_name": "echoserver.example.com", "probe_name": "https-health", "trusted_root_certificate_names": ["root"]},
        ],
        "probe": [
            {"name": "http-health", "protocol": "Http", "path": probe_path, "host": "127.0.0.1", "match_status_codes": ["200-399"]},
            {"name": "https-health", "protocol": "Https", "path": "/healthz/ready", "pick_host_name_from_backend_http_settings": true},
        ],
        "trusted_root_certificate": [{"name": "root", "data": root}],
        "ssl_certificate": [{"name": "frontend", "key_vault_secret_id": secret_id}],
        "http_listener": [
            {"name": "http", "frontend_ip_configuration_name": "public", "frontend_port_name": "http", "protocol": "Http"},
            {"name": "https", "frontend_ip_configuration_name": "public", "frontend_port_name": "https", "protocol": "Https", "ssl_certificate_name": "frontend", "host_name": "echoserver.example.com"},
        ],
        "request_routing_rule": [
            {"name": "http", "priority": 100, "http_listener_name": "http", "backend_address_pool_name": "istio-ingress", "backend_http_settings_name": "plain"},
            {"name": "https", "priority": 200, "http_listener_name": "https", "backend_address_pool_name": "istio-ingress", "backend_http_settings_name": "tls"},
        ],
    })
}

#[tokio::test]
async fn application_gateway_with_http_and_https_listeners() {
    let env = start().await;
    env.resource_group("rg-agw").await;
    let (subnet, pip, identity) = gateway_prerequisites(&env).await;
    let vault = env.vault("rg-agw", "kv-agw").await;
    let cert = env.create("azure_key_vault_certificate", json!({"name": "frontend-certificate", "key_vault_id": text(&vault, "id"), "certificate": {"contents": CERT_PEM}})).await.expect("certificate");
    let secret_id = text(&cert, "versionless_secret_id");

    let partial = gateway_config(&subnet, &pip, &identity, &secret_id, "/");
    let gateway = env
        .create("azure_application_gateway", partial.clone())
        .await
        .expect("created");
    let frontends = gateway
        .get("frontend_ip_configuration")
        .and_then(Value::as_list)
        .unwrap()
        .to_vec();
    assert_eq!(
        frontends[1].get("private_ip_address"),
        Some(&Value::string("10.0.3.4")),
        "Azure's choice, from the subnet"
    );
    let gateway = env
        .assert_no_changes("azure_application_gateway", &gateway, partial)
        .await;

    // In place: a probe's path.
    let changed = gateway_config(&subnet, &pip, &identity, &secret_id, "/healthz");
    let gateway = env
        .update("azure_application_gateway", &gateway, changed.clone())
        .await
        .expect("updated");
    let gateway = env
        .assert_no_changes("azure_application_gateway", &gateway, changed.clone())
        .await;
    let probe = gateway.get("probe").and_then(Value::as_list).unwrap()[0].clone();
    assert_eq!(probe.get("path"), Some(&Value::string("/healthz")));

    // The local cloud refuses what Azure refuses, even when validation is bypassed.
    let mut dangling = changed.clone();
    dangling["name"] = json!("agw-broken");
    dangling["request_routing_rule"][0]["backend_address_pool_name"] = json!("missing");
    let config = env.config("azure_application_gateway", dangling);
    assert!(!env
        .provider
        .validate("azure_application_gateway", &config)
        .is_empty());
    let planned = env
        .plan("azure_application_gateway", None, &config)
        .await
        .planned;
    let e = env
        .provider
        .create(env.apply_request("azure_application_gateway", None, planned))
        .await
        .expect_err("dangling reference");
    assert!(
        e.message.contains("InvalidResourceReference"),
        "{}",
        e.message
    );

    env.delete("azure_application_gateway", &gateway).await;
    env.cloud.shutdown().await;
}
