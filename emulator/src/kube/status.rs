//! Kubernetes `Status` errors: the reasons and messages clients (kubectl, kube-rs) recognise.

use serde_json::{json, Value as Json};

use super::kinds::Kind;

/// A failed request, answered with a `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KubeError {
    /// HTTP status.
    pub code: u16,
    /// `reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `message`.
    pub message: String,
    /// `details` (name, group, kind, causes).
    pub details: Option<Json>,
}

fn details(kind: &Kind, name: &str) -> Json {
    json!({"name": name, "group": kind.group, "kind": kind.plural})
}

impl KubeError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> KubeError {
        KubeError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 404: the object does not exist.
    pub fn not_found(kind: &Kind, name: &str) -> KubeError {
        KubeError {
            details: Some(details(kind, name)),
            ..KubeError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", kind.qualified()),
            )
        }
    }

    /// 404: the namespace of a request does not exist.
    pub fn namespace_not_found(namespace: &str) -> KubeError {
        KubeError {
            details: Some(json!({"name": namespace, "kind": "namespaces"})),
            ..KubeError::new(
                404,
                "NotFound",
                format!("namespaces \"{namespace}\" not found"),
            )
        }
    }

    /// 404: nothing is served at this path (an unknown kind, a custom resource without its
    /// CRD).
    pub fn no_route(path: &str) -> KubeError {
        KubeError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 409: an object of that name exists.
    pub fn already_exists(kind: &Kind, name: &str) -> KubeError {
        KubeError {
            details: Some(details(kind, name)),
            ..KubeError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", kind.qualified()),
            )
        }
    }

    /// 409: the object changed since the client read it.
    pub fn conflict(kind: &Kind, name: &str) -> KubeError {
        KubeError {
            details: Some(details(kind, name)),
            ..KubeError::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", kind.qualified()),
            )
        }
    }

    /// 409: server-side apply would take fields another manager owns.
    pub fn apply_conflict(kind: &Kind, name: &str, conflicts: &[(String, String)]) -> KubeError {
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(manager, field)| format!("conflict with \"{manager}\": {field}"))
            .collect();
        let causes: Vec<Json> = conflicts
            .iter()
            .map(|(manager, field)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{manager}\""), "field": field}))
            .collect();
        let mut d = details(kind, name);
        d["causes"] = Json::Array(causes);
        KubeError {
            details: Some(d),
            ..KubeError::new(
                409,
                "Conflict",
                format!(
                    "Apply failed with {} conflict{}: {}",
                    conflicts.len(),
                    if conflicts.len() == 1 { "" } else { "s" },
                    lines.join("\n")
                ),
            )
        }
    }

    /// 422: the object is not valid (`field`: what is wrong with it).
    pub fn invalid(kind: &Kind, name: &str, field: &str, problem: &str) -> KubeError {
        let mut d = details(kind, name);
        d["kind"] = json!(kind.kind);
        d["causes"] = json!([{"reason": "FieldValueInvalid", "message": problem, "field": field}]);
        KubeError {
            details: Some(d),
            ..KubeError::new(
                422,
                "Invalid",
                format!("{} \"{name}\" is invalid: {field}: {problem}", kind.kind),
            )
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> KubeError {
        KubeError::new(400, "BadRequest", message)
    }

    /// 401: no valid token.
    pub fn unauthorized() -> KubeError {
        KubeError::new(401, "Unauthorized", "Unauthorized")
    }

    /// 405: the verb is not supported here.
    pub fn method_not_allowed(method: &str) -> KubeError {
        KubeError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    /// 410: a watch asked for changes older than the server remembers.
    pub fn expired(revision: u64) -> KubeError {
        KubeError::new(
            410,
            "Expired",
            format!("too old resource version: {revision}"),
        )
    }

    /// 415: a body type the server does not take.
    pub fn unsupported_media_type(content_type: &str) -> KubeError {
        KubeError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type})"),
        )
    }

    /// 415: a protobuf body.
    pub fn protobuf() -> KubeError {
        KubeError::new(
            415,
            "UnsupportedMediaType",
            "the local cloud's Kubernetes API takes JSON and YAML bodies, not protobuf (which kubectl create, expose and run send): use kubectl apply",
        )
    }

    /// 500: the server could not do it.
    pub fn internal(message: impl Into<String>) -> KubeError {
        KubeError::new(500, "InternalError", message)
    }

    /// 503: the cluster does not serve yet.
    pub fn unavailable(message: impl Into<String>) -> KubeError {
        KubeError::new(503, "ServiceUnavailable", message)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Json {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = d.clone();
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::super::kinds::builtin;
    use super::*;

    #[test]
    fn statuses_read_like_the_api_servers() {
        let deploy = builtin("apps", "deployments").unwrap();
        let s = KubeError::not_found(&deploy, "web").to_status();
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
        assert_eq!(s["details"]["kind"], "deployments");
        assert_eq!(s["code"], 404);
        let cm = builtin("", "configmaps").unwrap();
        let s = KubeError::invalid(&cm, "x", "metadata.name", "Required value").to_status();
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(
            s["message"],
            "ConfigMap \"x\" is invalid: metadata.name: Required value"
        );
    }
}
