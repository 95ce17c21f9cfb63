# The shape of the seed topology (two regions, peered networks, one AKS cluster per region,
# a shared root CA and one intermediate per cluster) as mesh_data resources. It runs anywhere,
# with no cloud: the Azure, Kubernetes and PKI providers replace these resources as they land.

variable "prefix" {
  type        = string
  default     = "mesh"
  description = "Prefix of every resource name."
}

variable "regions" {
  type = map(object({
    address_space = string
    network       = optional(string, "network1")
  }))
  default = {
    westeurope = { address_space = "10.0.0.0/16" }
    eastus     = { address_space = "10.1.0.0/16" }
  }
  description = "Regions, each with its virtual network address space."

  validation {
    condition     = length(var.regions) >= 2
    error_message = "A multi-cluster mesh needs at least two regions."
  }
}

variable "istio_revision" {
  type    = string
  default = "1-14-1"
}

locals {
  region_names = sort(keys(var.regions))
  # Both directions of every pair of regions, as VNet peerings are one-way.
  peerings = {
    for pair in flatten([
      for a in local.region_names : [
        for b in local.region_names : { from = a, to = b } if a != b
      ]
    ]) : "${pair.from}-to-${pair.to}" => pair
  }
}

resource "mesh_data" "root_ca" {
  input = {
    common_name = "${var.prefix} root CA"
    key_type    = "RSA-4096"
  }
  lifecycle {
    prevent_destroy = false
  }
}

module "region" {
  source   = "./modules/region"
  for_each = var.regions

  prefix         = var.prefix
  location       = each.key
  address_space  = each.value.address_space
  network        = each.value.network
  root_ca_id     = mesh_data.root_ca.id
  istio_revision = var.istio_revision
}

resource "mesh_data" "peering" {
  for_each = local.peerings
  input = {
    name                    = "${each.value.from}-to-${each.value.to}"
    virtual_network_id      = module.region[each.value.from].vnet_id
    remote_virtual_network  = module.region[each.value.to].vnet_id
    allow_forwarded_traffic = true
  }
}

resource "mesh_data" "remote_secret" {
  for_each = local.peerings
  input = {
    name           = "istio-remote-secret-${each.value.from}"
    in_cluster     = module.region[each.value.to].cluster_id
    points_at      = module.region[each.value.from].cluster_id
    mesh_id        = "${var.prefix}-mesh"
    istio_revision = var.istio_revision
  }
  depends_on = [mesh_data.peering]
}

output "clusters" {
  value       = { for name, region in module.region : name => region.cluster_id }
  description = "Cluster IDs by region."
}

output "peerings" {
  value = sort(keys(mesh_data.peering))
}
