//! Microsoft.OperationalInsights/workspaces.

use serde_json::{json, Value as Json};

use super::subnet::net::{location, same_location, tags};
use super::user_assigned_identity::kept_guid;
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Log Analytics workspaces: a customer ID (the workspace ID agents use), a SKU and a
/// retention period.
pub struct LogAnalyticsWorkspace;

const SKUS: &[&str] = &[
    "Free",
    "PerNode",
    "Premium",
    "Standard",
    "Standalone",
    "Unlimited",
    "CapacityReservation",
    "PerGB2018",
    "LACluster",
];

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl ResourceBehavior for LogAnalyticsWorkspace {
    fn arm_type(&self) -> &'static str {
        "Microsoft.OperationalInsights/workspaces"
    }

    fn provisioning_seconds(&self) -> f64 {
        20.0
    }

    fn accept_put(
        &self,
        _cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let name = id.name();
        let valid = (4..=63).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(ArmErrorBody::new(400, "InvalidWorkspaceName", format!("The workspace name '{name}' is invalid: use 4-63 letters, digits and hyphens, starting and ending with a letter or digit.")));
        }
        let location = location(&body)?;
        let old = existing.map(|e| &e.body);
        same_location(old, &location, id)?;
        let sku = body
            .pointer("/properties/sku/name")
            .and_then(Json::as_str)
            .unwrap_or("PerGB2018")
            .to_string();
        if !SKUS.contains(&sku.as_str()) {
            return Err(ArmErrorBody::invalid(format!(
                "The SKU '{sku}' is not valid."
            )));
        }
        let free = sku == "Free";
        let retention = body
            .pointer("/properties/retentionInDays")
            .and_then(Json::as_i64)
            .unwrap_or(if free { 7 } else { 30 });
        if (free && retention != 7) || (!free && !(30..=730).contains(&retention)) {
            return Err(ArmErrorBody::new(400, "InvalidParameter", format!("retentionInDays {retention} is not valid for the {sku} SKU: use 30-730 (7 for Free).")));
        }
        let created = old
            .and_then(|e| e.pointer("/properties/createdDate"))
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(now);
        let public = |k: &str| {
            body.pointer(&format!("/properties/{k}"))
                .cloned()
                .unwrap_or(json!("Enabled"))
        };
        Ok(json!({
            "location": location,
            "tags": tags(&body),
            "properties": {
                "customerId": kept_guid(old, "/properties/customerId"),
                "sku": {"name": sku},
                "retentionInDays": retention,
                "workspaceCapping": body.pointer("/properties/workspaceCapping").cloned().unwrap_or(json!({"dailyQuotaGb": -1.0})),
                "publicNetworkAccessForIngestion": public("publicNetworkAccessForIngestion"),
                "publicNetworkAccessForQuery": public("publicNetworkAccessForQuery"),
                "features": {"enableLogAccessUsingOnlyResourcePermissions": true},
                "createdDate": created,
                "modifiedDate": now(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::virtual_network::tests::Fake;
    use super::*;

    const ID: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law-one";

    #[test]
    fn keeps_the_customer_id_and_checks_retention() {
        let cloud = Fake::default();
        let id = ArmId::parse(ID).unwrap();
        let body = json!({"location": "westeurope", "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 60}});
        let first = LogAnalyticsWorkspace
            .accept_put(&cloud, &id, None, body.clone())
            .unwrap();
        assert_eq!(first["properties"]["retentionInDays"], json!(60));
        let stored = StoredResource {
            id: ID.into(),
            body: first.clone(),
        };
        let again = LogAnalyticsWorkspace
            .accept_put(&cloud, &id, Some(&stored), body)
            .unwrap();
        assert_eq!(
            again["properties"]["customerId"],
            first["properties"]["customerId"]
        );
        let short = json!({"location": "westeurope", "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 3}});
        assert_eq!(
            LogAnalyticsWorkspace
                .accept_put(&cloud, &id, None, short)
                .unwrap_err()
                .status,
            400
        );
    }
}
