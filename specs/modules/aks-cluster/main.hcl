# One AKS cluster in an existing subnet, with its own user-assigned identity: the clusters of
# the multi-network and gateway-federation scenarios are instances of it.

variable "name" {
  type = string
}

variable "resource_group_name" {
  type = string
}

variable "location" {
  type = string
}

variable "subnet_id" {
  type = string
}

variable "node_count" {
  type    = number
  default = 3
}

variable "vm_size" {
  type    = string
  default = "Standard_D4s_v5"
}

variable "kubernetes_version" {
  type    = string
  default = "1.33"
}

variable "service_cidr" {
  type    = string
  default = "172.16.0.0/16"
}

resource "azure_user_assigned_identity" "this" {
  name                = "${var.name}-identity"
  resource_group_name = var.resource_group_name
  location            = var.location
}

resource "azure_kubernetes_cluster" "this" {
  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  dns_prefix          = var.name
  kubernetes_version  = var.kubernetes_version

  default_node_pool {
    name           = "system"
    vm_size        = var.vm_size
    node_count     = var.node_count
    vnet_subnet_id = var.subnet_id
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azure_user_assigned_identity.this.id]
  }

  network_profile {
    network_plugin = "azure"
    service_cidr   = var.service_cidr
    dns_service_ip = cidrhost(var.service_cidr, 10)
  }
}

output "cluster" {
  description = "The cluster, for the `cluster` attribute of Kubernetes and Istio resources."
  value       = azure_kubernetes_cluster.this
}

output "name" {
  value = azure_kubernetes_cluster.this.name
}
