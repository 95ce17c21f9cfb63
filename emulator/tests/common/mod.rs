//! Helpers of the local cloud's tests: ad-hoc resource types and an HTTP client.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh_emulator::model::{ArmErrorBody, ArmId, StoredResource};
use mesh_emulator::types::{CloudView, ResourceBehavior};
use mesh_emulator::{LocalCloud, LocalCloudOptions};
use serde_json::{json, Value as Json};

pub const SUB: &str = LocalCloud::SUBSCRIPTION_ID;
pub const API: &str = "api-version=2024-03-01";

/// `Test.Widgets/widgets`: 100 s to provision; a `color` property is required.
pub struct Widget;

impl ResourceBehavior for Widget {
    fn arm_type(&self) -> &'static str {
        "Test.Widgets/widgets"
    }
    fn provisioning_seconds(&self) -> f64 {
        100.0
    }
    fn accept_put(
        &self,
        _cloud: &dyn CloudView,
        _id: &ArmId,
        _existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        if body
            .pointer("/properties/color")
            .and_then(Json::as_str)
            .is_none()
        {
            return Err(ArmErrorBody::invalid("properties.color is required"));
        }
        Ok(json!({
            "location": body.get("location").cloned().unwrap_or(json!("local")),
            "tags": body.get("tags").cloned().unwrap_or(json!({})),
            "properties": body.get("properties").cloned().unwrap_or(json!({})),
        }))
    }
    fn action(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        _existing: &StoredResource,
        action: &str,
        _body: Option<&Json>,
    ) -> Option<Result<Json, ArmErrorBody>> {
        (action == "listParts").then(|| Ok(json!({"count": cloud.children(id).len()})))
    }
}

/// `Test.Widgets/widgets/parts`: refuses deletion while `properties.locked` is true.
pub struct Part;

impl ResourceBehavior for Part {
    fn arm_type(&self) -> &'static str {
        "Test.Widgets/widgets/parts"
    }
    fn provisioning_seconds(&self) -> f64 {
        10.0
    }
    fn accept_put(
        &self,
        _cloud: &dyn CloudView,
        _id: &ArmId,
        _existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        Ok(json!({"properties": body.get("properties").cloned().unwrap_or(json!({}))}))
    }
    fn check_delete(
        &self,
        _cloud: &dyn CloudView,
        id: &ArmId,
        existing: &StoredResource,
    ) -> Result<(), ArmErrorBody> {
        if existing.body.pointer("/properties/locked") == Some(&json!(true)) {
            return Err(ArmErrorBody::conflict(
                "PartLocked",
                format!("part {} is locked", id.name()),
            ));
        }
        Ok(())
    }
}

/// `Microsoft.KeyVault/vaults` as the vault type file makes it: a vaultUri on the local cloud.
pub struct Vault;

impl ResourceBehavior for Vault {
    fn arm_type(&self) -> &'static str {
        "Microsoft.KeyVault/vaults"
    }
    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        _existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        Ok(json!({
            "location": body.get("location").cloned().unwrap_or(json!("local")),
            "properties": {"vaultUri": format!("{}/keyvault/{}/", cloud.base_url(), id.name())},
        }))
    }
}

pub fn test_types() -> Vec<Arc<dyn ResourceBehavior>> {
    vec![Arc::new(Widget), Arc::new(Part), Arc::new(Vault)]
}

/// A cloud with the test types, in memory, operations taking `time_factor` × their seconds.
pub async fn cloud(time_factor: f64) -> LocalCloud {
    cloud_with(LocalCloudOptions {
        time_factor,
        ..LocalCloudOptions::default()
    })
    .await
}

pub async fn cloud_with(options: LocalCloudOptions) -> LocalCloud {
    LocalCloud::start_with_types(options, 0, test_types())
        .await
        .expect("the local cloud starts")
}

pub fn rg_id(rg: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}")
}

pub fn widget_id(rg: &str, name: &str) -> String {
    format!("{}/providers/Test.Widgets/widgets/{name}", rg_id(rg))
}

/// A response: status, headers, JSON body (null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Json,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn code(&self) -> &str {
        self.body
            .pointer("/error/code")
            .and_then(Json::as_str)
            .unwrap_or("")
    }
    pub fn state(&self) -> &str {
        self.body
            .pointer("/properties/provisioningState")
            .and_then(Json::as_str)
            .unwrap_or("")
    }
}

/// An authenticated ARM client of one cloud.
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

impl Client {
    pub fn new(cloud: &LocalCloud) -> Client {
        Client {
            base: cloud.url(),
            http: reqwest::Client::new(),
            token: Some("test".into()),
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Json>) -> Resp {
        self.try_send(method, path, body).await.expect("a response")
    }

    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<Json>,
    ) -> Result<Resp, reqwest::Error> {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let body = if text.trim().is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Json::String(text))
        };
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    /// `{id}?api-version=...`.
    pub async fn arm(&self, method: &str, id: &str, body: Option<Json>) -> Resp {
        self.send(method, &format!("{id}?{API}"), body).await
    }

    /// Poll an Azure-AsyncOperation URL to a terminal status (10 s at most).
    pub async fn wait_operation(&self, url: &str) -> Json {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.send("GET", url, None).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            let status = r.body["status"].as_str().unwrap_or("").to_string();
            if status != "InProgress" {
                return r.body;
            }
            assert!(Instant::now() < deadline, "operation still in progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// PUT and wait for the operation to succeed.
    pub async fn create(&self, id: &str, body: Json) -> Resp {
        let r = self.arm("PUT", id, Some(body)).await;
        assert!(r.status == 201 || r.status == 200, "{id}: {:?}", r.body);
        let op = r
            .header("azure-asyncoperation")
            .expect("async header")
            .to_string();
        let status = self.wait_operation(&op).await;
        assert_eq!(status["status"], "Succeeded", "{id}: {status}");
        self.arm("GET", id, None).await
    }
}
