# Cross-cluster calls through the serving cluster's ingress gateway (seed steps 3-8 for httpbin,
# 7-8 of the load-balancing section for helloworld). For each exported service the calling
# cluster gets a ServiceEntry (remote name -> VIP -> the serving gateway) and an ISTIO_MUTUAL
# DestinationRule; the serving cluster gets an AUTO_PASSTHROUGH Gateway, a ServiceEntry mapping
# the remote name to the local Service, and a DestinationRule.

locals {
  # The exported services; the remote name is <service>.<namespace>.<serving cluster>, as in
  # httpbin.bar.cluster2.
  exports = {
    httpbin = {
      service          = "httpbin"
      namespace        = var.server_namespace
      client_namespace = var.client_namespace
      port             = 8000
    }
    helloworld = {
      service          = "helloworld"
      namespace        = var.sample_namespace
      client_namespace = var.sample_namespace
      port             = 5000
    }
  }
  remote_hosts = {
    for key, e in local.exports : key => "${e.service}.${e.namespace}.${var.serving_cluster}"
  }
}

resource "kubernetes_manifests" "export_caller" {
  for_each = local.exports
  cluster  = module.aks[var.calling_cluster].cluster
  content = templatefile("${path.module}/apps/export-caller.yaml.tftpl", {
    service   = each.value.service
    namespace = each.value.namespace
    host      = local.remote_hosts[each.key]
    port      = each.value.port
    vip       = var.export_vips[each.key]
    # The serving gateway's load balancer address on 15443 rather than the seed's
    # <node IP>:32001: the local cloud gives no node addresses (see main.hcl). Known only once
    # the serving cluster's control plane is applied, so this resource follows it.
    gateway_address = module.istio[var.serving_cluster].ingress_gateway_address
    gateway_port    = local.cross_cluster_port
  })
  namespace = kubernetes_namespace.app["${var.calling_cluster}/${each.value.client_namespace}"].name
}

resource "kubernetes_manifests" "export_server" {
  for_each = local.exports
  cluster  = module.aks[var.serving_cluster].cluster
  content = templatefile("${path.module}/apps/export-server.yaml.tftpl", {
    service   = each.value.service
    namespace = each.value.namespace
    host      = local.remote_hosts[each.key]
    port      = each.value.port
  })
  # The gateway's namespace: the ServiceEntry is exported to it alone.
  namespace = module.istio[var.serving_cluster].istio_system
  # The Istio CRDs come with the control plane, not with the namespace.
  depends_on = [module.istio]
}

# helloworld in the calling cluster: half the calls stay local (v1), half cross to v2.
resource "kubernetes_manifests" "helloworld_split" {
  cluster = module.aks[var.calling_cluster].cluster
  content = templatefile("${path.module}/apps/weighted-split.yaml.tftpl", {
    service       = "helloworld"
    local_host    = "helloworld.${var.sample_namespace}.svc.cluster.local"
    remote_host   = local.remote_hosts["helloworld"]
    local_weight  = var.local_weight
    remote_weight = 100 - var.local_weight
  })
  namespace = kubernetes_namespace.app["${var.calling_cluster}/${var.sample_namespace}"].name
  # The VirtualService names the remote host; its ServiceEntry should exist first.
  depends_on = [kubernetes_manifests.export_caller]
}
