//! The local cloud's data model: ARM IDs, stored resources, ARM-shaped errors.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// A parsed ARM resource ID:
/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/{Namespace}/{type}/{name}[/{type}/{name}]*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArmId {
    /// Subscription ID.
    pub subscription: String,
    /// Resource group name; `None` for subscription-level IDs.
    pub resource_group: Option<String>,
    /// Provider namespace, e.g. `Microsoft.Network`; `None` for a resource group itself.
    pub namespace: Option<String>,
    /// Type/name pairs below the namespace: `[("virtualNetworks", "vnet"), ("subnets", "s")]`.
    pub segments: Vec<(String, String)>,
}

impl ArmId {
    /// Parse an ID (case of the fixed words is ignored, as ARM does).
    pub fn parse(id: &str) -> Option<ArmId> {
        let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
        if parts.len() < 2 || !parts[0].eq_ignore_ascii_case("subscriptions") {
            return None;
        }
        let subscription = parts[1].to_string();
        let rest = &parts[2..];
        if rest.is_empty() {
            return Some(ArmId {
                subscription,
                resource_group: None,
                namespace: None,
                segments: vec![],
            });
        }
        let (resource_group, rest) = if rest[0].eq_ignore_ascii_case("resourceGroups") {
            if rest.len() < 2 || rest[1].is_empty() {
                return None;
            }
            (Some(rest[1].to_string()), &rest[2..])
        } else if rest[0].eq_ignore_ascii_case("providers") {
            // A subscription-level resource, e.g. a role assignment on the subscription.
            (None, rest)
        } else {
            return None;
        };
        if rest.is_empty() {
            return Some(ArmId {
                subscription,
                resource_group,
                namespace: None,
                segments: vec![],
            });
        }
        if rest.len() < 4
            || !rest[0].eq_ignore_ascii_case("providers")
            || rest.len() % 2 != 0
            || rest.iter().any(|p| p.is_empty())
        {
            return None;
        }
        let namespace = Some(rest[1].to_string());
        let segments = rest[2..]
            .chunks(2)
            .map(|c| (c[0].to_string(), c[1].to_string()))
            .collect();
        Some(ArmId {
            subscription,
            resource_group,
            namespace,
            segments,
        })
    }

    /// The full ARM type: `Microsoft.Network/virtualNetworks/subnets`, or
    /// `Microsoft.Resources/resourceGroups` for a resource group. An extension resource
    /// (`{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`) has the type of
    /// its last provider: `Microsoft.Authorization/roleAssignments`.
    pub fn arm_type(&self) -> String {
        match &self.namespace {
            None if self.resource_group.is_none() => "Microsoft.Resources/subscriptions".into(),
            None => "Microsoft.Resources/resourceGroups".to_string(),
            Some(ns) => {
                let last_provider = self
                    .segments
                    .iter()
                    .rposition(|(t, _)| t.eq_ignore_ascii_case("providers"));
                let (ns, from) = match last_provider {
                    Some(i) => (self.segments[i].1.as_str(), i + 1),
                    None => (ns.as_str(), 0),
                };
                let types: Vec<&str> = self.segments[from..]
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect();
                format!("{ns}/{}", types.join("/"))
            }
        }
    }

    /// True for a resource group's own ID.
    pub fn is_resource_group(&self) -> bool {
        self.resource_group.is_some() && self.namespace.is_none()
    }

    /// True for a subscription's own ID.
    pub fn is_subscription(&self) -> bool {
        self.resource_group.is_none() && self.namespace.is_none()
    }

    /// The resource group's ID (`None` for subscription-level IDs).
    pub fn resource_group_id(&self) -> Option<ArmId> {
        self.resource_group.as_ref().map(|_| ArmId {
            namespace: None,
            segments: vec![],
            ..self.clone()
        })
    }

    /// The resource's own name.
    pub fn name(&self) -> &str {
        match self.segments.last() {
            Some((_, n)) => n,
            None => self.resource_group.as_deref().unwrap_or(&self.subscription),
        }
    }

    /// The parent resource (a child's parent, a top-level resource's resource group, an
    /// extension resource's scope, a resource group's subscription).
    pub fn parent(&self) -> Option<ArmId> {
        if self.segments.len() > 1 {
            let mut p = self.clone();
            p.segments.pop();
            if p.segments
                .last()
                .is_some_and(|(t, _)| t.eq_ignore_ascii_case("providers"))
            {
                p.segments.pop();
            }
            if !p.segments.is_empty() {
                return Some(p);
            }
            return Some(ArmId {
                namespace: None,
                segments: vec![],
                ..self.clone()
            });
        }
        if self.namespace.is_some() {
            return Some(ArmId {
                namespace: None,
                segments: vec![],
                ..self.clone()
            });
        }
        if self.resource_group.is_some() {
            return Some(ArmId {
                resource_group: None,
                namespace: None,
                segments: vec![],
                ..self.clone()
            });
        }
        None
    }

    /// The canonical string form.
    pub fn to_id(&self) -> String {
        let mut s = format!("/subscriptions/{}", self.subscription);
        if let Some(rg) = &self.resource_group {
            s.push_str(&format!("/resourceGroups/{rg}"));
        }
        if let Some(ns) = &self.namespace {
            s.push_str(&format!("/providers/{ns}"));
            for (t, n) in &self.segments {
                s.push_str(&format!("/{t}/{n}"));
            }
        }
        s
    }

    /// The lowercase key resources are stored under (ARM IDs are case-insensitive).
    pub fn key(&self) -> String {
        self.to_id().to_ascii_lowercase()
    }
}

/// An ARM error response: status, `error.code`, `error.message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{status} {code}: {message}")]
pub struct ArmErrorBody {
    /// HTTP status.
    pub status: u16,
    /// ARM error code.
    pub code: String,
    /// Message.
    pub message: String,
}

impl ArmErrorBody {
    /// An error.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ArmErrorBody {
        ArmErrorBody {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// 400 InvalidRequestContent.
    pub fn invalid(message: impl Into<String>) -> ArmErrorBody {
        ArmErrorBody::new(400, "InvalidRequestContent", message)
    }

    /// 409 with a code.
    pub fn conflict(code: &str, message: impl Into<String>) -> ArmErrorBody {
        ArmErrorBody::new(409, code, message)
    }

    /// The JSON body ARM sends.
    pub fn to_json(&self) -> Json {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }
}

/// A resource as the local cloud stores it: the ARM resource JSON as GET returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResource {
    /// The ID as first written (original case).
    pub id: String,
    /// The resource JSON: id, name, type, location, tags, properties (with provisioningState).
    pub body: Json,
}

#[cfg(test)]
mod tests {
    use super::ArmId;

    #[test]
    fn parses_nested_extension_and_subscription_level_ids() {
        let subnet = ArmId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a").unwrap();
        assert_eq!(
            subnet.arm_type(),
            "Microsoft.Network/virtualNetworks/subnets"
        );
        assert_eq!(subnet.name(), "a");
        let vnet = subnet.parent().unwrap();
        assert_eq!(vnet.arm_type(), "Microsoft.Network/virtualNetworks");
        let rg = vnet.parent().unwrap();
        assert!(rg.is_resource_group());
        assert_eq!(rg.to_id(), "/subscriptions/s/resourceGroups/rg");
        assert!(rg.parent().unwrap().is_subscription());

        let ra_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr/providers/Microsoft.Authorization/roleAssignments/g";
        let ra = ArmId::parse(ra_id).unwrap();
        assert_eq!(ra.arm_type(), "Microsoft.Authorization/roleAssignments");
        assert_eq!(ra.to_id(), ra_id);
        assert_eq!(
            ra.parent().unwrap().arm_type(),
            "Microsoft.ContainerRegistry/registries"
        );

        let sub_ra =
            ArmId::parse("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/g")
                .unwrap();
        assert_eq!(sub_ra.arm_type(), "Microsoft.Authorization/roleAssignments");
        assert!(sub_ra.parent().unwrap().is_subscription());
        assert!(sub_ra.resource_group_id().is_none());

        assert!(ArmId::parse("/subscriptions/s/resourceGroups/rg/providers/NS/t").is_none());
        assert!(ArmId::parse("/subscriptions/s/somethingElse/x").is_none());
        assert!(ArmId::parse("/subscriptions/s/resourceGroups//x").is_none());
    }
}
