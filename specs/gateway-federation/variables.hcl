# Inputs of the gateway-federation scenario (seed 004). The defaults reproduce the seed.

variable "prefix" {
  description = "Prefix of every Azure name."
  type        = string
  default     = "gf"
}

variable "location" {
  type    = string
  default = "eastus"
}

variable "istio_version" {
  description = "The seed installs 1.10.3, which mesh cannot render; 1.24.2 is the newest it can."
  type        = string
  default     = "1.24.2"
}

variable "address_space" {
  type    = string
  default = "10.4.0.0/16"
}

variable "clusters" {
  description = "The clusters: subnet and Istio network of each. Each runs its own control plane."
  type = map(object({
    subnet  = string
    network = string
  }))
  default = {
    cluster1 = { subnet = "10.4.1.0/24", network = "network1" }
    cluster2 = { subnet = "10.4.2.0/24", network = "network2" }
  }
}

variable "calling_cluster" {
  description = "The cluster whose workloads call services of the serving cluster (sleep's)."
  type        = string
  default     = "cluster1"
}

variable "serving_cluster" {
  description = "The cluster that exports services through its ingress gateway (httpbin's)."
  type        = string
  default     = "cluster2"
}

variable "cross_cluster_node_port" {
  description = "Node port of the ingress gateway's 15443 (mTLS passthrough) port, as in the seed."
  type        = number
  default     = 32001
}

variable "client_namespace" {
  description = "The namespace of sleep in the calling cluster."
  type        = string
  default     = "foo"
}

variable "server_namespace" {
  description = "The namespace of httpbin in the serving cluster."
  type        = string
  default     = "bar"
}

variable "sample_namespace" {
  description = "The namespace of the load-balancing example, in both clusters."
  type        = string
  default     = "sample"
}

variable "export_vips" {
  description = <<-EOT
    The VIP each exported service's remote name (httpbin.bar.cluster2, ...) resolves to in the
    calling cluster: never routed, only captured by the sidecar, so unique per remote service.
  EOT
  type = map(string)
  default = {
    httpbin    = "240.0.0.2"
    helloworld = "240.0.0.3"
  }
}

variable "local_weight" {
  description = "Percentage of helloworld calls in the calling cluster kept local; the rest cross."
  type        = number
  default     = 50

  validation {
    condition     = var.local_weight >= 0 && var.local_weight <= 100
    error_message = "local_weight is a percentage: 0 to 100."
  }
}

variable "mtls_host" {
  description = "The host name httpbin is served under through the MUTUAL TLS ingress Gateway."
  type        = string
  default     = "httpbin.example.com"
}

variable "external_services" {
  description = <<-EOT
    Services outside the mesh that workloads may still call although egress is REGISTRY_ONLY,
    by ServiceEntry name. vip and address are optional: a host resolved by DNS needs neither.
  EOT
  type = map(object({
    host       = string
    port       = number
    port_name  = string
    protocol   = string
    resolution = string
    vip        = optional(string)
    address    = optional(string)
  }))
  default = {
    external-svc-mysql = {
      host       = "mysql.external.example"
      port       = 3306
      port_name  = "mysql"
      protocol   = "TCP"
      resolution = "STATIC"
      vip        = "240.0.0.4"
      address    = "172.25.55.65"
    }
    nginx-ext = {
      host       = "nginx.external.example"
      port       = 80
      port_name  = "http"
      protocol   = "HTTP"
      resolution = "STATIC"
      vip        = "240.0.0.5"
      address    = "172.25.55.65"
    }
    google = {
      host       = "www.google.com"
      port       = 443
      port_name  = "https"
      protocol   = "HTTPS"
      resolution = "DNS"
    }
  }
}
