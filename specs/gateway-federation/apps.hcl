# The seed's workloads: sleep in foo (calling cluster), httpbin in bar (serving cluster), and
# the load-balancing example in sample (both clusters: the helloworld Service everywhere, v1 in
# the calling cluster, v2 in the serving one, sleep next to v1).

locals {
  # Every namespace with sidecar injection, by "<cluster>/<namespace>".
  app_namespaces = {
    for ns in [
      { cluster = var.calling_cluster, name = var.client_namespace },
      { cluster = var.serving_cluster, name = var.server_namespace },
      { cluster = var.calling_cluster, name = var.sample_namespace },
      { cluster = var.serving_cluster, name = var.sample_namespace },
    ] : "${ns.cluster}/${ns.name}" => ns
  }
  # The helloworld version each cluster runs.
  helloworld_versions = {
    (var.calling_cluster) = "v1"
    (var.serving_cluster) = "v2"
  }
}

# Created after Istio so the injection webhook is there before the first pod.
resource "kubernetes_namespace" "app" {
  for_each = local.app_namespaces
  cluster  = module.aks[each.value.cluster].cluster
  name     = each.value.name
  labels = {
    "istio-injection" = "enabled"
  }
  depends_on = [module.istio]
}

resource "kubernetes_manifests" "sleep" {
  for_each = toset([var.client_namespace, var.sample_namespace])
  cluster  = module.aks[var.calling_cluster].cluster
  content  = file("${path.module}/apps/sleep.yaml")
  # Through the namespace resource, not the name: the namespace must exist first.
  namespace = kubernetes_namespace.app["${var.calling_cluster}/${each.key}"].name
  wait {
    rollout = true
  }
}

resource "kubernetes_manifests" "httpbin" {
  cluster   = module.aks[var.serving_cluster].cluster
  content   = file("${path.module}/apps/httpbin.yaml")
  namespace = kubernetes_namespace.app["${var.serving_cluster}/${var.server_namespace}"].name
  wait {
    rollout = true
  }
}

# The helloworld Service in both clusters: the calling cluster needs it for the name
# helloworld.sample to resolve and for the VirtualService to split its traffic.
resource "kubernetes_manifests" "helloworld_service" {
  for_each  = local.helloworld_versions
  cluster   = module.aks[each.key].cluster
  content   = file("${path.module}/apps/helloworld.yaml")
  namespace = kubernetes_namespace.app["${each.key}/${var.sample_namespace}"].name
  selector  = { service = "helloworld" }
}

resource "kubernetes_manifests" "helloworld" {
  for_each  = local.helloworld_versions
  cluster   = module.aks[each.key].cluster
  content   = file("${path.module}/apps/helloworld.yaml")
  namespace = kubernetes_namespace.app["${each.key}/${var.sample_namespace}"].name
  selector  = { version = each.value }
  wait {
    rollout = true
  }
}
