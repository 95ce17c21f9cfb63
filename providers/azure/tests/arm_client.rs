//! The ARM client against a scripted mock server: long-running operations, retries,
//! cancellation, error surfacing and the Key Vault bearer challenge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mesh_provider_azure::arm::{
    ArmClient, ArmConfig, ArmError, Method, RetryPolicy, StaticToken, TokenSource,
};
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

#[path = "arm_client/mock.rs"]
mod mock;

use mock::{answer, Mock};

const TOKEN: &str = "token-that-must-never-be-shown";
const VNET: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet";
const API: &str = "2024-05-01";

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        poll_interval: Duration::from_millis(10),
        max_total_wait: Duration::from_secs(30 * 60),
        ..RetryPolicy::default()
    }
}

fn client_with(base: &str, credential: Arc<dyn TokenSource>) -> ArmClient {
    ArmClient::new(ArmConfig {
        endpoint: base.to_string(),
        subscription_id: "sub".to_string(),
        scope: "https://management.azure.com/.default".to_string(),
        credential,
    })
    .unwrap()
    .with_policy(fast_policy())
}

fn client(mock: &Mock) -> ArmClient {
    client_with(&mock.base, Arc::new(StaticToken(TOKEN.to_string())))
}

fn vnet(state: &str) -> Json {
    json!({"id": VNET, "name": "vnet", "properties": {"provisioningState": state,
        "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}})
}

fn assert_no_secrets(e: &ArmError) {
    let text = format!("{e} {e:?}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(!text.contains("p@ssw0rd"), "{text}");
}

const OP: &str =
    "/subscriptions/sub/providers/Microsoft.Network/locations/westeurope/operations/op1";

#[tokio::test]
async fn put_follows_the_async_operation_to_success() {
    let mock = Mock::start(|r, n, base| match (r.method.as_str(), r.path.as_str()) {
        ("PUT", VNET) => answer(201, vnet("Updating"))
            .header(
                "Azure-AsyncOperation",
                format!("{base}{OP}?api-version={API}"),
            )
            .header("Retry-After", "0"),
        ("GET", OP) if n < 2 => {
            answer(200, json!({"status": "InProgress"})).header("Retry-After", "0")
        }
        ("GET", OP) => answer(200, json!({"status": "Succeeded"})),
        ("GET", VNET) => answer(200, vnet("Succeeded")),
        _ => answer(404, json!({"error": {"code": "NotFound", "message": "no"}})),
    })
    .await;
    let body = json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}});
    let result = client(&mock)
        .put(VNET, API, &body, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(result["properties"]["provisioningState"], "Succeeded");
    assert_eq!(mock.count("PUT", VNET), 1);
    assert_eq!(mock.count("GET", OP), 3, "polled until Succeeded");
    assert_eq!(
        mock.count("GET", VNET),
        1,
        "the final resource is read once"
    );
    let requests = mock.requests();
    let put = &requests[0];
    assert_eq!(put.query, format!("api-version={API}"));
    assert_eq!(serde_json::from_str::<Json>(&put.body).unwrap(), body);
    assert!(requests
        .iter()
        .all(|r| r.auth.as_deref() == Some(&*format!("Bearer {TOKEN}"))));
    // The final GET comes after the operation succeeded.
    assert_eq!(requests.last().unwrap().path, VNET);
}

#[tokio::test]
async fn a_failed_operation_surfaces_arms_code_message_and_the_resource() {
    let mock = Mock::start(|r, _, base| match (r.method.as_str(), r.path.as_str()) {
        ("PUT", VNET) => answer(201, vnet("Creating"))
            .header(
                "Azure-AsyncOperation",
                format!("{base}{OP}?api-version={API}"),
            )
            .header("Retry-After", "0"),
        ("GET", OP) => answer(
            200,
            json!({"status": "Failed", "error": {
            "code": "InUseSubnetCannotBeDeleted",
            "message": "Subnet System is in use and cannot be deleted."}}),
        ),
        _ => answer(200, vnet("Failed")),
    })
    .await;
    let body = json!({"properties": {"adminPassword": "p@ssw0rd"}});
    let e = client(&mock)
        .put(VNET, API, &body, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code, "InUseSubnetCannotBeDeleted");
    assert!(e.message.contains("Subnet System is in use"), "{e}");
    assert!(e.message.contains(VNET), "names the resource: {e}");
    assert!(!e.is_retryable());
    assert_no_secrets(&e);
    assert_eq!(
        mock.count("GET", VNET),
        0,
        "no read after a failed operation"
    );
}

#[tokio::test]
async fn put_without_polling_headers_waits_for_the_provisioning_state() {
    let mock = Mock::start(|r, n, _| match (r.method.as_str(), r.path.as_str()) {
        ("PUT", VNET) => answer(201, vnet("Creating")).header("Retry-After", "0"),
        ("GET", VNET) if n < 2 => answer(200, vnet("Creating")).header("Retry-After", "0"),
        ("GET", VNET) => answer(200, vnet("Succeeded")),
        _ => answer(404, Json::Null),
    })
    .await;
    let result = client(&mock)
        .put(VNET, API, &json!({}), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(result["properties"]["provisioningState"], "Succeeded");
    assert_eq!(mock.count("GET", VNET), 3);

    // A resource that ends Failed is an error naming it.
    let failing = Mock::start(|r, _, _| match r.method.as_str() {
        "PUT" => answer(200, vnet("Updating")),
        _ => answer(200, vnet("Failed")),
    })
    .await;
    let e = client(&failing)
        .patch(VNET, API, &json!({"tags": {}}), &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code, "ProvisioningFailed");
    assert!(
        e.message.contains("Failed") && e.message.contains(VNET),
        "{e}"
    );
}

#[tokio::test]
async fn delete_follows_the_location_header_and_tolerates_missing_resources() {
    const LOC: &str =
        "/subscriptions/sub/providers/Microsoft.Network/locations/westeurope/operationResults/op2";
    let mock = Mock::start(|r, n, base| match (r.method.as_str(), r.path.as_str()) {
        ("DELETE", VNET) => answer(202, Json::Null)
            .header("Location", format!("{base}{LOC}?api-version={API}"))
            .header("Retry-After", "0"),
        ("GET", LOC) if n < 2 => answer(202, Json::Null).header("Retry-After", "0"),
        ("GET", LOC) => answer(204, Json::Null),
        _ => answer(
            404,
            json!({"error": {"code": "ResourceNotFound", "message": "gone"}}),
        ),
    })
    .await;
    let client = client(&mock);
    let cancel = CancellationToken::new();
    client.delete(VNET, API, &cancel).await.unwrap();
    assert_eq!(mock.count("GET", LOC), 3, "polled until 204");
    client
        .delete(&format!("{VNET}/subnets/absent"), API, &cancel)
        .await
        .unwrap();
    assert!(client.get(VNET, API, &cancel).await.unwrap().is_none());
}

#[tokio::test]
async fn a_failed_delete_operation_is_an_error() {
    const LOC: &str =
        "/subscriptions/sub/providers/Microsoft.Network/locations/westeurope/operationResults/op3";
    let mock = Mock::start(|r, _, base| match r.method.as_str() {
        "DELETE" => answer(202, Json::Null).header("Location", format!("{base}{LOC}")),
        _ => answer(
            409,
            json!({"error": {"code": "InUseSubnetCannotBeDeleted", "message": "in use"}}),
        ),
    })
    .await;
    let e = client(&mock)
        .delete(VNET, API, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (409, "InUseSubnetCannotBeDeleted")
    );
    assert!(e.message.contains(VNET));

    // A 500 with ARM's error body from the Location URL is the operation's failure (not
    // retried); a 503 there is transient (retried).
    let failed = Mock::start(|r, n, base| match (r.method.as_str(), n) {
        ("DELETE", _) => answer(202, Json::Null)
            .header("Location", format!("{base}{LOC}"))
            .header("Retry-After", "0"),
        (_, 0) => answer(503, Json::Null),
        _ => answer(
            500,
            json!({"error": {"code": "InternalServerError", "message": "The operation failed."}}),
        ),
    })
    .await;
    let e = client(&failed)
        .delete(VNET, API, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (500, "InternalServerError"));
    assert_eq!(failed.count("GET", LOC), 2);
}

#[tokio::test]
async fn throttling_is_retried_after_the_servers_delay() {
    let mock = Mock::start(|_, n, _| match n {
        0 => answer(
            429,
            json!({"error": {"code": "TooManyRequests", "message": "slow down"}}),
        )
        .header("Retry-After", "1"),
        _ => answer(200, vnet("Succeeded")),
    })
    .await;
    let started = Instant::now();
    let got = client(&mock)
        .get(VNET, API, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(got.unwrap()["name"], "vnet");
    assert_eq!(mock.count("GET", VNET), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 honoured"
    );

    // Throttled at every attempt: ARM's error after max_attempts.
    let always = Mock::start(|_, _, _| {
        answer(
            429,
            json!({"error": {"code": "TooManyRequests", "message": "slow down"}}),
        )
        .header("Retry-After", "0")
    })
    .await;
    let e = client(&always)
        .get(VNET, API, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (429, "TooManyRequests"));
    assert!(e.is_retryable());
    assert!(e.message.contains("5 attempts"), "{e}");
    assert_eq!(always.count("GET", VNET), 5);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let mock = Mock::start(|r, n, _| match (r.method.as_str(), n) {
        ("PUT", 0 | 1) => answer(
            500,
            json!({"error": {"code": "InternalServerError", "message": "oops"}}),
        ),
        _ => answer(200, vnet("Succeeded")),
    })
    .await;
    let result = client(&mock)
        .put(VNET, API, &json!({}), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(result["name"], "vnet");
    assert_eq!(mock.count("PUT", VNET), 3);
    assert_eq!(mock.count("GET", VNET), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let mock = Mock::start(|_, _, _| {
        answer(
            400,
            json!({"error": {"code": "InvalidRequestContent",
            "message": "The request content was invalid and could not be deserialized."}}),
        )
    })
    .await;
    let body = json!({"properties": {"secret": "p@ssw0rd"}});
    let e = client(&mock)
        .put(VNET, API, &body, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "InvalidRequestContent"));
    assert!(e.message.contains("could not be deserialized"));
    assert!(e.message.contains(VNET));
    assert_no_secrets(&e);
    assert_eq!(mock.count("PUT", VNET), 1);
}

#[tokio::test]
async fn posts_are_resent_only_when_the_server_did_not_act() {
    const ACTION: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/listClusterAdminCredential";
    const STOP: &str =
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/stop";
    let mock = Mock::start(|_, _, _| {
        answer(
            500,
            json!({"error": {"code": "InternalServerError", "message": "x"}}),
        )
    })
    .await;
    let e = client(&mock)
        .post(STOP, API, None, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.status, 500);
    assert_eq!(
        mock.count("POST", STOP),
        1,
        "a POST that acts is not re-sent after a 500"
    );

    // A POST that only reads (a list* action) is re-sent like a GET.
    let flaky = Mock::start(|_, n, _| match n {
        0 => answer(
            500,
            json!({"error": {"code": "InternalServerError", "message": "x"}}),
        ),
        _ => answer(
            200,
            json!({"kubeconfigs": [{"name": "clusterAdmin", "value": "YQ=="}]}),
        ),
    })
    .await;
    let result = client(&flaky)
        .post(ACTION, API, None, &CancellationToken::new())
        .await
        .expect("re-sent after the 500");
    assert_eq!(result["kubeconfigs"][0]["name"], "clusterAdmin");
    assert_eq!(flaky.count("POST", ACTION), 2);

    let busy = Mock::start(|_, n, _| match n {
        0 => answer(
            503,
            json!({"error": {"code": "ServiceUnavailable", "message": "busy"}}),
        )
        .header("Retry-After", "0"),
        _ => answer(
            200,
            json!({"kubeconfigs": [{"name": "clusterAdmin", "value": "YQ=="}]}),
        ),
    })
    .await;
    let result = client(&busy)
        .post(ACTION, API, None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(result["kubeconfigs"][0]["name"], "clusterAdmin");
    assert_eq!(busy.count("POST", ACTION), 2);
}

#[tokio::test]
async fn long_running_posts_return_the_final_result() {
    const ACTION: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr/listCredentials";
    const RESULT: &str = "/subscriptions/sub/providers/Microsoft.ContainerRegistry/locations/westeurope/operationResults/op4";
    let mock = Mock::start(|r, n, base| match (r.path.as_str(), n) {
        (ACTION, _) => answer(202, Json::Null)
            .header("Location", format!("{base}{RESULT}"))
            .header("Retry-After", "0"),
        (RESULT, 0) => answer(202, Json::Null).header("Retry-After", "0"),
        _ => answer(200, json!({"username": "acr"})),
    })
    .await;
    let result = client(&mock)
        .post(ACTION, "2025-04-01", None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(result, json!({"username": "acr"}));
    assert_eq!(mock.count("GET", RESULT), 2);
}

#[tokio::test]
async fn cancellation_interrupts_a_long_retry_after() {
    let mock = Mock::start(|_, _, _| {
        answer(
            429,
            json!({"error": {"code": "TooManyRequests", "message": "later"}}),
        )
        .header("Retry-After", "300")
    })
    .await;
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.cancel();
    });
    let started = Instant::now();
    let e = client(&mock).get(VNET, API, &cancel).await.unwrap_err();
    assert!(e.is_cancelled(), "{e:?}");
    assert_eq!(e, ArmError::cancelled());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(mock.count("GET", VNET), 1);
}

#[tokio::test]
async fn cancellation_interrupts_operation_polling() {
    let mock = Mock::start(|r, _, base| match r.method.as_str() {
        "PUT" => answer(201, vnet("Creating"))
            .header("Azure-AsyncOperation", format!("{base}{OP}"))
            .header("Retry-After", "0"),
        _ => answer(200, json!({"status": "InProgress"})).header("Retry-After", "50"),
    })
    .await;
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.cancel();
    });
    let started = Instant::now();
    let e = client(&mock)
        .put(VNET, API, &json!({}), &cancel)
        .await
        .unwrap_err();
    assert!(e.is_cancelled(), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let e = client_with(&base, Arc::new(StaticToken(TOKEN.into())))
        .get(VNET, API, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (0, "ConnectionFailed"));
    assert!(e.is_retryable());
    assert!(e.message.contains("5 attempts"), "{e}");
    assert_no_secrets(&e);
}

/// Tokens named after their scope, counting requests per scope.
#[derive(Default)]
struct ScopedTokens(Mutex<HashMap<String, usize>>);

#[async_trait]
impl TokenSource for ScopedTokens {
    async fn token(&self, scope: &str) -> Result<String, ArmError> {
        *self.0.lock().unwrap().entry(scope.to_string()).or_default() += 1;
        Ok(format!("token-for:{scope}"))
    }
}

#[tokio::test]
async fn the_data_plane_follows_the_bearer_challenge() {
    const SECRET: &str = "/keyvault/kv1/secrets/istio-ca";
    let mock = Mock::start(|r, _, _| {
        if r.auth.as_deref() != Some("Bearer token-for:https://vault.azure.net/.default") {
            return answer(401, json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}))
                .header("WWW-Authenticate", r#"Bearer authorization="https://login.microsoftonline.com/tenant", resource="https://vault.azure.net""#);
        }
        match (r.method.as_str(), r.path.as_str()) {
            ("PUT", SECRET) => answer(200, json!({"id": "x", "attributes": {"enabled": true}})),
            ("GET", SECRET) => answer(200, json!({"value": "pem"})),
            _ => answer(404, json!({"error": {"code": "SecretNotFound", "message": "no such secret"}})),
        }
    })
    .await;
    let tokens = Arc::new(ScopedTokens::default());
    let client = client_with(&mock.base, tokens.clone());
    let cancel = CancellationToken::new();
    let url = format!("{}{SECRET}?api-version=7.5", mock.base);
    let scope = "https://management.azure.com/.default";
    let put = client
        .data_plane(
            Method::Put,
            &url,
            Some(&json!({"value": "pem"})),
            scope,
            &cancel,
        )
        .await
        .unwrap();
    assert_eq!(put.unwrap()["attributes"]["enabled"], true);
    assert_eq!(mock.count("PUT", SECRET), 2, "one challenge, one retry");
    let got = client
        .data_plane(
            Method::Get,
            &url,
            None,
            "https://vault.azure.net/.default",
            &cancel,
        )
        .await
        .unwrap();
    assert_eq!(got.unwrap()["value"], "pem");
    assert_eq!(
        mock.count("GET", SECRET),
        1,
        "the right scope needs no challenge"
    );
    let missing = format!("{}/keyvault/kv1/secrets/absent?api-version=7.5", mock.base);
    let none = client
        .data_plane(
            Method::Get,
            &missing,
            None,
            "https://vault.azure.net/.default",
            &cancel,
        )
        .await
        .unwrap();
    assert!(none.is_none());
    assert_eq!(
        tokens.0.lock().unwrap()["https://vault.azure.net/.default"],
        3
    );
}

#[tokio::test]
async fn the_bearer_challenge_is_followed_once() {
    let mock = Mock::start(|_, _, _| {
        answer(401, json!({"error": {"code": "Unauthorized", "message": "denied"}})).header(
            "WWW-Authenticate",
            r#"Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net""#,
        )
    })
    .await;
    let url = format!("{}/keyvault/kv1/secrets/s?api-version=7.5", mock.base);
    let e = client(&mock)
        .data_plane(
            Method::Get,
            &url,
            None,
            "https://vault.azure.net/.default",
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (401, "Unauthorized"));
    assert!(e.message.contains("/keyvault/kv1/secrets/s"), "{e}");
    assert_no_secrets(&e);
    assert_eq!(mock.count("GET", "/keyvault/kv1/secrets/s"), 2);
}

mod local_cloud {
    use super::*;
    use mesh_emulator::{Faults, LocalCloud, LocalCloudOptions};

    const RG_API: &str = "2024-03-01";

    async fn cloud(faults: Faults) -> (LocalCloud, ArmClient) {
        let cloud = LocalCloud::start(LocalCloudOptions {
            faults,
            ..LocalCloudOptions::default()
        })
        .await
        .unwrap();
        let client = client_with(&cloud.url(), Arc::new(StaticToken("local".into()))).with_policy(
            RetryPolicy {
                max_attempts: 8,
                ..fast_policy()
            },
        );
        (cloud, client)
    }

    fn rg() -> String {
        format!(
            "/subscriptions/{}/resourceGroups/rg-arm-client",
            LocalCloud::SUBSCRIPTION_ID
        )
    }

    #[tokio::test]
    async fn a_resource_group_lives_and_dies_under_injected_faults() {
        let (cloud, client) = cloud(Faults {
            seed: 7,
            throttle: 0.15,
            server_error: 0.1,
            unavailable: 0.1,
            retry_after_ms: 10,
            ..Faults::default()
        })
        .await;
        let cancel = CancellationToken::new();
        let body = json!({"location": "westeurope", "tags": {"env": "test"}});
        let created = client.put(&rg(), RG_API, &body, &cancel).await.unwrap();
        assert_eq!(created["properties"]["provisioningState"], "Succeeded");
        assert_eq!(created["tags"]["env"], "test");
        let read = client.get(&rg(), RG_API, &cancel).await.unwrap().unwrap();
        assert_eq!(read["location"], "westeurope");
        client.delete(&rg(), RG_API, &cancel).await.unwrap();
        assert!(client.get(&rg(), RG_API, &cancel).await.unwrap().is_none());
        assert!(
            cloud.resource_ids().is_empty(),
            "{:?}",
            cloud.resource_ids()
        );
        cloud.shutdown().await;
    }

    #[tokio::test]
    async fn a_failed_operation_in_the_local_cloud_is_reported() {
        let (cloud, client) = cloud(Faults {
            failed_operation: 1.0,
            ..Faults::default()
        })
        .await;
        let body = json!({"location": "westeurope"});
        let e = client
            .put(&rg(), RG_API, &body, &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(!e.is_cancelled());
        assert!(e.message.contains(&rg()), "{e}");
        assert!(!e.code.is_empty() && e.code != "ConnectionFailed", "{e:?}");
        cloud.shutdown().await;
    }
}
