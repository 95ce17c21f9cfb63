//! Microsoft.KeyVault/vaults: globally unique names, the data-plane URI
//! (`{base_url}/keyvault/{name}/`, served by [`crate::keyvault`]), soft-delete retention fixed
//! at creation and purge protection that cannot be turned off.

use serde_json::{json, Value as Json};

use super::subnet::net::{location, same_location, tags};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Key Vaults.
pub struct KeyVault;

fn bad_request(message: impl Into<String>) -> ArmErrorBody {
    ArmErrorBody::new(400, "BadRequest", message)
}

/// Key Vault's name rule: 3-24 letters, digits and hyphens, starting with a letter, ending
/// with a letter or digit, no consecutive hyphens.
fn valid_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && !name.contains("--")
}

fn check_access_policies(policies: &[Json]) -> Result<(), ArmErrorBody> {
    for (i, p) in policies.iter().enumerate() {
        for key in ["tenantId", "objectId"] {
            if p.get(key).and_then(Json::as_str).is_none_or(str::is_empty) {
                return Err(ArmErrorBody::invalid(format!(
                    "accessPolicies[{i}].{key} is required."
                )));
            }
        }
        if !p.get("permissions").is_some_and(Json::is_object) {
            return Err(ArmErrorBody::invalid(format!(
                "accessPolicies[{i}].permissions is required."
            )));
        }
    }
    Ok(())
}

fn check_network_acls(acls: &Json) -> Result<(), ArmErrorBody> {
    let action = acls
        .get("defaultAction")
        .and_then(Json::as_str)
        .unwrap_or("Allow");
    let bypass = acls
        .get("bypass")
        .and_then(Json::as_str)
        .unwrap_or("AzureServices");
    if !["Allow", "Deny"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
    {
        return Err(ArmErrorBody::invalid(format!(
            "networkAcls.defaultAction '{action}' is not valid: use Allow or Deny."
        )));
    }
    if !["AzureServices", "None"]
        .iter()
        .any(|b| b.eq_ignore_ascii_case(bypass))
    {
        return Err(ArmErrorBody::invalid(format!(
            "networkAcls.bypass '{bypass}' is not valid: use AzureServices or None."
        )));
    }
    Ok(())
}

impl ResourceBehavior for KeyVault {
    fn arm_type(&self) -> &'static str {
        "Microsoft.KeyVault/vaults"
    }

    fn provisioning_seconds(&self) -> f64 {
        20.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let name = id.name();
        if !valid_name(name) {
            return Err(bad_request(format!("The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.")));
        }
        let taken = cloud.of_type(self.arm_type()).into_iter().any(|v| {
            ArmId::parse(&v.id).is_some_and(|other| {
                other.name().eq_ignore_ascii_case(name) && other.key() != id.key()
            })
        });
        if taken {
            return Err(ArmErrorBody::conflict("VaultAlreadyExists", format!("The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the name is already taken.")));
        }
        let location = location(&body)?;
        let old = existing.map(|e| &e.body);
        same_location(old, &location, id)?;
        let old_props = old
            .and_then(|o| o.get("properties"))
            .cloned()
            .unwrap_or_else(|| json!({}));
        let mut props = body
            .get("properties")
            .and_then(Json::as_object)
            .cloned()
            .ok_or_else(|| {
                ArmErrorBody::invalid(
                    "The request content is missing the required property properties.",
                )
            })?;

        let tenant = props
            .get("tenantId")
            .and_then(Json::as_str)
            .unwrap_or_default();
        if tenant.is_empty() {
            return Err(ArmErrorBody::invalid(
                "The request content is missing the required property properties.tenantId.",
            ));
        }
        let sku = props
            .get("sku")
            .and_then(|s| s.get("name"))
            .and_then(Json::as_str)
            .unwrap_or_default();
        if !["standard", "premium"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(sku))
        {
            return Err(ArmErrorBody::invalid(format!(
                "properties.sku.name '{sku}' is not valid: use standard or premium."
            )));
        }
        props.insert(
            "sku".into(),
            json!({"family": "A", "name": sku.to_ascii_lowercase()}),
        );

        let policies = props
            .get("accessPolicies")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        check_access_policies(&policies)?;
        props.insert("accessPolicies".into(), Json::Array(policies));
        if let Some(acls) = props.get("networkAcls").filter(|a| !a.is_null()) {
            check_network_acls(acls)?;
        }

        if props.get("enableSoftDelete") == Some(&json!(false)) {
            return Err(bad_request(
                "Soft delete cannot be disabled: set enableSoftDelete to true or leave it out.",
            ));
        }
        props.insert("enableSoftDelete".into(), json!(true));
        let days = props
            .get("softDeleteRetentionInDays")
            .and_then(Json::as_i64)
            .unwrap_or(90);
        if !(7..=90).contains(&days) {
            return Err(bad_request(format!(
                "softDeleteRetentionInDays must be between 7 and 90, not {days}."
            )));
        }
        if let Some(old_days) = old_props
            .get("softDeleteRetentionInDays")
            .and_then(Json::as_i64)
        {
            if old_days != days {
                return Err(bad_request(format!("The soft delete retention period of vault '{name}' is {old_days} days and cannot be changed after creation.")));
            }
        }
        props.insert("softDeleteRetentionInDays".into(), json!(days));

        let protected = old_props.get("enablePurgeProtection") == Some(&json!(true));
        match props.get("enablePurgeProtection") {
            Some(Json::Bool(false)) if protected => {
                return Err(bad_request(format!(
                    "Purge protection is enabled on vault '{name}' and cannot be disabled."
                )));
            }
            Some(Json::Bool(false)) => {
                return Err(bad_request("The property enablePurgeProtection cannot be set to false: leave it out to keep purge protection off."));
            }
            None if protected => {
                props.insert("enablePurgeProtection".into(), json!(true));
            }
            _ => {}
        }

        let access = props
            .get("publicNetworkAccess")
            .and_then(Json::as_str)
            .unwrap_or("Enabled")
            .to_string();
        if !["Enabled", "Disabled"]
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&access))
        {
            return Err(ArmErrorBody::invalid(format!(
                "properties.publicNetworkAccess '{access}' is not valid: use Enabled or Disabled."
            )));
        }
        props.insert("publicNetworkAccess".into(), json!(access));
        if !props
            .get("enableRbacAuthorization")
            .is_some_and(Json::is_boolean)
        {
            props.insert("enableRbacAuthorization".into(), json!(false));
        }
        let uri = old_props.get("vaultUri").cloned().unwrap_or_else(|| {
            json!(format!(
                "{}/keyvault/{name}/",
                cloud.base_url().trim_end_matches('/')
            ))
        });
        props.insert("vaultUri".into(), uri);
        Ok(json!({"location": location, "tags": tags(&body), "properties": props}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::virtual_network::tests::Fake;

    const KV: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-one";

    fn body() -> Json {
        json!({"location": "westeurope", "properties": {"tenantId": "t", "sku": {"family": "A", "name": "standard"}, "softDeleteRetentionInDays": 7}})
    }

    fn put(
        cloud: &Fake,
        id: &str,
        existing: Option<&Json>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let stored = existing.map(|b| StoredResource {
            id: id.into(),
            body: b.clone(),
        });
        KeyVault.accept_put(cloud, &ArmId::parse(id).expect("id"), stored.as_ref(), body)
    }

    #[test]
    fn vaults_get_a_data_plane_uri_and_a_global_name() {
        let mut cloud = Fake::default();
        let v = put(&cloud, KV, None, body()).expect("created");
        assert_eq!(
            v["properties"]["vaultUri"],
            json!("http://127.0.0.1:1/keyvault/kv-one/")
        );
        assert_eq!(v["properties"]["enableSoftDelete"], json!(true));
        assert_eq!(v["properties"]["accessPolicies"], json!([]));
        cloud.add(KV, v);
        let elsewhere = KV.replace("/rg/", "/rg2/");
        assert_eq!(
            put(&cloud, &elsewhere, None, body())
                .expect_err("taken")
                .code,
            "VaultAlreadyExists"
        );
        assert_eq!(
            put(&cloud, &KV.replace("kv-one", "kv--one"), None, body())
                .expect_err("name")
                .status,
            400
        );
        let mut no_tenant = body();
        no_tenant["properties"]["tenantId"] = Json::Null;
        assert_eq!(
            put(&cloud, KV, None, no_tenant).expect_err("tenant").code,
            "InvalidRequestContent"
        );
    }

    #[test]
    fn retention_and_purge_protection_are_sticky() {
        let cloud = Fake::default();
        let mut protected = body();
        protected["properties"]["enablePurgeProtection"] = json!(true);
        let v = put(&cloud, KV, None, protected).expect("created");
        let kept = put(&cloud, KV, Some(&v), body()).expect("updated");
        assert_eq!(
            kept["properties"]["enablePurgeProtection"],
            json!(true),
            "leaving it out keeps it on"
        );
        let mut off = body();
        off["properties"]["enablePurgeProtection"] = json!(false);
        assert!(put(&cloud, KV, Some(&v), off)
            .expect_err("off")
            .message
            .contains("cannot be disabled"));
        let mut longer = body();
        longer["properties"]["softDeleteRetentionInDays"] = json!(30);
        assert!(put(&cloud, KV, Some(&v), longer)
            .expect_err("days")
            .message
            .contains("cannot be changed"));
        let mut moved = body();
        moved["location"] = json!("northeurope");
        assert_eq!(
            put(&cloud, KV, Some(&v), moved).expect_err("moved").code,
            "InvalidResourceLocation"
        );
    }
}
