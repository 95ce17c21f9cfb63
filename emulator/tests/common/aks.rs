//! Helpers of the Kubernetes API tests: a local cloud with an AKS cluster made through ARM,
//! a raw HTTP client of the cluster's API, and a kube-rs client from its kubeconfig.
#![allow(dead_code)]

use std::time::Duration;

use mesh_emulator::{LocalCloud, LocalCloudOptions, TlsConfig};
use serde_json::{json, Value as Json};

use crate::common::{rg_id, Client};

pub const RG: &str = "rg";
pub const CLUSTER: &str = "aks-one";

pub fn vnet_id() -> String {
    format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet",
        rg_id(RG)
    )
}

pub fn subnet_id(name: &str) -> String {
    format!("{}/subnets/{name}", vnet_id())
}

pub fn cluster_id(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.ContainerService/managedClusters/{name}",
        rg_id(RG)
    )
}

/// Options of a cloud whose operations finish at once (`time_factor` scales the Kubernetes
/// controllers' delays too).
pub fn options(
    time_factor: f64,
    data_dir: Option<&std::path::Path>,
    tls: bool,
) -> LocalCloudOptions {
    LocalCloudOptions {
        data_dir: data_dir.map(|d| d.to_path_buf()),
        time_factor,
        tls: match (tls, data_dir) {
            (true, Some(d)) => Some(TlsConfig::in_data_dir(d)),
            _ => None,
        },
        ..LocalCloudOptions::default()
    }
}

pub async fn start(options: LocalCloudOptions) -> LocalCloud {
    LocalCloud::start(options)
        .await
        .expect("the local cloud starts")
}

/// An ARM client that talks plain HTTP to the cloud.
pub fn arm(cloud: &LocalCloud) -> Client {
    Client {
        base: cloud.http_url(),
        http: reqwest::Client::new(),
        token: Some("test".into()),
    }
}

/// PUT and wait for the operation, whatever the time factor.
pub async fn put(c: &Client, id: &str, body: Json) -> Json {
    let r = c.arm("PUT", id, Some(body)).await;
    assert!(r.status == 200 || r.status == 201, "{id}: {:?}", r.body);
    if let Some(op) = r.header("azure-asyncoperation") {
        let status = wait_long(c, op).await;
        assert_eq!(status["status"], "Succeeded", "{id}: {status}");
    }
    c.arm("GET", id, None).await.body
}

async fn wait_long(c: &Client, url: &str) -> Json {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = c.send("GET", url, None).await;
        if r.body["status"] != "InProgress" {
            return r.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "operation still in progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A resource group, a network with subnets `nodes` (10.10.0.0/24) and `ilb` (10.10.1.0/24),
/// and the cluster `name` on `nodes`; `extra` is merged into the cluster's properties.
pub async fn create_cluster(c: &Client, name: &str, extra: Json) -> Json {
    put(c, &rg_id(RG), json!({"location": "westeurope"})).await;
    if c.arm("GET", &vnet_id(), None).await.status != 200 {
        put(
            c,
            &vnet_id(),
            json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.10.0.0/16"]},
                "subnets": [{"name": "nodes", "properties": {"addressPrefix": "10.10.0.0/24"}},
                            {"name": "ilb", "properties": {"addressPrefix": "10.10.1.0/24"}}]}}),
        )
        .await;
    }
    let mut properties = json!({
        "dnsPrefix": name,
        "agentPoolProfiles": [{"name": "system", "count": 2, "vmSize": "Standard_D4s_v5", "mode": "System",
            "vnetSubnetID": subnet_id("nodes")}],
        "networkProfile": {"networkPlugin": "azure", "serviceCidr": "172.16.0.0/16", "dnsServiceIP": "172.16.0.10"},
    });
    json_patch_merge(&mut properties, &extra);
    put(
        c,
        &cluster_id(name),
        json!({"location": "westeurope", "properties": properties}),
    )
    .await
}

fn json_patch_merge(target: &mut Json, patch: &Json) {
    match (target, patch) {
        (Json::Object(t), Json::Object(p)) => {
            for (k, v) in p {
                json_patch_merge(t.entry(k.clone()).or_insert(Json::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// A response of the Kubernetes API.
#[derive(Debug)]
pub struct KResp {
    pub status: u16,
    pub body: Json,
    pub text: String,
}

impl KResp {
    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or("")
    }
}

/// A raw client of one cluster's Kubernetes API.
pub struct Kube {
    pub server: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

/// The server URL and token of a kubeconfig.
pub fn server_and_token(kubeconfig: &str) -> (String, String) {
    let doc: Json = serde_yaml_like(kubeconfig);
    (
        doc["clusters"][0]["cluster"]["server"]
            .as_str()
            .unwrap()
            .to_string(),
        doc["users"][0]["user"]["token"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// Parse the kubeconfig YAML the local cloud writes (via kube-rs's parser).
fn serde_yaml_like(kubeconfig: &str) -> Json {
    let config = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("a kubeconfig");
    serde_json::to_value(config).expect("JSON")
}

impl Kube {
    /// A client of the cluster `name` with its admin token (plain HTTP: a cloud without TLS).
    pub fn admin(cloud: &LocalCloud, name: &str) -> Kube {
        let config = cloud.kubeconfig(name).expect("the cluster's kubeconfig");
        let (server, token) = server_and_token(&config);
        Kube {
            server,
            token: Some(token),
            http: reqwest::Client::new(),
        }
    }

    /// A client of the cluster `name` over HTTPS, trusting only the cloud's CA.
    pub fn admin_https(cloud: &LocalCloud, name: &str) -> Kube {
        let config = cloud.kubeconfig(name).expect("the cluster's kubeconfig");
        let (server, token) = server_and_token(&config);
        assert!(server.starts_with("https://"), "{server}");
        let pem = std::fs::read(cloud.ca_file().expect("HTTPS on")).expect("the CA");
        let ca = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
        let http = reqwest::Client::builder()
            .tls_certs_only([ca])
            .build()
            .expect("a client");
        Kube {
            server,
            token: Some(token),
            http,
        }
    }

    pub fn with_token(&self, token: Option<&str>) -> Kube {
        Kube {
            server: self.server.clone(),
            token: token.map(str::to_string),
            http: self.http.clone(),
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<(&str, String)>) -> KResp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.server));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, body)) = body {
            req = req.header("content-type", content_type).body(body);
        }
        let resp = req.send().await.expect("a response");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Json::Null);
        KResp { status, body, text }
    }

    pub async fn get(&self, path: &str) -> KResp {
        self.send("GET", path, None).await
    }

    pub async fn delete(&self, path: &str) -> KResp {
        self.send("DELETE", path, None).await
    }

    pub async fn post(&self, path: &str, body: Json) -> KResp {
        self.send("POST", path, Some(("application/json", body.to_string())))
            .await
    }

    pub async fn put(&self, path: &str, body: Json) -> KResp {
        self.send("PUT", path, Some(("application/json", body.to_string())))
            .await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: &str) -> KResp {
        self.send("PATCH", path, Some((content_type, body.to_string())))
            .await
    }

    /// GET until `done` holds (15 s at most).
    pub async fn poll(&self, path: &str, done: impl Fn(&Json) -> bool) -> Json {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let r = self.get(path).await;
            if r.status == 200 && done(&r.body) {
                return r.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path}: still {}",
                r.text
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A kube-rs client from a kubeconfig.
pub async fn kube_client(kubeconfig: &str) -> kube::Client {
    let config = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("a kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .expect("a client configuration");
    kube::Client::try_from(config).expect("a client")
}

pub fn names(list: &Json) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}
