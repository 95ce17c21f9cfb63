//! Faults injected into a cluster's Kubernetes API, as `MESH_LOCAL_FAULTS` / `/_admin/faults`
//! configure them for ARM: 429 and 503 with Retry-After, 500, dropped connections, slow
//! answers and, for writes, 409 Conflict. Answered as Kubernetes `Status` objects, the way an
//! API server under load or mid-upgrade answers, so clients meet what they would meet there.
//! Watches are left alone: a watch that breaks is re-established by design, not retried.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::status::KubeError;
use crate::limits::Fault;
use crate::server::{lock, Broken, Shared};

/// The injected answer to a request, if the fault sequence draws one (after any injected
/// delay); `None`: serve the request.
pub(crate) async fn injected(shared: &Shared, method: &Method, path: &str) -> Option<Response> {
    let (draw, retry_after_ms) = {
        let mut faults = lock(&shared.faults);
        let draw = faults.draw_kube(method.as_str(), path);
        (draw, faults.faults().retry_after_ms)
    };
    if let Some(delay) = draw.delay {
        tokio::time::sleep(delay).await;
    }
    Some(answer(draw.fault?, retry_after_ms))
}

fn answer(fault: Fault, retry_after_ms: u64) -> Response {
    let error = match fault {
        Fault::Drop => {
            return Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(Body::new(Broken))
                .unwrap_or_default();
        }
        Fault::Throttle => KubeError::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later \
             (injected fault)",
        ),
        Fault::ServerError => KubeError::new(
            500,
            "InternalError",
            "an error on the server has prevented the request from succeeding (injected fault)",
        ),
        Fault::Unavailable => KubeError::new(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request (injected fault)",
        ),
        Fault::Conflict => KubeError::new(
            409,
            "Conflict",
            "Operation cannot be fulfilled: the object has been modified; please apply your \
             changes to the latest version and try again (injected fault)",
        ),
    };
    let status = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(error.to_status())).into_response();
    if matches!(fault, Fault::Throttle | Fault::Unavailable) {
        let seconds = retry_after_ms.div_ceil(1000).max(1);
        if let Ok(v) = HeaderValue::try_from(seconds.to_string()) {
            response.headers_mut().insert("retry-after", v);
        }
    }
    response
}
