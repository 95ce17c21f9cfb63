//! Microsoft.Resources/resourceGroups.

use serde_json::Value as Json;

use super::util::required_str;
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Resource groups: a location and tags; deleting one deletes its content (the core does that).
pub struct ResourceGroup;

impl ResourceBehavior for ResourceGroup {
    fn arm_type(&self) -> &'static str {
        "Microsoft.Resources/resourceGroups"
    }

    fn provisioning_seconds(&self) -> f64 {
        1.0
    }

    fn accept_put(
        &self,
        _cloud: &dyn CloudView,
        _id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let location = required_str(&body, "/location")?.to_string();
        if let Some(existing) = existing {
            let old = existing
                .body
                .get("location")
                .and_then(Json::as_str)
                .unwrap_or_default();
            if !old.eq_ignore_ascii_case(&location) {
                return Err(ArmErrorBody::new(409, "InvalidResourceGroupLocation", format!("Invalid resource group location '{location}'. The Resource group already exists in location '{old}'.")));
            }
        }
        Ok(serde_json::json!({
            "location": location,
            "tags": body.get("tags").cloned().unwrap_or_else(|| serde_json::json!({})),
            "properties": {},
        }))
    }
}
