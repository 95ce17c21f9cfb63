resource "kubernetes_namespace" "ns" {
  cluster = { kubeconfig_path = "@KUBECONFIG@", context = "dev" }
  name    = "corpus"
}
