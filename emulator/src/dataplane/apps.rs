//! What the applications answer. No container runs in the local cloud, so the pod that a call
//! reaches answers for its application: helloworld as the Istio sample does (naming its version
//! and instance, plus the cluster), httpbin's `/status/CODE`, and any other application with a
//! line naming the pod, workload, version, namespace and cluster that served the call. Hosts
//! outside the local cloud answer with a line saying the call left the mesh.

use super::call::Server;
use super::routing::RequestView;

/// The status and body `server` answers `request` with.
pub(crate) fn answer(server: &Server, request: &RequestView) -> (u16, String) {
    let path = request.path.split('?').next().unwrap_or("/");
    match server {
        Server::External { host } => (
            200,
            format!(
                "{host} answered {} {path} (outside the mesh: the local cloud stands in for it)\n",
                request.method
            ),
        ),
        Server::Pod {
            cluster,
            namespace,
            pod,
            workload,
            app,
            version,
        } => match app.as_deref() {
            Some("helloworld") if path.starts_with("/hello") => (
                200,
                format!("Hello version: {version}, instance: {pod} (cluster {cluster})\n"),
            ),
            Some("helloworld") => (404, not_found()),
            Some("httpbin") if path.starts_with("/status/") => {
                let code = path["/status/".len()..].parse().unwrap_or(400);
                (code, String::new())
            }
            _ => (
                200,
                format!(
                    "{} {path} served by {pod}: workload {workload}, version {version}, namespace {namespace}, cluster {cluster}\n",
                    request.method
                ),
            ),
        },
    }
}

fn not_found() -> String {
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
        .to_string()
}

/// The reason phrase of an HTTP status.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        418 => "I'm a teapot",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(app: &str) -> Server {
        Server::Pod {
            cluster: "aks-two".into(),
            namespace: "sample".into(),
            pod: "helloworld-v2-abc-x".into(),
            workload: "helloworld-v2".into(),
            app: Some(app.into()),
            version: "v2".into(),
        }
    }

    fn get(path: &str) -> RequestView {
        RequestView {
            method: "GET".into(),
            path: path.into(),
            port: 5000,
            ..RequestView::default()
        }
    }

    #[test]
    fn helloworld_names_version_instance_and_cluster() {
        assert_eq!(
            answer(&server("helloworld"), &get("/hello")),
            (
                200,
                "Hello version: v2, instance: helloworld-v2-abc-x (cluster aks-two)\n".into()
            )
        );
        assert_eq!(answer(&server("helloworld"), &get("/")).0, 404);
        assert_eq!(answer(&server("httpbin"), &get("/status/418")).0, 418);
        let (status, body) = answer(&server("reviews"), &get("/reviews/0"));
        assert_eq!(status, 200);
        assert_eq!(body, "GET /reviews/0 served by helloworld-v2-abc-x: workload helloworld-v2, version v2, namespace sample, cluster aks-two\n");
    }
}
