# One cluster and its region: resource group, network with the seed's five subnets, the
# cluster's identity, the AKS cluster (tainted system pool) and its user pool, the Application
# Gateway in front of the Istio ingress gateway, Azure Bastion, and the private DNS links.

variable "prefix" {
  type = string
}

variable "key" {
  type        = string
  description = "one or two: the cluster's key in the mesh."
}

variable "cluster" {
  type = object({
    location       = string
    address_space  = string
    system_subnet  = string
    user_subnet    = string
    gateway_subnet = string
    bastion_subnet = string
    endpoints      = string
  })
}

variable "kubernetes_version" {
  type = string
}

variable "log_analytics_workspace_id" {
  type = string
}

variable "registry_id" {
  type = string
}

variable "key_vault_id" {
  type = string
}

variable "private_dns_zone_ids" {
  type = list(string)
}

variable "private_dns_zone_names" {
  type = list(string)
}

variable "shared_resource_group" {
  type = string
}

variable "with_bastion" {
  type = bool
}

variable "frontend_certificate_secret_id" {
  description = "Key Vault secret URL of the Application Gateway's frontend certificate (end-to-end TLS)."
  type        = string
}

variable "trusted_root_certificate_pem" {
  description = "The Istio root certificate the Application Gateway trusts for HTTPS backends."
  type        = string
}

variable "tags" {
  type = map(string)
}

locals {
  location     = var.cluster.location
  name         = "${var.prefix}-${local.location}-aks-${var.key}"
  subnet_ids   = { for s in azure_virtual_network.this.subnet : s.name => "${azure_virtual_network.this.id}/subnets/${s.name}" }
  gateway_name = "aks-appgw-${local.location}-${var.key}"
}

resource "azure_resource_group" "this" {
  name     = "${var.prefix}-${local.location}-${var.key}-rg"
  location = local.location
  tags     = var.tags
}

resource "azure_virtual_network" "this" {
  name                = "${var.prefix}-${local.location}-${var.key}-vnet"
  resource_group_name = azure_resource_group.this.name
  location            = local.location
  address_space       = [var.cluster.address_space]
  tags                = var.tags

  subnet {
    name             = "System"
    address_prefixes = [var.cluster.system_subnet]
  }

  subnet {
    name             = "User"
    address_prefixes = [var.cluster.user_subnet]
  }

  subnet {
    name             = "AppGateway"
    address_prefixes = [var.cluster.gateway_subnet]
  }

  subnet {
    name             = "AzureBastionSubnet"
    address_prefixes = [var.cluster.bastion_subnet]
  }

  subnet {
    name                              = "PrivateEndpoints"
    address_prefixes                  = [var.cluster.endpoints]
    private_endpoint_network_policies = "Disabled"
  }
}

resource "azure_user_assigned_identity" "cluster" {
  name                = "${local.name}-identity"
  resource_group_name = azure_resource_group.this.name
  location            = local.location
  tags                = var.tags
}

# The cluster's identity manages its subnets (Azure CNI) and the gateway.
resource "azure_role_assignment" "network" {
  scope                = azure_virtual_network.this.id
  role_definition_name = "Network Contributor"
  principal_id         = azure_user_assigned_identity.cluster.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azure_public_ip" "gateway" {
  name                = "${local.gateway_name}-pip"
  resource_group_name = azure_resource_group.this.name
  location            = local.location
  sku                 = "Standard"
  allocation_method   = "Static"
  tags                = var.tags
}

# The gateway reads its frontend certificate from Key Vault with its own identity.
resource "azure_user_assigned_identity" "gateway" {
  name                = "${local.gateway_name}-identity"
  resource_group_name = azure_resource_group.this.name
  location            = local.location
  tags                = var.tags
}

resource "azure_role_assignment" "gateway_certificates" {
  scope                = var.key_vault_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azure_user_assigned_identity.gateway.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azure_application_gateway" "this" {
  name                = local.gateway_name
  resource_group_name = azure_resource_group.this.name
  location            = local.location
  tags                = var.tags

  identity {
    identity_ids = [azure_user_assigned_identity.gateway.id]
  }

  depends_on = [azure_role_assignment.gateway_certificates]

  # What the ingress annotations appgw-ssl-certificate and appgw-trusted-root-certificate name.
  ssl_certificate {
    name                = "frontend-certificate"
    key_vault_secret_id = var.frontend_certificate_secret_id
  }

  trusted_root_certificate {
    name = "root-certificate"
    data = var.trusted_root_certificate_pem
  }

  sku {
    name     = "Standard_v2"
    tier     = "Standard_v2"
    capacity = 2
  }

  gateway_ip_configuration {
    name      = "gateway"
    subnet_id = local.subnet_ids["AppGateway"]
  }

  frontend_ip_configuration {
    name                 = "public"
    public_ip_address_id = azure_public_ip.gateway.id
  }

  frontend_port {
    name = "http"
    port = 80
  }

  # The Istio ingress gateway's internal load balancer in the user subnet (AGIC keeps the
  # pool current once the ingress controller runs).
  backend_address_pool {
    name         = "istio-ingressgateway"
    ip_addresses = [cidrhost(var.cluster.user_subnet, 100)]
  }

  probe {
    name                = "istio-ready"
    protocol            = "Http"
    host                = "127.0.0.1"
    path                = "/healthz/ready"
    interval            = 30
    timeout             = 30
    unhealthy_threshold = 3
  }

  backend_http_settings {
    name                  = "istio"
    port                  = 80
    protocol              = "Http"
    cookie_based_affinity = "Disabled"
    request_timeout       = 30
    probe_name            = "istio-ready"
  }

  http_listener {
    name                           = "http"
    frontend_ip_configuration_name = "public"
    frontend_port_name             = "http"
    protocol                       = "Http"
  }

  request_routing_rule {
    name                       = "istio"
    priority                   = 100
    rule_type                  = "Basic"
    http_listener_name         = "http"
    backend_address_pool_name  = "istio-ingressgateway"
    backend_http_settings_name = "istio"
  }
}

resource "azure_kubernetes_cluster" "this" {
  name                      = local.name
  resource_group_name       = azure_resource_group.this.name
  location                  = local.location
  dns_prefix                = local.name
  kubernetes_version        = var.kubernetes_version
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  tags                      = var.tags

  default_node_pool {
    name                         = "system"
    vm_size                      = "Standard_D4s_v5"
    node_count                   = 3
    vnet_subnet_id               = local.subnet_ids["System"]
    only_critical_addons_enabled = true
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azure_user_assigned_identity.cluster.id]
  }

  network_profile {
    network_plugin = "azure"
    network_policy = "azure"
    service_cidr   = "172.16.0.0/16"
    dns_service_ip = "172.16.0.10"
  }

  key_vault_secrets_provider {
    secret_rotation_enabled  = true
    secret_rotation_interval = "2m"
  }

  ingress_application_gateway {
    gateway_id = azure_application_gateway.this.id
  }

  oms_agent {
    log_analytics_workspace_id = var.log_analytics_workspace_id
  }

  depends_on = [azure_role_assignment.network]
}

resource "azure_kubernetes_node_pool" "user" {
  name                  = "user"
  kubernetes_cluster_id = azure_kubernetes_cluster.this.id
  vm_size               = "Standard_D4s_v5"
  node_count            = 3
  mode                  = "User"
  vnet_subnet_id        = local.subnet_ids["User"]

  # A pool is part of its cluster: a replaced cluster keeps its ARM ID but not its pools, so
  # the pool follows an attribute that only a new cluster changes (not, say, a tag update).
  lifecycle {
    replace_triggered_by = [azure_kubernetes_cluster.this.kubelet_identity_object_id]
  }
}

# The kubelet pulls from the registry; the Secrets Store CSI driver reads Istio's CA from Key Vault.
resource "azure_role_assignment" "acr_pull" {
  scope                = var.registry_id
  role_definition_name = "AcrPull"
  principal_id         = azure_kubernetes_cluster.this.kubelet_identity_object_id
  principal_type       = "ServicePrincipal"
}

resource "azure_role_assignment" "key_vault_secrets" {
  scope                = var.key_vault_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azure_kubernetes_cluster.this.addon_identity_object_ids["key_vault_secrets_provider"]
  principal_type       = "ServicePrincipal"
}

resource "azure_role_assignment" "gateway" {
  scope                = azure_application_gateway.this.id
  role_definition_name = "Contributor"
  principal_id         = azure_kubernetes_cluster.this.addon_identity_object_ids["ingress_application_gateway"]
  principal_type       = "ServicePrincipal"
}

resource "azure_public_ip" "bastion" {
  count               = var.with_bastion ? 1 : 0
  name                = "${var.prefix}-${local.location}-bastion-pip"
  resource_group_name = azure_resource_group.this.name
  location            = local.location
  sku                 = "Standard"
  allocation_method   = "Static"
  tags                = var.tags
}

resource "azure_bastion_host" "this" {
  count               = var.with_bastion ? 1 : 0
  name                = "${var.prefix}-${local.location}-bastion"
  resource_group_name = azure_resource_group.this.name
  location            = local.location
  tags                = var.tags

  ip_configuration {
    name                 = "bastion"
    subnet_id            = local.subnet_ids["AzureBastionSubnet"]
    public_ip_address_id = azure_public_ip.bastion[0].id
  }
}

resource "azure_private_dns_zone_virtual_network_link" "zones" {
  count                 = length(var.private_dns_zone_names)
  name                  = "${var.key}-${replace(var.private_dns_zone_names[count.index], ".", "-")}"
  resource_group_name   = var.shared_resource_group
  private_dns_zone_name = var.private_dns_zone_names[count.index]
  virtual_network_id    = azure_virtual_network.this.id
  registration_enabled  = false
}

output "resource_group_name" {
  value = azure_resource_group.this.name
}

output "virtual_network_name" {
  value = azure_virtual_network.this.name
}

output "virtual_network_id" {
  value = azure_virtual_network.this.id
}

output "private_endpoints_subnet_id" {
  value = local.subnet_ids["PrivateEndpoints"]
}

output "cluster" {
  description = "The AKS cluster, for the `cluster` attribute of Kubernetes and Istio resources."
  value       = azure_kubernetes_cluster.this
}

output "gateway_public_ip" {
  value = azure_public_ip.gateway.ip_address
}

output "cluster_name" {
  value = azure_kubernetes_cluster.this.name
}

output "cluster_fqdn" {
  value = azure_kubernetes_cluster.this.fqdn
}

output "oidc_issuer_url" {
  value = azure_kubernetes_cluster.this.oidc_issuer_url
}
