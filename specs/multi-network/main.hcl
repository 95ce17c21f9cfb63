# Seed 002: two AKS clusters in one virtual network, joined into one Istio mesh on two
# *different* Istio networks — a shared root CA through `cacerts` secrets, east-west gateways
# with the cross-network Gateway, remote secrets both ways, helloworld v1 in cluster1 and v2 in
# cluster2 with sleep in both, the cluster-local routing rules, and bookinfo split across the
# clusters (reviews only in cluster2) behind an ingress gateway.

variable "prefix" {
  type    = string
  default = "mn"
}

variable "location" {
  type    = string
  default = "eastus"
}

variable "istio_version" {
  type    = string
  default = "1.19.1"
}

variable "clusters" {
  description = "The clusters: subnet and Istio network of each."
  type = map(object({
    subnet  = string
    network = string
  }))
  default = {
    cluster1 = { subnet = "10.1.1.0/24", network = "network1" }
    cluster2 = { subnet = "10.1.2.0/24", network = "network2" }
  }
}

locals {
  # Every ordered pair: each cluster's istiod reads every other cluster.
  remote_secrets = {
    for pair in flatten([
      for target in keys(var.clusters) : [
        for source in keys(var.clusters) : { target = target, source = source } if source != target
      ]
    ]) : "${pair.source}-in-${pair.target}" => pair
  }
}

resource "azure_resource_group" "this" {
  name     = "rg-${var.prefix}-multicluster"
  location = var.location
}

resource "azure_virtual_network" "this" {
  name                = "vnet-${var.prefix}-multicluster"
  resource_group_name = azure_resource_group.this.name
  location            = var.location
  address_space       = ["10.1.0.0/16"]

  subnet {
    name             = "cluster1"
    address_prefixes = [var.clusters["cluster1"].subnet]
  }

  subnet {
    name             = "cluster2"
    address_prefixes = [var.clusters["cluster2"].subnet]
  }
}

# The mesh's root CA (Makefile.selfsigned.mk root-ca): its key stays in state, never in Azure.
resource "pki_root_ca" "mesh" {
  common_name  = "Root CA"
  organization = "Istio"
}

module "aks" {
  source   = "../modules/aks-cluster"
  for_each = var.clusters

  name                = "aks-${each.key}-${var.prefix}"
  resource_group_name = azure_resource_group.this.name
  location            = var.location
  subnet_id           = "${azure_virtual_network.this.id}/subnets/${each.key}"
  node_count          = 3
}

module "istio" {
  source   = "../modules/istio-cluster"
  for_each = var.clusters

  cluster          = module.aks[each.key].cluster
  cluster_name     = each.key
  network          = each.value.network
  istio_version    = var.istio_version
  root_ca          = pki_root_ca.mesh
  eastwest_gateway = true
  ingress_gateway  = each.key == "cluster1" ? { service_type = "LoadBalancer" } : null
}

resource "istio_remote_secret" "discovery" {
  for_each       = local.remote_secrets
  cluster        = module.aks[each.value.target].cluster
  source_cluster = module.aks[each.value.source].cluster
  cluster_name   = each.value.source
  revision       = module.istio[each.value.source].revision
}

resource "kubernetes_namespace" "sample" {
  for_each = var.clusters
  cluster  = module.aks[each.key].cluster
  name     = "sample"
  labels = {
    "istio-injection" = "enabled"
  }
  depends_on = [module.istio]
}

# The helloworld Service in both clusters, v1 in cluster1 and v2 in cluster2.
resource "kubernetes_manifests" "helloworld_service" {
  for_each  = var.clusters
  cluster   = module.aks[each.key].cluster
  content   = file("${path.module}/apps/helloworld.yaml")
  namespace = kubernetes_namespace.sample[each.key].name
  selector  = { service = "helloworld" }
}

resource "kubernetes_manifests" "helloworld" {
  for_each  = { cluster1 = "v1", cluster2 = "v2" }
  cluster   = module.aks[each.key].cluster
  content   = file("${path.module}/apps/helloworld.yaml")
  namespace = kubernetes_namespace.sample[each.key].name
  selector  = { version = each.value }
  wait {
    rollout = true
  }
}

resource "kubernetes_manifests" "sleep" {
  for_each  = var.clusters
  cluster   = module.aks[each.key].cluster
  content   = file("${path.module}/apps/sleep.yaml")
  namespace = kubernetes_namespace.sample[each.key].name
}

# Cluster-local routing: from cluster1 helloworld stays in cluster1.
resource "kubernetes_manifests" "helloworld_cluster_local" {
  cluster   = module.aks["cluster1"].cluster
  content   = file("${path.module}/apps/helloworld-cluster-local.yaml")
  namespace = kubernetes_namespace.sample["cluster1"].name
}

resource "kubernetes_namespace" "bookinfo" {
  for_each = var.clusters
  cluster  = module.aks[each.key].cluster
  name     = "bookinfo"
  labels = {
    "istio-injection" = "enabled"
  }
  depends_on = [module.istio]
}

# Everything but the reviews workloads in cluster1 (with a reviews Service for DNS); reviews
# v1-v3 in cluster2.
resource "kubernetes_manifests" "bookinfo" {
  for_each  = { cluster1 = "bookinfo-cluster1.yaml", cluster2 = "bookinfo-cluster2.yaml" }
  cluster   = module.aks[each.key].cluster
  content   = file("${path.module}/apps/${each.value}")
  namespace = kubernetes_namespace.bookinfo[each.key].name
}

resource "kubernetes_manifests" "bookinfo_gateway" {
  cluster   = module.aks["cluster1"].cluster
  content   = file("${path.module}/apps/bookinfo-gateway.yaml")
  namespace = kubernetes_namespace.bookinfo["cluster1"].name
}

output "productpage_url" {
  value = "http://${module.istio["cluster1"].ingress_gateway_address}/productpage"
}

output "eastwest_gateways" {
  value = { for k, m in module.istio : k => m.eastwest_gateway_address }
}
