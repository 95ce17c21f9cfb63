//! What a request asks for: its route (discovery, OpenAPI, or a resource path) and the query
//! parameters the API honours.

/// Where a request goes, from the path after `/aks/{cluster}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    Resources {
        /// Group ("" for the core group).
        group: String,
        /// Version.
        version: String,
    },
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
    OpenApiV3Group {
        /// Group.
        group: String,
        /// Version.
        version: String,
    },
    /// A collection, an object or a subresource.
    Object(ObjectPath),
    /// Anything else.
    Unknown,
}

/// A resource path: `.../{resource}`, `.../{resource}/{name}` or
/// `.../{resource}/{name}/{subresource}`, under `/namespaces/{ns}` or not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ObjectPath {
    /// Group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Resource (plural).
    pub plural: String,
    /// Namespace in the path.
    pub namespace: Option<String>,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (`status`, `token`...).
    pub sub: Option<String>,
}

/// Parse the path after the cluster prefix (`rest` like `api/v1/namespaces/default/pods`).
pub(crate) fn route(rest: &str) -> Route {
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", group] => Route::Group(group.to_string()),
        ["api", version] => Route::Resources {
            group: String::new(),
            version: version.to_string(),
        },
        ["apis", group, version] => Route::Resources {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3,
        ["openapi", "v3", "api", version] => Route::OpenApiV3Group {
            group: String::new(),
            version: version.to_string(),
        },
        ["openapi", "v3", "apis", group, version] => Route::OpenApiV3Group {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["api", version, rest @ ..] => object_path("", version, rest),
        ["apis", group, version, rest @ ..] => object_path(group, version, rest),
        _ => Route::Unknown,
    }
}

fn object_path(group: &str, version: &str, rest: &[&str]) -> Route {
    // `namespaces/{ns}/status` and `/finalize` are subresources of a namespace, not a
    // resource inside one.
    let in_namespace = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"));
    let (namespace, rest) = if in_namespace {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    if rest.is_empty() || rest.len() > 3 {
        return Route::Unknown;
    }
    Route::Object(ObjectPath {
        group: group.to_string(),
        version: version.to_string(),
        plural: rest[0].to_string(),
        namespace,
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
    })
}

/// The query parameters the API honours.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Query {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `watch=true|1`.
    pub watch: bool,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `force=true`.
    pub force: bool,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `propagationPolicy` (`Orphan` keeps dependents).
    pub propagation_policy: Option<String>,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
}

/// Undo percent-encoding (`+` is a space in query strings).
pub(crate) fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn truthy(value: &str) -> bool {
    matches!(value, "true" | "1" | "True")
}

impl Query {
    /// Parse a query string.
    pub fn parse(query: Option<&str>) -> Query {
        let mut q = Query::default();
        for pair in query.unwrap_or_default().split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v);
            match k {
                "labelSelector" => q.label_selector = Some(v).filter(|s| !s.is_empty()),
                "fieldSelector" => q.field_selector = Some(v).filter(|s| !s.is_empty()),
                "watch" => q.watch = truthy(&v),
                "resourceVersion" => q.resource_version = Some(v).filter(|s| !s.is_empty()),
                "timeoutSeconds" => q.timeout_seconds = v.parse().ok(),
                "fieldManager" => q.field_manager = Some(v).filter(|s| !s.is_empty()),
                "force" => q.force = truthy(&v),
                "dryRun" => q.dry_run = v == "All",
                "propagationPolicy" => q.propagation_policy = Some(v),
                "allowWatchBookmarks" => q.bookmarks = truthy(&v),
                _ => {}
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(rest: &str) -> ObjectPath {
        match route(rest) {
            Route::Object(p) => p,
            other => panic!("{rest}: {other:?}"),
        }
    }

    #[test]
    fn resource_paths() {
        let p = object("api/v1/namespaces/default/configmaps/x");
        assert_eq!(p.namespace.as_deref(), Some("default"));
        assert_eq!(
            (p.plural.as_str(), p.name.as_deref()),
            ("configmaps", Some("x"))
        );
        let p = object("api/v1/namespaces/default");
        assert_eq!(p.namespace, None);
        assert_eq!(
            (p.plural.as_str(), p.name.as_deref()),
            ("namespaces", Some("default"))
        );
        let p = object("api/v1/namespaces/default/status");
        assert_eq!(p.sub.as_deref(), Some("status"));
        let p = object("apis/apps/v1/deployments");
        assert_eq!((p.group.as_str(), p.namespace.clone()), ("apps", None));
        let p = object("api/v1/namespaces/ns/serviceaccounts/sa/token");
        assert_eq!(p.sub.as_deref(), Some("token"));
        assert_eq!(route("apis/apps"), Route::Group("apps".into()));
        assert_eq!(route("nonsense"), Route::Unknown);
    }

    #[test]
    fn query_parameters() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&watch=1&resourceVersion=12&timeoutSeconds=5&force=true&dryRun=All",
        ));
        assert_eq!(q.label_selector.as_deref(), Some("app=web,tier in (a,b)"));
        assert!(q.watch && q.force && q.dry_run);
        assert_eq!(q.resource_version.as_deref(), Some("12"));
        assert_eq!(q.timeout_seconds, Some(5));
        assert_eq!(decode("100%"), "100%");
    }
}
