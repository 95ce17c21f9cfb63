# One cluster's Istio: its istio-system namespace (labelled with the cluster's network), its
# intermediate CA signed by the mesh's root, and one control plane revision. Every scenario's
# clusters are instances of this module.

variable "cluster" {
  description = "The cluster: an azure_kubernetes_cluster (or { kubeconfig_path, context })."
  type        = any
}

variable "cluster_name" {
  description = "The cluster's name in the mesh (istiod's CLUSTER_ID, remote secret keys)."
  type        = string
}

variable "network" {
  description = "The cluster's Istio network."
  type        = string
}

variable "mesh_id" {
  type    = string
  default = "mesh1"
}

variable "istio_version" {
  type    = string
  default = "1.14.1"
}

variable "root_ca" {
  description = "The mesh's root CA: an object with cert_pem and private_key_pem (pki_root_ca)."
  type        = any
  sensitive   = true
}

variable "intermediate_common_name" {
  description = "Subject CN of the cluster's intermediate CA."
  type        = string
  default     = "Intermediate CA"
}

variable "intermediate_organization" {
  description = "Subject O of the cluster's intermediate CA."
  type        = string
  default     = "Istio"
}

variable "ca_source" {
  description = "cacerts (a Secret made here) or key_vault (a SecretProviderClass the caller makes)."
  type        = string
  default     = "cacerts"
}

variable "key_vault" {
  description = <<-EOT
    With ca_source = "key_vault": where the CA files go and how istiod's CSI volume reads them —
    { id, name, tenant_id, identity_client_id (the CSI add-on's), root_cert_secret_name }.
  EOT
  type    = any
  default = null
}

variable "eastwest_gateway" {
  description = "Expose this cluster to other networks through an east-west gateway."
  type        = bool
  default     = false
}

variable "internal_load_balancers" {
  type    = bool
  default = false
}

variable "ingress_gateway" {
  description = "The ingress gateway: null for none, or { service_type, router_mode, ports }."
  type        = any
  default     = null
}

variable "tolerate_system_pool" {
  description = "Let istiod and the gateways run on a tainted system pool."
  type        = bool
  default     = false
}

variable "outbound_traffic_policy" {
  type    = string
  default = "ALLOW_ANY"
}

variable "dns_capture" {
  type    = bool
  default = false
}

variable "access_log_file" {
  type    = string
  default = "/dev/stdout"
}

resource "pki_intermediate_ca" "this" {
  cluster_name           = var.cluster_name
  common_name            = var.intermediate_common_name
  organization           = var.intermediate_organization
  issuer_cert_pem        = var.root_ca.cert_pem
  issuer_private_key_pem = var.root_ca.private_key_pem
}

resource "kubernetes_namespace" "istio_system" {
  cluster = var.cluster
  name    = "istio-system"
  labels = {
    "topology.istio.io/network" = var.network
  }
}

locals {
  key_vault_ca = var.ca_source == "key_vault"
  spc_name     = "istio-ca-key-vault"
}

# With the CA in Key Vault (seed 000): the intermediate's certificate imported as a certificate
# (PKCS#12, as `az keyvault certificate import`), its key and chain as secrets; the root's
# certificate is one shared secret (the root key never leaves this machine).
resource "azure_key_vault_certificate" "ca_cert" {
  count        = local.key_vault_ca ? 1 : 0
  name         = "${var.cluster_name}-ca-cert"
  key_vault_id = var.key_vault.id
  certificate {
    contents = pki_intermediate_ca.this.pkcs12_base64
  }
}

resource "azure_key_vault_secret" "ca" {
  for_each = local.key_vault_ca ? {
    "ca-key"     = pki_intermediate_ca.this.private_key_pem
    "cert-chain" = pki_intermediate_ca.this.cert_chain_pem
  } : {}
  name         = "${var.cluster_name}-${each.key}"
  key_vault_id = var.key_vault.id
  value        = each.value
  content_type = "application/x-pem-file"
}

# The four files istiod expects in /etc/cacerts, mounted from Key Vault by the CSI driver.
resource "kubernetes_manifest" "ca_secret_provider_class" {
  count   = local.key_vault_ca ? 1 : 0
  cluster = var.cluster
  manifest = {
    apiVersion = "secrets-store.csi.x-k8s.io/v1"
    kind       = "SecretProviderClass"
    metadata = {
      name      = local.spc_name
      namespace = kubernetes_namespace.istio_system.name
    }
    spec = {
      provider = "azure"
      parameters = {
        usePodIdentity         = "false"
        useVMManagedIdentity   = "true"
        userAssignedIdentityID = var.key_vault.identity_client_id
        keyvaultName           = var.key_vault.name
        tenantID               = var.key_vault.tenant_id
        objects = yamlencode({
          array = [
            yamlencode({ objectName = azure_key_vault_certificate.ca_cert[0].name, objectType = "cert", objectAlias = "ca-cert.pem" }),
            yamlencode({ objectName = azure_key_vault_secret.ca["ca-key"].name, objectType = "secret", objectAlias = "ca-key.pem" }),
            yamlencode({ objectName = azure_key_vault_secret.ca["cert-chain"].name, objectType = "secret", objectAlias = "cert-chain.pem" }),
            yamlencode({ objectName = var.key_vault.root_cert_secret_name, objectType = "secret", objectAlias = "root-cert.pem" }),
          ]
        })
      }
    }
  }
}

# Istio's plug-in CA files, as tools/certs/Makefile.selfsigned.mk lays them out.
resource "kubernetes_secret" "cacerts" {
  count     = var.ca_source == "cacerts" ? 1 : 0
  cluster   = var.cluster
  name      = "cacerts"
  namespace = kubernetes_namespace.istio_system.name
  data = {
    "ca-cert.pem"    = pki_intermediate_ca.this.cert_pem
    "ca-key.pem"     = pki_intermediate_ca.this.private_key_pem
    "root-cert.pem"  = pki_intermediate_ca.this.root_cert_pem
    "cert-chain.pem" = pki_intermediate_ca.this.cert_chain_pem
  }
}

resource "istio_control_plane" "this" {
  cluster                  = var.cluster
  version                  = var.istio_version
  mesh_id                  = var.mesh_id
  cluster_name             = var.cluster_name
  network                  = var.network
  access_log_file          = var.access_log_file
  outbound_traffic_policy  = var.outbound_traffic_policy
  dns_capture              = var.dns_capture
  ca_source                = var.ca_source
  ca_secret_provider_class = local.key_vault_ca ? kubernetes_manifest.ca_secret_provider_class[0].manifest.metadata.name : null

  eastwest_gateway = var.eastwest_gateway ? { internal_load_balancer = var.internal_load_balancers } : null
  ingress_gateway  = var.ingress_gateway

  tolerations_all = var.tolerate_system_pool

  depends_on = [kubernetes_secret.cacerts, kubernetes_manifest.ca_secret_provider_class]
}

output "revision" {
  value = istio_control_plane.this.revision
}

output "intermediate_ca" {
  value     = pki_intermediate_ca.this
  sensitive = true
}

output "istio_system" {
  value = kubernetes_namespace.istio_system.name
}

output "ingress_gateway_address" {
  value = istio_control_plane.this.ingress_gateway_address
}

output "eastwest_gateway_address" {
  value = istio_control_plane.this.eastwest_gateway_address
}
