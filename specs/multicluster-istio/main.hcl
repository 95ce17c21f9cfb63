locals {
  cluster_names = sort(keys(var.clusters))
  # Both directions of every pair of clusters: a VNet peering is one-way.
  peerings = {
    for pair in flatten([
      for a in local.cluster_names : [
        for b in local.cluster_names : { from = a, to = b } if a != b
      ]
    ]) : "${pair.from}-to-${pair.to}" => pair
  }
  regions_are_distinct = length(distinct([for c in var.clusters : c.location])) == length(var.clusters)
  premium              = var.acr_sku == "Premium"
}

resource "azure_resource_group" "shared" {
  name     = "${var.prefix}-${var.shared_location}-shared-rg"
  location = var.shared_location
  tags     = var.tags
}

# One Log Analytics workspace per cluster region: a single one when both clusters share a
# region, as in the seed.
resource "azure_log_analytics_workspace" "region" {
  for_each            = toset([for c in var.clusters : c.location])
  name                = "${var.prefix}-${each.key}-log"
  resource_group_name = azure_resource_group.shared.name
  location            = each.key
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = var.tags
}

resource "azure_container_registry" "shared" {
  name                          = "${var.prefix}acr"
  resource_group_name           = azure_resource_group.shared.name
  location                      = var.shared_location
  sku                           = var.acr_sku
  admin_enabled                 = false
  public_network_access_enabled = !local.premium
  tags                          = var.tags
}

# A Premium registry has a replica in every cluster region but its home region.
resource "azure_container_registry_replication" "region" {
  for_each              = local.premium ? { for k, c in var.clusters : k => c if c.location != var.shared_location } : {}
  name                  = each.value.location
  container_registry_id = azure_container_registry.shared.id
  location              = each.value.location
  tags                  = var.tags
}

resource "azure_key_vault" "shared" {
  name                       = "${var.prefix}-kv"
  resource_group_name        = azure_resource_group.shared.name
  location                   = var.shared_location
  tenant_id                  = var.tenant_id
  sku_name                   = "standard"
  enable_rbac_authorization  = true
  soft_delete_retention_days = 7
  purge_protection_enabled   = false
  tags                       = var.tags
}

resource "azure_private_dns_zone" "registry" {
  name                = "privatelink.azurecr.io"
  resource_group_name = azure_resource_group.shared.name
  tags                = var.tags
}

resource "azure_private_dns_zone" "vault" {
  name                = "privatelink.vaultcore.azure.net"
  resource_group_name = azure_resource_group.shared.name
  tags                = var.tags
}

module "region" {
  source   = "./modules/region"
  for_each = var.clusters

  prefix                     = var.prefix
  key                        = each.key
  cluster                    = each.value
  kubernetes_version         = var.kubernetes_version
  log_analytics_workspace_id = azure_log_analytics_workspace.region[each.value.location].id
  registry_id                = azure_container_registry.shared.id
  key_vault_id               = azure_key_vault.shared.id
  private_dns_zone_ids       = [azure_private_dns_zone.registry.id, azure_private_dns_zone.vault.id]
  private_dns_zone_names     = [azure_private_dns_zone.registry.name, azure_private_dns_zone.vault.name]
  shared_resource_group      = azure_resource_group.shared.name
  # One Bastion when both clusters share a region, as in the seed.
  with_bastion = local.regions_are_distinct || each.key == local.cluster_names[0]
  # End-to-end TLS: the listener's certificate from Key Vault, Istio's root trusted for backends.
  frontend_certificate_secret_id = azure_key_vault_certificate.frontend.versionless_secret_id
  trusted_root_certificate_pem   = pki_root_ca.mesh.cert_pem
  tags                           = var.tags
}

resource "azure_virtual_network_peering" "mesh" {
  for_each                     = local.peerings
  name                         = "${each.value.from}-to-${each.value.to}"
  resource_group_name          = module.region[each.value.from].resource_group_name
  virtual_network_name         = module.region[each.value.from].virtual_network_name
  remote_virtual_network_id    = module.region[each.value.to].virtual_network_id
  allow_virtual_network_access = true
  allow_forwarded_traffic      = true
  allow_gateway_transit        = false
  use_remote_gateways          = false
}

# The clusters pull images from the registry through private endpoints in cluster one's network.
resource "azure_private_endpoint" "registry" {
  count               = local.premium ? 1 : 0
  name                = "${var.prefix}-acr-pe"
  resource_group_name = azure_resource_group.shared.name
  location            = var.clusters[local.cluster_names[0]].location
  subnet_id           = module.region[local.cluster_names[0]].private_endpoints_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "acr"
    private_connection_resource_id = azure_container_registry.shared.id
    subresource_names              = ["registry"]
  }

  private_dns_zone_group {
    name                 = "registry"
    private_dns_zone_ids = [azure_private_dns_zone.registry.id]
  }
}

resource "azure_private_endpoint" "vault" {
  name                = "${var.prefix}-kv-pe"
  resource_group_name = azure_resource_group.shared.name
  location            = var.clusters[local.cluster_names[0]].location
  subnet_id           = module.region[local.cluster_names[0]].private_endpoints_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "vault"
    private_connection_resource_id = azure_key_vault.shared.id
    subresource_names              = ["vault"]
  }

  private_dns_zone_group {
    name                 = "vault"
    private_dns_zone_ids = [azure_private_dns_zone.vault.id]
  }
}

output "clusters" {
  description = "Each cluster's name, API server FQDN and OIDC issuer."
  value = {
    for k, r in module.region : k => {
      name        = r.cluster_name
      fqdn        = r.cluster_fqdn
      oidc_issuer = r.oidc_issuer_url
    }
  }
}

output "registry" {
  value = azure_container_registry.shared.login_server
}

output "key_vault_uri" {
  value = azure_key_vault.shared.vault_uri
}
