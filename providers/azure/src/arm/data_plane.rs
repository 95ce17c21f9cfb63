//! Data-plane requests (Key Vault): a bearer token for the service's scope and the bearer
//! challenge.
//!
//! Key Vault answers a request without an acceptable token with `401` and
//! `WWW-Authenticate: Bearer authorization="{authority}", resource="{resource}"` (or
//! `scope="..."`). The client then retries once with a token for that resource. Like the Azure
//! SDKs, it only does so when the challenge's resource is the request's own domain (a vault at
//! `x.vault.azure.net` may ask for `https://vault.azure.net`), so a vault URL cannot obtain a
//! token for another service; loopback hosts (the local cloud) are exempt.
//!
//! The challenge's tenant is not used: tokens come from the provider's credential, whose
//! tenant is the subscription's.

use reqwest::Url;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use super::{ArmClient, ArmError, Method};

/// The parameters of a `Bearer` challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub resource: Option<String>,
    pub scope: Option<String>,
}

impl Challenge {
    /// Parse `WWW-Authenticate: Bearer k="v", k2="v2"`; `None` for other schemes.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, params) = header.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut challenge = Challenge::default();
        let mut rest = params.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let key = key.trim().trim_start_matches(',').trim();
            let after = after.trim_start();
            let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim(), &after[end..])
            };
            match key.to_ascii_lowercase().as_str() {
                "resource" | "resource_id" => challenge.resource = Some(value.to_string()),
                "scope" => challenge.scope = Some(value.to_string()),
                _ => {}
            }
            rest = remainder.trim_start().trim_start_matches(',').trim_start();
        }
        Some(challenge)
    }

    /// The token scope the challenge asks for, if it may be used for `request_url`.
    pub fn scope_for(&self, request_url: &str) -> Result<Option<String>, ArmError> {
        let scope = match (&self.scope, &self.resource) {
            (Some(scope), _) => scope.clone(),
            (None, Some(resource)) => format!("{}/.default", resource.trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        let request = Url::parse(request_url)
            .map_err(|e| ArmError::new(0, "InvalidUrl", format!("invalid URL: {e}")))?;
        let request_host = request.host_str().unwrap_or_default().to_ascii_lowercase();
        let loopback = matches!(
            request_host.as_str(),
            "localhost" | "127.0.0.1" | "[::1]" | "::1"
        );
        let challenge_host = Url::parse(&scope)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let same_domain = !challenge_host.is_empty()
            && (request_host == challenge_host
                || request_host.ends_with(&format!(".{challenge_host}")));
        if loopback || same_domain {
            Ok(Some(scope))
        } else {
            Err(ArmError::new(
                401,
                "ChallengeResourceMismatch",
                format!(
                    "the bearer challenge of {request_host} asks for a token for {challenge_host}, which is not its domain"
                ),
            ))
        }
    }
}

/// A URL without its query (for error messages).
pub(crate) fn address_of(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    match no_query.find("://") {
        // ARM URLs: the path (the ARM ID); data-plane URLs: the whole URL.
        Some(i) if no_query[i + 3..].contains("/subscriptions/") => no_query[i + 3..]
            .find('/')
            .map(|p| no_query[i + 3 + p..].to_string())
            .unwrap_or_default(),
        _ => no_query.to_string(),
    }
}

impl ArmClient {
    /// A data-plane request (e.g. Key Vault secrets) with a token for `scope`
    /// (`https://vault.azure.net/.default`), following the bearer challenge once and retrying
    /// like ARM requests. `Ok(None)` for 404; no long-running operation is followed.
    pub async fn data_plane(
        &self,
        method: Method,
        url: &str,
        body: Option<&Json>,
        scope: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<Json>, ArmError> {
        let mut reply = self.send(method, url, body, scope, cancel).await?;
        if reply.status == 401 {
            let challenge = reply.header("www-authenticate").and_then(Challenge::parse);
            if let Some(challenge) = challenge {
                let scope = challenge
                    .scope_for(url)
                    .map_err(|e| e.with_resource(&address_of(url)))?
                    .unwrap_or_else(|| scope.to_string());
                reply = self.send(method, url, body, &scope, cancel).await?;
            }
        }
        match reply.status {
            404 => Ok(None),
            s if s >= 400 => Err(reply.error().with_resource(&address_of(url))),
            _ => Ok(Some(reply.body)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenges() {
        let c = Challenge::parse(
            r#"Bearer authorization="https://login.microsoftonline.com/72f988bf", resource="https://vault.azure.net""#,
        )
        .unwrap();
        assert_eq!(c.resource.as_deref(), Some("https://vault.azure.net"));
        assert_eq!(c.scope, None);
        let c = Challenge::parse(
            r#"bearer authorization_uri="https://login.windows.net/t",scope="https://vault.azure.net/.default""#,
        )
        .unwrap();
        assert_eq!(c.scope.as_deref(), Some("https://vault.azure.net/.default"));
        assert_eq!(Challenge::parse(r#"Basic realm="x""#), None);
        assert_eq!(Challenge::parse("Bearer"), None);
    }

    #[test]
    fn challenge_scopes_must_match_the_request_domain() {
        let c = Challenge {
            resource: Some("https://vault.azure.net".into()),
            scope: None,
        };
        assert_eq!(
            c.scope_for("https://kv1.vault.azure.net/secrets/a?api-version=7.5")
                .unwrap()
                .as_deref(),
            Some("https://vault.azure.net/.default")
        );
        assert_eq!(
            c.scope_for("http://127.0.0.1:4000/keyvault/kv1/secrets/a")
                .unwrap()
                .as_deref(),
            Some("https://vault.azure.net/.default")
        );
        let e = c
            .scope_for("https://evil.example.com/secrets/a")
            .unwrap_err();
        assert_eq!(e.code, "ChallengeResourceMismatch");
        let e = Challenge {
            resource: Some("https://management.azure.com".into()),
            scope: None,
        }
        .scope_for("https://kv1.vault.azure.net/secrets/a")
        .unwrap_err();
        assert_eq!(e.status, 401);
        assert_eq!(
            Challenge::default()
                .scope_for("https://x.vault.azure.net/")
                .unwrap(),
            None
        );
    }

    #[test]
    fn addresses_drop_queries_and_hosts_of_arm_urls() {
        assert_eq!(
            address_of(
                "https://management.azure.com/subscriptions/s/resourceGroups/rg?api-version=1"
            ),
            "/subscriptions/s/resourceGroups/rg"
        );
        assert_eq!(
            address_of("https://kv.vault.azure.net/secrets/a?api-version=7.5"),
            "https://kv.vault.azure.net/secrets/a"
        );
    }
}
