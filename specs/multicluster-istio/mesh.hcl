# The mesh on the seed topology (seeds 000/001/003): an offline root CA whose key stays in
# state, per-cluster intermediates in Key Vault mounted into istiod through the Secrets Store
# CSI driver, Istio 1.14.1 multi-primary on one network with remote secrets both ways, the
# echoserver in cluster one with its Service in both, and the istio ingress gateway behind the
# Application Gateway — Ingress, Gateway and VirtualService — with end-to-end TLS.

resource "pki_root_ca" "mesh" {
  common_name  = "Root CA"
  organization = "Istio"
}

# Only the root's certificate goes to Key Vault (`az keyvault secret set --name root-cert`).
resource "azure_key_vault_secret" "root_cert" {
  name         = "root-cert"
  key_vault_id = azure_key_vault.shared.id
  value        = pki_root_ca.mesh.cert_pem
  content_type = "application/x-pem-file"
}

# The Application Gateway listener's certificate (the seed's self-signed "frontend-certificate").
resource "pki_root_ca" "frontend" {
  common_name   = "${var.prefix} frontend CA"
  organization  = "mesh"
  key_algorithm = "RSA_2048"
}

resource "pki_certificate" "frontend" {
  common_name            = "${var.prefix}.nip.io"
  dns_names              = ["*.nip.io"]
  issuer_cert_pem        = pki_root_ca.frontend.cert_pem
  issuer_private_key_pem = pki_root_ca.frontend.private_key_pem
}

resource "azure_key_vault_certificate" "frontend" {
  name         = "frontend-certificate"
  key_vault_id = azure_key_vault.shared.id
  certificate {
    contents = pki_certificate.frontend.pkcs12_base64
  }
}

# The echoserver's certificate, signed by the mesh root: the ingress gateway serves it to the
# Application Gateway, which trusts the root.
resource "pki_certificate" "echoserver" {
  common_name            = "echoserver.echoserver.svc.cluster.local"
  organization           = "Istio Services"
  dns_names              = ["echoserver.echoserver.svc.cluster.local"]
  issuer_cert_pem        = pki_root_ca.mesh.cert_pem
  issuer_private_key_pem = pki_root_ca.mesh.private_key_pem
}

resource "azure_key_vault_certificate" "echoserver" {
  name         = "echoserver"
  key_vault_id = azure_key_vault.shared.id
  certificate {
    contents = pki_certificate.echoserver.pkcs12_base64
  }
}

module "mesh" {
  source   = "../modules/istio-cluster"
  for_each = var.clusters

  cluster       = module.region[each.key].cluster
  cluster_name  = module.region[each.key].cluster_name
  network       = var.network
  mesh_id       = var.mesh_id
  istio_version = var.istio_version
  root_ca       = pki_root_ca.mesh
  ca_source     = "key_vault"
  key_vault = {
    id                    = azure_key_vault.shared.id
    name                  = azure_key_vault.shared.name
    tenant_id             = var.tenant_id
    identity_client_id    = module.region[each.key].cluster.addon_identity_client_ids["key_vault_secrets_provider"]
    root_cert_secret_name = azure_key_vault_secret.root_cert.name
  }
  # The system pool is tainted CriticalAddonsOnly: istiod runs there like the other add-ons.
  tolerate_system_pool = true
  ingress_gateway = {
    name                        = "ingressgateway"
    namespace                   = "istio-ingress"
    labels                      = { app = "istio-ingressgateway", istio = "ingressgateway" }
    service_type                = "LoadBalancer"
    internal_load_balancer      = true
    certs_secret_provider_class = "istio-ingress-certs"
  }
  depends_on = [kubernetes_namespace.istio_ingress, kubernetes_manifest.ingress_certificates]
}

# The ingress gateway's namespace, on the control plane's revision.
resource "kubernetes_namespace" "istio_ingress" {
  for_each = var.clusters
  cluster  = module.region[each.key].cluster
  name     = "istio-ingress"
  labels   = { "istio.io/rev" = local.revision }
}

# The echoserver certificate mounted into the ingress gateway (004-ingress-gateway-csi.yaml).
resource "kubernetes_manifest" "ingress_certificates" {
  for_each = var.clusters
  cluster  = module.region[each.key].cluster
  manifest = {
    apiVersion = "secrets-store.csi.x-k8s.io/v1"
    kind       = "SecretProviderClass"
    metadata   = { name = "istio-ingress-certs", namespace = kubernetes_namespace.istio_ingress[each.key].name }
    spec = {
      provider = "azure"
      parameters = {
        usePodIdentity         = "false"
        useVMManagedIdentity   = "true"
        userAssignedIdentityID = module.region[each.key].cluster.addon_identity_client_ids["key_vault_secrets_provider"]
        keyvaultName           = azure_key_vault.shared.name
        tenantID               = var.tenant_id
        objects = yamlencode({
          array = [
            yamlencode({ objectName = azure_key_vault_certificate.echoserver.name, objectType = "secret", objectAlias = "tls.key" }),
            yamlencode({ objectName = azure_key_vault_certificate.echoserver.name, objectType = "cert", objectAlias = "tls.crt" }),
          ]
        })
      }
    }
  }
}

locals {
  # The revision istio_control_plane derives from the version (1.14.1 → 1-14-1).
  revision = replace(var.istio_version, ".", "-")
  # Each cluster's istiod reads every other cluster (istioctl x create-remote-secret).
  remote_secrets = {
    for pair in flatten([
      for target in local.cluster_names : [
        for source in local.cluster_names : { target = target, source = source } if source != target
      ]
    ]) : "${pair.source}-in-${pair.target}" => pair
  }
  first = local.cluster_names[0]
  # The host the Application Gateway's public address answers to (nip.io maps it back).
  echoserver_host = "${module.region[local.first].gateway_public_ip}.nip.io"
}

resource "istio_remote_secret" "discovery" {
  for_each       = local.remote_secrets
  cluster        = module.region[each.value.target].cluster
  source_cluster = module.region[each.value.source].cluster
  cluster_name   = module.region[each.value.source].cluster_name
  revision       = module.mesh[each.value.source].revision
}

resource "kubernetes_namespace" "echoserver" {
  for_each = var.clusters
  cluster  = module.region[each.key].cluster
  name     = "echoserver"
  labels   = { "istio.io/rev" = module.mesh[each.key].revision }
}

# The echoserver runs in cluster one; its Service exists in both so the name resolves anywhere.
resource "kubernetes_manifests" "echoserver" {
  cluster   = module.region[local.first].cluster
  content   = file("${path.module}/apps/echoserver.yaml")
  namespace = kubernetes_namespace.echoserver[local.first].name
  wait {
    rollout = true
  }
}

resource "kubernetes_manifests" "echoserver_service" {
  for_each  = { for k in local.cluster_names : k => k if k != local.first }
  cluster   = module.region[each.key].cluster
  content   = file("${path.module}/apps/echoserver.yaml")
  namespace = kubernetes_namespace.echoserver[each.key].name
  selector  = { component = "service" }
}

# Istio Gateway and VirtualService in cluster one, and the Ingress the Application Gateway ingress
# controller turns into listeners: HTTPS at the frontend, HTTPS to the gateway, Istio's root trusted.
resource "kubernetes_manifests" "ingress" {
  cluster = module.region[local.first].cluster
  content = templatefile("${path.module}/apps/ingress.yaml.tftpl", {
    namespace = kubernetes_namespace.istio_ingress[local.first].name
    host      = local.echoserver_host
  })
  depends_on = [module.mesh]
}

output "echoserver_url" {
  value = "https://${local.echoserver_host}"
}

output "istio_revision" {
  value = local.revision
}
