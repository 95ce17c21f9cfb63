# One region: its network with the seed's subnets, a cluster, and the cluster's intermediate CA.

variable "prefix" {
  type = string
}

variable "location" {
  type = string
}

variable "address_space" {
  type = string
}

variable "network" {
  type = string
}

variable "root_ca_id" {
  type = string
}

variable "istio_revision" {
  type = string
}

locals {
  subnets = {
    System             = cidrsubnet(var.address_space, 8, 0)
    User               = cidrsubnet(var.address_space, 8, 1)
    AppGateway         = cidrsubnet(var.address_space, 8, 2)
    AzureBastionSubnet = cidrsubnet(var.address_space, 8, 3)
    PrivateEndpoints   = cidrsubnet(var.address_space, 8, 4)
  }
}

resource "mesh_data" "vnet" {
  input = {
    name          = "${var.prefix}-${var.location}-vnet"
    location      = var.location
    address_space = [var.address_space]
    subnets       = local.subnets
  }
}

resource "mesh_data" "intermediate_ca" {
  input = {
    common_name = "${var.prefix} ${var.location} intermediate CA"
    issuer      = var.root_ca_id
  }
}

resource "mesh_data" "cluster" {
  input = {
    name              = "${var.prefix}-${var.location}-aks"
    location          = var.location
    system_subnet     = "${mesh_data.vnet.id}/subnets/System"
    user_subnet       = "${mesh_data.vnet.id}/subnets/User"
    network           = var.network
    istio_revision    = var.istio_revision
    ca_certificate_id = mesh_data.intermediate_ca.id
  }
}

output "vnet_id" {
  value = mesh_data.vnet.id
}

output "cluster_id" {
  value = mesh_data.cluster.id
}
