# The seed topology (shared/seeds 000, 001, 003): two AKS clusters in two regions on peered
# virtual networks, with the shared services they use. Every name and range is a variable.

variable "prefix" {
  type        = string
  default     = "mesh"
  description = "Prefix of every resource name: lowercase letters and digits (it is part of the registry name)."

  validation {
    condition     = length(var.prefix) >= 2 && length(var.prefix) <= 12 && lower(var.prefix) == var.prefix
    error_message = "The prefix must be 2-12 lowercase letters and digits, starting with a letter."
  }
}

variable "clusters" {
  description = "The two clusters: region and address plan of each."
  type = map(object({
    location       = string
    address_space  = string
    system_subnet  = string
    user_subnet    = string
    gateway_subnet = string
    bastion_subnet = string
    endpoints      = string
  }))
  default = {
    one = {
      location       = "westeurope"
      address_space  = "10.0.0.0/16"
      system_subnet  = "10.0.0.0/20"
      user_subnet    = "10.0.16.0/20"
      gateway_subnet = "10.0.32.0/24"
      bastion_subnet = "10.0.33.0/26"
      endpoints      = "10.0.34.0/24"
    }
    two = {
      location       = "eastus"
      address_space  = "10.1.0.0/16"
      system_subnet  = "10.1.0.0/20"
      user_subnet    = "10.1.16.0/20"
      gateway_subnet = "10.1.32.0/24"
      bastion_subnet = "10.1.33.0/26"
      endpoints      = "10.1.34.0/24"
    }
  }
}

variable "shared_location" {
  type        = string
  default     = "westeurope"
  description = "Region of the shared resource group (registry, Key Vault, Log Analytics, DNS zones)."
}

variable "tenant_id" {
  type        = string
  default     = "00000000-0000-0000-0000-000000000000"
  description = "Entra tenant of the Key Vault (the local cloud accepts any)."
}

variable "kubernetes_version" {
  type    = string
  default = "1.33"
}

variable "istio_version" {
  type        = string
  default     = "1.14.1"
  description = "The Istio release every cluster runs (revision 1-14-1 for 1.14.1)."
}

variable "mesh_id" {
  type    = string
  default = "mesh1"
}

variable "network" {
  type        = string
  default     = "network1"
  description = "The one Istio network of the peered clusters (multi-primary, same network)."
}

variable "acr_sku" {
  type    = string
  default = "Premium"
}

variable "tags" {
  type    = map(string)
  default = { scenario = "multicluster-istio" }
}
