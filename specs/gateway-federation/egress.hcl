# REGISTRY_ONLY egress (set on every control plane in main.hcl) blocks every host the mesh does
# not know. These MESH_EXTERNAL ServiceEntries are the seed's exceptions: a MySQL server and an
# nginx on a host outside the clusters, and www.google.com over HTTPS.

resource "kubernetes_manifests" "external_service" {
  for_each = var.external_services
  cluster  = module.aks[var.calling_cluster].cluster
  content = templatefile("${path.module}/apps/external-service.yaml.tftpl", {
    name       = each.key
    host       = each.value.host
    port       = each.value.port
    port_name  = each.value.port_name
    protocol   = each.value.protocol
    resolution = each.value.resolution
    vip        = each.value.vip
    address    = each.value.address
  })
  # Next to sleep, so it can check them; a ServiceEntry is visible to every namespace anyway.
  namespace = kubernetes_namespace.app["${var.calling_cluster}/${var.client_namespace}"].name
}
