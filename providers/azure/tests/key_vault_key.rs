//! `azure_key_vault_key` and the state key wrapper against the local cloud: create, read,
//! plan-after-apply, in-place update, drift, delete; wrapping through the vault from inside a
//! multi-threaded runtime and from a plain thread, rotation, and refusals that name the key.

use std::collections::BTreeMap;
use std::sync::Arc;

use mesh_emulator::{LocalCloud, LocalCloudOptions};
use mesh_engine::provider::{ApplyRequest, PlanRequest, Provider, ReadRequest};
use mesh_engine::value::Value;
use mesh_provider_azure::arm::{ArmClient, ArmConfig, Method, StaticToken};
use mesh_provider_azure::key_wrapping::{KeyVaultKeyId, KeyVaultKeyWrapper};
use mesh_provider_azure::AzureProvider;
use mesh_state::KeyWrapper;
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

const TYPE: &str = "azure_key_vault_key";
const SCOPE: &str = "https://vault.azure.net/.default";

struct Env {
    cloud: LocalCloud,
    provider: AzureProvider,
    arm: ArmClient,
}

fn vault_id(name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/{name}",
        LocalCloud::SUBSCRIPTION_ID
    )
}

async fn start() -> Env {
    let options = LocalCloudOptions {
        time_factor: 0.001,
        ..Default::default()
    };
    let cloud = LocalCloud::start(options).await.expect("local cloud");
    let provider = AzureProvider::new();
    let config = Value::from_json(&json!({
        "endpoint": cloud.url(), "subscription_id": LocalCloud::SUBSCRIPTION_ID, "auth": "none"
    }));
    provider.configure(config).await.expect("configured");
    let arm = ArmClient::new(ArmConfig {
        endpoint: cloud.url(),
        subscription_id: LocalCloud::SUBSCRIPTION_ID.into(),
        scope: "https://management.azure.com/.default".into(),
        credential: Arc::new(StaticToken("local".into())),
    })
    .expect("client");
    let cancel = CancellationToken::new();
    let rg = format!(
        "/subscriptions/{}/resourceGroups/rg-keys",
        LocalCloud::SUBSCRIPTION_ID
    );
    arm.put(
        &rg,
        "2021-04-01",
        &json!({"location": "westeurope"}),
        &cancel,
    )
    .await
    .expect("resource group");
    for name in ["kv-keys", "kv-other"] {
        let body = json!({"location": "westeurope", "properties": {
            "tenantId": "11111111-1111-1111-1111-111111111111", "sku": {"name": "standard"}}});
        arm.put(&vault_id(name), "2023-07-01", &body, &cancel)
            .await
            .expect("vault");
    }
    Env {
        cloud,
        provider,
        arm,
    }
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key).map(|v| v.unmark().0) {
        Some(Value::String(s)) => s.clone(),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

impl Env {
    /// The configuration as the engine builds it: every attribute, defaults applied.
    fn config(&self, partial: Json) -> Value {
        let schema = self.provider.schema().resources[TYPE].clone();
        let mut out = BTreeMap::new();
        for (name, attr) in &schema.block.attributes {
            let v = partial.get(name).map(Value::from_json);
            out.insert(
                name.clone(),
                v.or(attr.default.clone()).unwrap_or(Value::Null),
            );
        }
        Value::Map(out)
    }

    fn request(&self, prior: Option<&Value>, planned: Value) -> ApplyRequest {
        ApplyRequest {
            resource_type: TYPE.into(),
            address: format!("{TYPE}.test"),
            prior: prior.cloned(),
            planned,
            cancel: CancellationToken::new(),
        }
    }

    async fn plan(&self, prior: Option<&Value>, config: &Value) -> Value {
        let request = PlanRequest {
            resource_type: TYPE.into(),
            address: format!("{TYPE}.test"),
            prior: prior.cloned(),
            config: config.clone(),
        };
        let planned = self.provider.plan(request).await.expect("plan");
        assert!(planned.requires_replace.is_empty(), "in place");
        planned.planned
    }

    async fn read(&self, state: &Value) -> Option<Value> {
        let request = ReadRequest {
            resource_type: TYPE.into(),
            address: format!("{TYPE}.test"),
            current: state.clone(),
        };
        self.provider.read(request).await.expect("read")
    }

    /// A new version of a key, made outside mesh (a rotation).
    async fn rotate(&self, versionless: &str) -> String {
        let url = format!("{versionless}/create?api-version=7.4");
        let body = json!({"kty": "RSA", "key_ops": ["wrapKey", "unwrapKey"]});
        let created = self
            .arm
            .data_plane(
                Method::Post,
                &url,
                Some(&body),
                SCOPE,
                &CancellationToken::new(),
            )
            .await
            .expect("rotate")
            .expect("a key bundle");
        created["key"]["kid"].as_str().expect("kid").to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_create_read_update_drift_delete() {
    let env = start().await;
    let partial = json!({"name": "state-key", "key_vault_id": vault_id("kv-keys"),
        "key_type": "RSA", "key_size": 3072, "key_opts": ["wrapKey", "unwrapKey"]});
    let config = env.config(partial.clone());
    assert!(env.provider.validate(TYPE, &config).is_empty());
    let planned = env.plan(None, &config).await;
    let key = env
        .provider
        .create(env.request(None, planned))
        .await
        .expect("created");
    let versionless = text(&key, "versionless_id");
    assert_eq!(
        versionless,
        format!("{}/keyvault/kv-keys/keys/state-key", env.cloud.url())
    );
    assert_eq!(
        text(&key, "id"),
        format!("{versionless}/{}", text(&key, "version"))
    );
    assert_eq!(text(&key, "e"), "AQAB");
    assert_eq!(key.get("key_size"), Some(&Value::Number(3072.0)));

    // Refresh right after apply matches; a plan changes nothing.
    let live = env.read(&key).await.expect("exists");
    assert_eq!(live, key);
    assert_eq!(env.plan(Some(&live), &config).await, live);

    // Tags and operations change in place, on the same version.
    let tagged = json!({"name": "state-key", "key_vault_id": vault_id("kv-keys"),
        "key_type": "RSA", "key_size": 3072, "key_opts": ["wrapKey", "unwrapKey", "encrypt"],
        "tags": {"team": "mesh"}});
    let tagged_config = env.config(tagged);
    let planned = env.plan(Some(&key), &tagged_config).await;
    let updated = env
        .provider
        .update(env.request(Some(&key), planned))
        .await
        .expect("updated");
    assert_eq!(text(&updated, "version"), text(&key, "version"));
    assert_eq!(
        env.plan(Some(&updated), &tagged_config).await,
        updated,
        "no change after the update"
    );

    // Operations changed outside mesh are drift.
    let url = format!("{versionless}/?api-version=7.4");
    env.arm
        .data_plane(
            Method::Patch,
            &url,
            Some(&json!({"key_ops": ["sign"]})),
            SCOPE,
            &CancellationToken::new(),
        )
        .await
        .expect("manual update");
    let drifted = env.read(&updated).await.expect("exists");
    assert_eq!(
        drifted.get("key_opts"),
        Some(&Value::List(vec![Value::string("sign")]))
    );
    assert_ne!(env.plan(Some(&drifted), &tagged_config).await, drifted);

    // A rotation outside mesh shows as a new current version.
    let rotated = env.rotate(&versionless).await;
    let refreshed = env.read(&drifted).await.expect("exists");
    assert_eq!(text(&refreshed, "id"), rotated);

    // Creating a key that exists is refused; delete; gone is gone.
    let duplicate = env
        .provider
        .create(env.request(None, config.clone()))
        .await
        .expect_err("exists");
    assert!(
        duplicate.message.contains("already exists"),
        "{}",
        duplicate.message
    );
    env.provider
        .delete(env.request(Some(&refreshed), Value::Null))
        .await
        .expect("delete");
    assert_eq!(env.read(&refreshed).await, None);
    env.cloud.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapper_wraps_through_the_vault_and_survives_rotation() {
    let env = start().await;
    let partial = json!({"name": "kek", "key_vault_id": vault_id("kv-keys"),
        "key_type": "RSA", "key_opts": ["wrapKey", "unwrapKey"]});
    let key = env
        .provider
        .create(env.request(None, env.config(partial)))
        .await
        .expect("created");
    let versionless = text(&key, "versionless_id");
    let id = KeyVaultKeyId::parse(&versionless).expect("a key URL");
    let wrapper = KeyVaultKeyWrapper::from_environment(id.clone()).expect("wrapper");
    let data_key = [9u8; 32];

    // From inside the multi-threaded runtime that also serves the local cloud.
    let wrapped = wrapper.wrap(&data_key).expect("wrap");
    assert_eq!(
        wrapper.key_id(),
        text(&key, "id"),
        "envelopes name the version"
    );
    assert_eq!(wrapper.algorithm(), "RSA-OAEP-256");
    let first_kid = wrapper.key_id();
    assert_eq!(
        wrapper.unwrap(&first_kid, &wrapped).expect("unwrap"),
        data_key
    );

    // After a rotation, new wraps use the new version; the old one still unwraps, also from
    // a thread outside any runtime.
    let rotated = env.rotate(&versionless).await;
    let wrapper = Arc::new(wrapper);
    let outside = wrapper.clone();
    let (old, new_kid) = std::thread::spawn(move || {
        let again = outside.wrap(&data_key).expect("wrap");
        let new_kid = outside.key_id();
        assert_eq!(outside.unwrap(&new_kid, &again).expect("unwrap"), data_key);
        (outside.unwrap(&first_kid, &wrapped), new_kid)
    })
    .join()
    .expect("thread");
    assert_eq!(old.expect("old version unwraps"), data_key);
    assert_eq!(new_kid, rotated);

    // Another key's envelope is refused without asking the vault, naming both keys.
    let other = format!("{}/keyvault/kv-other/keys/kek/0123", env.cloud.url());
    let refused = wrapper.unwrap(&other, &[1, 2, 3]).expect_err("other key");
    assert!(
        refused.contains(&other) && refused.contains(&versionless),
        "{refused}"
    );
    // A key that does not exist, and a vault that is not there, are errors naming the key.
    let missing = KeyVaultKeyId::parse(&format!("{}/keyvault/kv-other/keys/nope", env.cloud.url()))
        .expect("a key URL");
    let error = KeyVaultKeyWrapper::from_environment(missing)
        .expect("wrapper")
        .wrap(&data_key)
        .expect_err("no such key");
    assert!(error.contains("keys/nope"), "{error}");
    env.cloud.shutdown().await;
    let error = wrapper.wrap(&data_key).expect_err("unreachable");
    assert!(error.contains(&versionless), "{error}");
}

#[test]
fn key_ids_parse_with_and_without_versions() {
    let id = KeyVaultKeyId::parse("https://kv1.vault.azure.net/keys/state/0123abcd").expect("ok");
    assert_eq!(id.vault_url(), "https://kv1.vault.azure.net/");
    assert_eq!((id.name(), id.version()), ("state", Some("0123abcd")));
    assert_eq!(id.versionless(), "https://kv1.vault.azure.net/keys/state");
    assert!(!id.is_loopback());
    let local = KeyVaultKeyId::parse("http://127.0.0.1:4000/keyvault/kv1/keys/state/").expect("ok");
    assert_eq!(local.vault_url(), "http://127.0.0.1:4000/keyvault/kv1/");
    assert_eq!(local.version(), None);
    assert!(local.is_loopback());
    assert!(
        KeyVaultKeyId::parse("https://kv1.vault.azure.net/keys/STATE")
            .expect("ok")
            .same_key(&id)
    );
    for bad in [
        "not a url",
        "http://kv1.vault.azure.net/keys/state",
        "https://kv1.vault.azure.net/secrets/state",
        "https://kv1.vault.azure.net/keys/",
        "https://kv1.vault.azure.net/keys/a/b/c",
        "https://kv1.vault.azure.net/keys/bad_name",
        "https://kv1.vault.azure.net/keys/state?x=1",
    ] {
        assert!(KeyVaultKeyId::parse(bad).is_err(), "{bad}");
    }
}
