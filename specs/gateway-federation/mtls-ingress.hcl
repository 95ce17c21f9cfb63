# httpbin served to clients outside the mesh over MUTUAL TLS by the serving cluster's ingress
# gateway (seed section "httpbin cluster external access using mutual tls"). The seed's openssl
# commands become a root and two leaves: the gateway's server certificate and a client
# certificate for curl. This CA is unrelated to the mesh's root: it only guards the front door.

locals {
  mtls_credential = "httpbin-credential"
}

# openssl req -x509 ... -subj '/O=example Inc./CN=example.com'
resource "pki_root_ca" "ingress" {
  common_name   = "example.com"
  organization  = "example Inc."
  key_algorithm = "RSA_2048"
  validity_days = 365 * 2
}

resource "pki_certificate" "httpbin_server" {
  issuer_cert_pem        = pki_root_ca.ingress.cert_pem
  issuer_private_key_pem = pki_root_ca.ingress.private_key_pem
  common_name            = var.mtls_host
  organization           = "httpbin organization"
  dns_names              = [var.mtls_host]
  usage                  = "server"
}

resource "pki_certificate" "client" {
  issuer_cert_pem        = pki_root_ca.ingress.cert_pem
  issuer_private_key_pem = pki_root_ca.ingress.private_key_pem
  common_name            = "client.example.com"
  organization           = "client organization"
  usage                  = "client"
}

# The gateway reads credentialName Secrets from its own namespace: tls.crt/tls.key are what it
# presents, ca.crt is what client certificates must chain to.
resource "kubernetes_secret" "httpbin_credential" {
  cluster   = module.aks[var.serving_cluster].cluster
  name      = local.mtls_credential
  namespace = module.istio[var.serving_cluster].istio_system
  data = {
    "tls.crt" = pki_certificate.httpbin_server.cert_pem
    "tls.key" = pki_certificate.httpbin_server.private_key_pem
    "ca.crt"  = pki_root_ca.ingress.cert_pem
  }
}

resource "kubernetes_manifests" "httpbin_mtls" {
  cluster = module.aks[var.serving_cluster].cluster
  content = templatefile("${path.module}/apps/mtls-ingress.yaml.tftpl", {
    gateway_name    = "mygateway"
    credential_name = kubernetes_secret.httpbin_credential.name
    host            = var.mtls_host
    service         = "httpbin"
    namespace       = var.server_namespace
    port            = 8000
  })
  namespace = kubernetes_namespace.app["${var.serving_cluster}/${var.server_namespace}"].name
}
