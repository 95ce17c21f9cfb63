//! A scripted HTTP server for the ARM client tests.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Method as HttpMethod, Uri};
use axum::response::Response;
use serde_json::Value as Json;

/// A request the mock saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub auth: Option<String>,
    pub body: String,
}

/// A scripted answer.
pub struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Json,
}

pub fn answer(status: u16, body: Json) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body,
    }
}

impl Answer {
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }
}

type Script = dyn Fn(&Seen, usize, &str) -> Answer + Send + Sync;

/// A mock server on 127.0.0.1:0 answering with `script(request, n, base_url)`, where `n`
/// counts earlier requests with the same method and path.
pub struct Mock {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Mock {
    pub async fn start(
        script: impl Fn(&Seen, usize, &str) -> Answer + Send + Sync + 'static,
    ) -> Mock {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let (seen2, base2) = (seen.clone(), base.clone());
        let app = axum::Router::new().fallback(
            move |method: HttpMethod, uri: Uri, headers: HeaderMap, body: String| {
                let (seen, script, base) = (seen2.clone(), script.clone(), base2.clone());
                async move {
                    let request = Seen {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        query: uri.query().unwrap_or_default().to_string(),
                        auth: headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                        body,
                    };
                    let n = {
                        let mut seen = seen.lock().unwrap();
                        let n = seen
                            .iter()
                            .filter(|s| s.method == request.method && s.path == request.path)
                            .count();
                        seen.push(request.clone());
                        n
                    };
                    let a = script(&request, n, &base);
                    let mut response = Response::builder().status(a.status);
                    for (k, v) in a.headers {
                        response = response.header(k, v);
                    }
                    let body = if a.body.is_null() {
                        Body::empty()
                    } else {
                        response = response.header("content-type", "application/json");
                        Body::from(a.body.to_string())
                    };
                    response.body(body).unwrap()
                }
            },
        );
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Mock { base, seen }
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}
