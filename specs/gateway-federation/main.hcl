# Seed 004 (EMCO's Istio setup): two AKS clusters, each with its own Istio control plane, made
# one mesh by a common root CA (each cluster's istiod signs with an intermediate in `cacerts`).
# There are no remote secrets and no east-west gateways: a workload reaches the other cluster
# through that cluster's ingress gateway, which runs in sni-dnat mode and passes mTLS through on
# port 15443 (see federation.hcl). Egress is REGISTRY_ONLY (egress.hcl), and httpbin is also
# served to the outside world over MUTUAL TLS (mtls-ingress.hcl).

locals {
  # The seed's ingress gateway: http2 and https for north-south traffic, and 15443 for
  # cross-cluster mTLS passthrough on a fixed node port. The seed makes it a NodePort Service
  # and calls it at <node IP>:32001. The local cloud gives only LoadBalancer Services an
  # address (mesh cannot read a node's IP), so the Service is a LoadBalancer, which keeps the
  # fixed node port too: callers use the load balancer address on 15443, and <node IP>:32001
  # still works for anyone who prefers the seed's path.
  ingress_gateway = {
    service_type = "LoadBalancer"
    router_mode  = "sni-dnat"
    ports = [
      { name = "status-port", port = 15021, target_port = 15021 },
      { name = "http2", port = 80, target_port = 8080 },
      { name = "https", port = 443, target_port = 8443 },
      { name = "tls", port = local.cross_cluster_port, target_port = 15443, node_port = var.cross_cluster_node_port },
    ]
  }
  cross_cluster_port = 15443
}

resource "azure_resource_group" "this" {
  name     = "rg-${var.prefix}-federation"
  location = var.location
}

# One network, a subnet per cluster: the clusters reach each other's gateways directly.
resource "azure_virtual_network" "this" {
  name                = "vnet-${var.prefix}-federation"
  resource_group_name = azure_resource_group.this.name
  location            = var.location
  address_space       = [var.address_space]

  subnet {
    name             = "cluster1"
    address_prefixes = [var.clusters["cluster1"].subnet]
  }

  subnet {
    name             = "cluster2"
    address_prefixes = [var.clusters["cluster2"].subnet]
  }
}

# The shared root of trust (`make -f Makefile.selfsigned.mk root-ca` in the seed). Its key stays
# in state; each cluster's intermediate is made by the istio-cluster module.
resource "pki_root_ca" "mesh" {
  common_name  = "EMCO Root CA"
  organization = "project-emco.io"
}

module "aks" {
  source   = "../modules/aks-cluster"
  for_each = var.clusters

  name                = "aks-${each.key}-${var.prefix}"
  resource_group_name = azure_resource_group.this.name
  location            = var.location
  subnet_id           = "${azure_virtual_network.this.id}/subnets/${each.key}"
}

# One control plane per cluster (the seed's IstioOperator): plug-in CA from `cacerts`, sidecars
# that answer DNS (ISTIO_META_DNS_CAPTURE) so the ServiceEntry VIPs resolve, REGISTRY_ONLY
# egress, access logs on stdout, and the sni-dnat ingress gateway.
module "istio" {
  source   = "../modules/istio-cluster"
  for_each = var.clusters

  cluster       = module.aks[each.key].cluster
  cluster_name  = each.key
  network       = each.value.network
  istio_version = var.istio_version
  root_ca       = pki_root_ca.mesh
  ca_source     = "cacerts"
  # Makefile.selfsigned.mk INTERMEDIATE_CN / INTERMEDIATE_ORG, as the seed sets them.
  intermediate_common_name  = "EMCO Intermediate CA"
  intermediate_organization = "project-emco.io"
  outbound_traffic_policy   = "REGISTRY_ONLY"
  dns_capture               = true
  access_log_file           = "/dev/stdout"
  ingress_gateway           = local.ingress_gateway
}
