//! Microsoft.ContainerRegistry/registries, with the listCredentials action.

use serde_json::{json, Value as Json};

use super::subnet::net::{location, same_location, stable_hash, tags};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Container registries: names unique across the cloud (they are DNS names), SKU rules, the
/// admin user's credentials.
pub struct ContainerRegistry;

/// The ARM type.
pub(crate) const TYPE: &str = "Microsoft.ContainerRegistry/registries";

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The admin passwords: derived from the registry and its creation time, so they stay the same
/// for the registry's life (a recreated registry gets new ones) and never appear in its body.
fn password(registry: &StoredResource, which: &str) -> String {
    let created = registry
        .body
        .pointer("/properties/creationDate")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let seed = format!("{}|{created}|{which}", registry.id.to_ascii_lowercase());
    let a = stable_hash(&seed);
    let b = stable_hash(&format!("{seed}|2"));
    let c = stable_hash(&format!("{seed}|3"));
    format!("{a:016x}{b:016x}{c:08x}")
        .chars()
        .take(40)
        .collect()
}

impl ResourceBehavior for ContainerRegistry {
    fn arm_type(&self) -> &'static str {
        TYPE
    }

    fn provisioning_seconds(&self) -> f64 {
        30.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let name = id.name();
        if !(5..=50).contains(&name.len()) || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ArmErrorBody::new(
                400,
                "InvalidResourceName",
                format!("The registry name '{name}' is invalid: use 5-50 letters and digits."),
            ));
        }
        let taken = cloud.of_type(TYPE).into_iter().any(|r| {
            !r.id.eq_ignore_ascii_case(&id.to_id())
                && r.id
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        });
        if taken {
            return Err(ArmErrorBody::conflict("AlreadyInUse", format!("The registry DNS name {}.azurecr.io is already in use. You can check if the name is already claimed using the checkNameAvailability API.", name.to_ascii_lowercase())));
        }
        let location = location(&body)?;
        let old = existing.map(|e| &e.body);
        same_location(old, &location, id)?;
        let sku = body
            .pointer("/sku/name")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        if !["Basic", "Standard", "Premium"].contains(&sku.as_str()) {
            return Err(ArmErrorBody::invalid(format!(
                "The SKU '{sku}' is not valid: use Basic, Standard or Premium."
            )));
        }
        let prop = |k: &str| body.pointer(&format!("/properties/{k}"));
        let public = prop("publicNetworkAccess")
            .and_then(Json::as_str)
            .unwrap_or("Enabled")
            .to_string();
        if public != "Enabled" && public != "Disabled" {
            return Err(ArmErrorBody::invalid(format!(
                "The value '{public}' of properties.publicNetworkAccess is not valid."
            )));
        }
        if public == "Disabled" && sku != "Premium" {
            return Err(ArmErrorBody::new(400, "PublicNetworkAccessNotSupported", format!("Disabling public network access is only supported for Premium registries; '{name}' is {sku}.")));
        }
        let replicas = cloud
            .children(id)
            .into_iter()
            .filter(|c| c.id.to_ascii_lowercase().contains("/replications/"))
            .count();
        if sku != "Premium" && replicas > 0 {
            return Err(ArmErrorBody::new(400, "GeoReplicationRequiresPremium", format!("Registry '{name}' has {replicas} replication(s): delete them before moving to the {sku} SKU.")));
        }
        let zone = prop("zoneRedundancy")
            .and_then(Json::as_str)
            .unwrap_or("Disabled")
            .to_string();
        let old_zone = old
            .and_then(|o| o.pointer("/properties/zoneRedundancy"))
            .and_then(Json::as_str);
        if old_zone.is_some_and(|z| z != zone) {
            return Err(ArmErrorBody::new(
                400,
                "PropertyChangeNotAllowed",
                "Changing property 'zoneRedundancy' is not allowed.",
            ));
        }
        let created = old
            .and_then(|e| e.pointer("/properties/creationDate"))
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(now);
        Ok(json!({
            "location": location,
            "tags": tags(&body),
            "sku": {"name": sku, "tier": sku},
            "properties": {
                "loginServer": format!("{}.azurecr.io", name.to_ascii_lowercase()),
                "creationDate": created,
                "adminUserEnabled": prop("adminUserEnabled").and_then(Json::as_bool).unwrap_or(false),
                "publicNetworkAccess": public,
                "zoneRedundancy": zone,
                "networkRuleBypassOptions": prop("networkRuleBypassOptions").cloned().unwrap_or(json!("AzureServices")),
                "anonymousPullEnabled": prop("anonymousPullEnabled").cloned().unwrap_or(json!(false)),
                "dataEndpointEnabled": prop("dataEndpointEnabled").cloned().unwrap_or(json!(false)),
                "status": {"displayStatus": "Ready"},
            },
        }))
    }

    fn action(
        &self,
        _cloud: &dyn CloudView,
        id: &ArmId,
        existing: &StoredResource,
        action: &str,
        _body: Option<&Json>,
    ) -> Option<Result<Json, ArmErrorBody>> {
        if !action.eq_ignore_ascii_case("listCredentials") {
            return None;
        }
        if existing.body.pointer("/properties/adminUserEnabled") != Some(&json!(true)) {
            return Some(Err(ArmErrorBody::new(400, "UnAuthorizedForCredentialOperations", format!("Cannot perform credential operations for {} as admin user is disabled. Kindly enable admin user as per docs: https://aka.ms/acr/admin-user", id.to_id()))));
        }
        Some(Ok(json!({
            "username": id.name(),
            "passwords": [
                {"name": "password", "value": password(existing, "password")},
                {"name": "password2", "value": password(existing, "password2")},
            ],
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::super::virtual_network::tests::Fake;
    use super::*;

    const RG: &str = "/subscriptions/s/resourceGroups/rg";

    fn put(cloud: &Fake, name: &str, body: Json) -> Result<Json, ArmErrorBody> {
        let id = ArmId::parse(&format!("{RG}/providers/{TYPE}/{name}")).unwrap();
        ContainerRegistry.accept_put(cloud, &id, None, body)
    }

    #[test]
    fn names_skus_and_credentials() {
        let mut cloud = Fake::default();
        let premium = json!({"location": "westeurope", "sku": {"name": "Premium"}, "properties": {"publicNetworkAccess": "Disabled", "adminUserEnabled": true}});
        let ok = put(&cloud, "meshAcr01", premium.clone()).unwrap();
        assert_eq!(
            ok["properties"]["loginServer"],
            json!("meshacr01.azurecr.io")
        );
        cloud.add(
            &format!("/subscriptions/other/resourceGroups/x/providers/{TYPE}/MESHACR01"),
            ok.clone(),
        );
        assert_eq!(
            put(&cloud, "meshAcr01", premium).unwrap_err().code,
            "AlreadyInUse"
        );
        assert_eq!(
            put(
                &cloud,
                "mesh-acr",
                json!({"location": "w", "sku": {"name": "Basic"}})
            )
            .unwrap_err()
            .code,
            "InvalidResourceName"
        );
        let basic_private = json!({"location": "w", "sku": {"name": "Basic"}, "properties": {"publicNetworkAccess": "Disabled"}});
        assert_eq!(
            put(&cloud, "meshacr02", basic_private).unwrap_err().code,
            "PublicNetworkAccessNotSupported"
        );
        let id = ArmId::parse(&format!("{RG}/providers/{TYPE}/meshacr03")).unwrap();
        let stored = StoredResource {
            id: id.to_id(),
            body: ok,
        };
        let creds = ContainerRegistry
            .action(&cloud, &id, &stored, "listCredentials", None)
            .unwrap()
            .unwrap();
        assert_eq!(creds["username"], json!("meshacr03"));
        let again = ContainerRegistry
            .action(&cloud, &id, &stored, "listCredentials", None)
            .unwrap()
            .unwrap();
        assert_eq!(creds, again);
        assert_eq!(creds["passwords"][0]["value"].as_str().unwrap().len(), 40);
        let mut no_admin = stored.clone();
        no_admin.body["properties"]["adminUserEnabled"] = json!(false);
        let refused = ContainerRegistry
            .action(&cloud, &id, &no_admin, "listCredentials", None)
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.code, "UnAuthorizedForCredentialOperations");
    }
}
