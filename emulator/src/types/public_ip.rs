//! Microsoft.Network/publicIPAddresses.

use serde_json::{json, Value as Json};

use super::subnet::net::{location, same_location, stable_hash, tags, user_of};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Public IPs: a deterministic address from the documentation ranges, DNS labels.
pub struct PublicIp;

const TYPE: &str = "Microsoft.Network/publicIPAddresses";

/// A free address for `id`: 203.0.113.0/24 then 198.51.100.0/24 (documentation ranges),
/// starting at a slot derived from the ID so the same resource gets the same address.
fn allocate(cloud: &dyn CloudView, id: &ArmId) -> Result<String, ArmErrorBody> {
    let used: Vec<String> = cloud
        .of_type(TYPE)
        .into_iter()
        .filter(|r| !r.id.eq_ignore_ascii_case(&id.to_id()))
        .filter_map(|r| {
            r.body
                .pointer("/properties/ipAddress")
                .and_then(Json::as_str)
                .map(str::to_string)
        })
        .collect();
    let start = stable_hash(&id.key()) % 508;
    (0..508)
        .map(|i| (start + i) % 508)
        .map(|slot| {
            if slot < 254 {
                format!("203.0.113.{}", slot + 1)
            } else {
                format!("198.51.100.{}", slot - 253)
            }
        })
        .find(|ip| !used.contains(ip))
        .ok_or_else(|| {
            ArmErrorBody::conflict(
                "PublicIPCountLimitReached",
                "The local cloud has no public IP addresses left (508 in use).",
            )
        })
}

impl ResourceBehavior for PublicIp {
    fn arm_type(&self) -> &'static str {
        TYPE
    }

    fn provisioning_seconds(&self) -> f64 {
        3.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let location = location(&body)?;
        let old = existing.map(|e| &e.body);
        same_location(old, &location, id)?;
        let sku = body
            .pointer("/sku/name")
            .and_then(Json::as_str)
            .unwrap_or("Standard")
            .to_string();
        if sku != "Basic" && sku != "Standard" {
            return Err(ArmErrorBody::invalid(format!(
                "Public IP SKU '{sku}' is not valid: use Basic or Standard."
            )));
        }
        if let Some(old_sku) = old
            .and_then(|o| o.pointer("/sku/name"))
            .and_then(Json::as_str)
        {
            if old_sku != sku {
                return Err(ArmErrorBody::invalid(format!(
                    "The SKU of public IP {} cannot be changed from {old_sku} to {sku}.",
                    id.name()
                )));
            }
        }
        let props = body.get("properties").cloned().unwrap_or_else(|| json!({}));
        let default_method = if sku == "Standard" {
            "Static"
        } else {
            "Dynamic"
        };
        let method = props
            .get("publicIPAllocationMethod")
            .and_then(Json::as_str)
            .unwrap_or(default_method)
            .to_string();
        if method != "Static" && method != "Dynamic" {
            return Err(ArmErrorBody::invalid(format!(
                "Allocation method '{method}' is not valid: use Static or Dynamic."
            )));
        }
        if sku == "Standard" && method != "Static" {
            return Err(ArmErrorBody::invalid(format!(
                "Standard sku publicIp {} must have AllocationMethod set to Static.",
                id.to_id()
            )));
        }
        let zones = body.get("zones").cloned().unwrap_or_else(|| json!([]));
        if let Some(old_zones) = old.map(|o| o.get("zones").cloned().unwrap_or_else(|| json!([]))) {
            if old_zones != zones {
                return Err(ArmErrorBody::invalid(format!(
                    "The availability zones of public IP {} cannot be changed.",
                    id.name()
                )));
            }
        }
        let previous_ip = old
            .and_then(|o| o.pointer("/properties/ipAddress"))
            .cloned();
        let ip = match (method.as_str(), previous_ip) {
            (_, Some(ip)) => Some(ip),
            ("Static", None) => Some(json!(allocate(cloud, id)?)),
            _ => None,
        };
        let mut out_props = json!({
            "publicIPAllocationMethod": method,
            "publicIPAddressVersion": props.get("publicIPAddressVersion").cloned().unwrap_or(json!("IPv4")),
            "idleTimeoutInMinutes": props.get("idleTimeoutInMinutes").cloned().unwrap_or(json!(4)),
            "ipTags": [],
            "resourceGuid": old.and_then(|o| o.pointer("/properties/resourceGuid")).cloned().unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string())),
        });
        if let Some(ip) = ip {
            out_props["ipAddress"] = ip;
        }
        if let Some(label) = props
            .pointer("/dnsSettings/domainNameLabel")
            .and_then(Json::as_str)
        {
            let fqdn = format!(
                "{label}.{}.cloudapp.azure.com",
                location.to_ascii_lowercase().replace(' ', "")
            );
            let taken = cloud.of_type(TYPE).into_iter().find(|r| {
                !r.id.eq_ignore_ascii_case(&id.to_id())
                    && r.body
                        .pointer("/properties/dnsSettings/fqdn")
                        .and_then(Json::as_str)
                        .is_some_and(|f| f.eq_ignore_ascii_case(&fqdn))
            });
            if let Some(other) = taken {
                return Err(ArmErrorBody::new(
                    400,
                    "DnsRecordInUse",
                    format!(
                        "DNS record {fqdn} is already used by another public IP {}.",
                        other.id
                    ),
                ));
            }
            out_props["dnsSettings"] = json!({"domainNameLabel": label, "fqdn": fqdn});
        }
        let mut out = json!({"location": location, "tags": tags(&body), "sku": {"name": sku, "tier": body.pointer("/sku/tier").cloned().unwrap_or(json!("Regional"))}, "properties": out_props});
        if zones.as_array().is_some_and(|z| !z.is_empty()) {
            out["zones"] = zones;
        }
        Ok(out)
    }

    fn check_delete(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        _existing: &StoredResource,
    ) -> Result<(), ArmErrorBody> {
        match user_of(cloud, &id.to_id()) {
            Some(user) => Err(ArmErrorBody::new(400, "PublicIPAddressCannotBeDeleted", format!("Public IP address {} can not be deleted since it is still allocated to resource {user}. In order to delete the public IP, disassociate/detach the Public IP address from the resource.", id.to_id()))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::virtual_network::tests::Fake;

    const PIP: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/p";

    #[test]
    fn addresses_are_deterministic_and_unique() {
        let mut cloud = Fake::default();
        let id = ArmId::parse(PIP).expect("id");
        let body = json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static", "dnsSettings": {"domainNameLabel": "mesh"}}});
        let a = PublicIp
            .accept_put(&cloud, &id, None, body.clone())
            .expect("ok");
        let again = PublicIp
            .accept_put(&cloud, &id, None, body.clone())
            .expect("ok");
        assert_eq!(
            a["properties"]["ipAddress"],
            again["properties"]["ipAddress"]
        );
        assert_eq!(
            a["properties"]["dnsSettings"]["fqdn"],
            json!("mesh.westeurope.cloudapp.azure.com")
        );
        cloud.add(PIP, a.clone());
        let other = ArmId::parse(&PIP.replace("Addresses/p", "Addresses/q")).expect("id");
        assert_eq!(
            PublicIp
                .accept_put(&cloud, &other, None, body.clone())
                .expect_err("label")
                .code,
            "DnsRecordInUse"
        );
        let mut unlabelled = body.clone();
        unlabelled["properties"]["dnsSettings"] = Json::Null;
        let b = PublicIp
            .accept_put(&cloud, &other, None, unlabelled)
            .expect("ok");
        assert_ne!(a["properties"]["ipAddress"], b["properties"]["ipAddress"]);
        let mut dynamic = body;
        dynamic["properties"]["publicIPAllocationMethod"] = json!("Dynamic");
        assert!(PublicIp.accept_put(&cloud, &other, None, dynamic).is_err());
    }
}
