//! Microsoft.Network/bastionHosts.

use serde_json::{json, Value as Json};

use super::subnet::net::{
    find_subnet, location, missing_reference, parse_prefixes, prefixes_of, same_location, tags,
};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Azure Bastion: only in a /26-or-larger AzureBastionSubnet, with a Standard static IP.
pub struct BastionHost;

const BASTION_SUBNET: &str = "AzureBastionSubnet";

impl ResourceBehavior for BastionHost {
    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/bastionHosts"
    }

    fn provisioning_seconds(&self) -> f64 {
        300.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let location = location(&body)?;
        same_location(existing.map(|e| &e.body), &location, id)?;
        let sku = body
            .pointer("/sku/name")
            .and_then(Json::as_str)
            .unwrap_or("Basic")
            .to_string();
        if !["Developer", "Basic", "Standard", "Premium"].contains(&sku.as_str()) {
            return Err(ArmErrorBody::invalid(format!(
                "Bastion SKU '{sku}' is not valid."
            )));
        }
        let configs = body
            .pointer("/properties/ipConfigurations")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let [config] = configs.as_slice() else {
            return Err(ArmErrorBody::invalid(format!(
                "Bastion host {} needs exactly one IP configuration.",
                id.name()
            )));
        };
        let config_name = config
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or("IpConf")
            .to_string();
        let subnet_id = config.pointer("/properties/subnet/id").and_then(Json::as_str).ok_or_else(|| ArmErrorBody::new(400, "InvalidRequestFormat", "Value for reference id is missing. Path properties.ipConfigurations[0].properties.subnet."))?;
        let (subnet, vnet) =
            find_subnet(cloud, subnet_id).ok_or_else(|| missing_reference(subnet_id, id))?;
        let subnet_name = subnet_id.rsplit('/').next().unwrap_or_default();
        if subnet_name != BASTION_SUBNET {
            return Err(ArmErrorBody::new(400, "SubnetNameMustBeAzureBastionSubnet", format!("Subnet name {subnet_id} is invalid for Azure Bastion. Azure Bastion can only be created in subnet with name '{BASTION_SUBNET}'.")));
        }
        if let Some(small) = parse_prefixes(&prefixes_of(&subnet))?
            .into_iter()
            .find(|n| n.prefix_len() > 26)
        {
            return Err(ArmErrorBody::new(400, "AzureBastionSubnetTooSmall", format!("Subnet {subnet_id} is too small for Azure Bastion: its prefix {small} must be /26 or larger.")));
        }
        if let Some(vnet_location) = vnet.get("location").and_then(Json::as_str) {
            if !vnet_location.eq_ignore_ascii_case(&location) {
                return Err(ArmErrorBody::invalid(format!("Bastion host {} must be in the location of its virtual network ({vnet_location}), not {location}.", id.name())));
            }
        }
        let pip_id = config
            .pointer("/properties/publicIPAddress/id")
            .and_then(Json::as_str);
        if let Some(pip_id) = pip_id {
            let pip = ArmId::parse(pip_id)
                .and_then(|p| cloud.get(&p))
                .ok_or_else(|| missing_reference(pip_id, id))?;
            let standard = pip.body.pointer("/sku/name").and_then(Json::as_str) == Some("Standard");
            let fixed = pip
                .body
                .pointer("/properties/publicIPAllocationMethod")
                .and_then(Json::as_str)
                == Some("Static");
            if !standard || !fixed {
                return Err(ArmErrorBody::invalid(format!("Public IP {pip_id} of Bastion host {} must be a Standard SKU with Static allocation.", id.name())));
            }
        } else if sku != "Developer" {
            return Err(ArmErrorBody::invalid(format!(
                "Bastion host {} needs a public IP address.",
                id.name()
            )));
        }
        let dns_name = existing
            .and_then(|e| e.body.pointer("/properties/dnsName"))
            .cloned()
            .unwrap_or_else(|| json!(format!("bst-{}.bastion.azure.com", uuid::Uuid::new_v4())));
        let mut ip_props = json!({"subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Dynamic", "provisioningState": "Succeeded"});
        if let Some(pip_id) = pip_id {
            ip_props["publicIPAddress"] = json!({"id": pip_id});
        }
        Ok(json!({
            "location": location,
            "tags": tags(&body),
            "sku": {"name": sku},
            "properties": {
                "dnsName": dns_name,
                "scaleUnits": body.pointer("/properties/scaleUnits").cloned().unwrap_or(json!(2)),
                "ipConfigurations": [{
                    "name": config_name,
                    "id": format!("{}/bastionHostIpConfigurations/{config_name}", id.to_id()),
                    "type": "Microsoft.Network/bastionHosts/bastionHostIpConfigurations",
                    "properties": ip_props,
                }],
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::virtual_network::tests::Fake;

    const VNET: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";
    const PIP: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/p";
    const BASTION: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/bastionHosts/b";

    fn body(subnet: &str) -> Json {
        json!({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": format!("{VNET}/subnets/{subnet}")}, "publicIPAddress": {"id": PIP}}}]}})
    }

    #[test]
    fn needs_the_bastion_subnet_at_least_26() {
        let mut cloud = Fake::default();
        cloud.add(VNET, json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}));
        cloud.add(
            &format!("{VNET}/subnets/AzureBastionSubnet"),
            json!({"properties": {"addressPrefix": "10.0.0.0/26"}}),
        );
        cloud.add(
            &format!("{VNET}/subnets/Small"),
            json!({"properties": {"addressPrefix": "10.0.1.0/27"}}),
        );
        cloud.add(PIP, json!({"sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}));
        let id = ArmId::parse(BASTION).expect("id");
        let ok = BastionHost
            .accept_put(&cloud, &id, None, body("AzureBastionSubnet"))
            .expect("ok");
        assert!(ok["properties"]["dnsName"]
            .as_str()
            .is_some_and(|d| d.ends_with(".bastion.azure.com")));
        assert_eq!(
            BastionHost
                .accept_put(&cloud, &id, None, body("Small"))
                .expect_err("name")
                .code,
            "SubnetNameMustBeAzureBastionSubnet"
        );
        assert_eq!(
            BastionHost
                .accept_put(&cloud, &id, None, body("Missing"))
                .expect_err("missing")
                .code,
            "InvalidResourceReference"
        );
        cloud.add(
            &format!("{VNET}/subnets/AzureBastionSubnet"),
            json!({"properties": {"addressPrefix": "10.0.0.0/27"}}),
        );
        assert_eq!(
            BastionHost
                .accept_put(&cloud, &id, None, body("AzureBastionSubnet"))
                .expect_err("small")
                .code,
            "AzureBastionSubnetTooSmall"
        );
    }
}
