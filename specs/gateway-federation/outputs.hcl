output "ingress_gateways" {
  description = "Each cluster's ingress gateway address (15443 for cross-cluster mTLS, 443 for MUTUAL TLS)."
  value       = { for k, m in module.istio : k => m.ingress_gateway_address }
}

output "remote_hosts" {
  description = "The names the calling cluster's workloads use for the exported services."
  value       = local.remote_hosts
}

output "mtls_ca_cert_pem" {
  description = "The CA of the MUTUAL TLS ingress (curl --cacert)."
  value       = pki_root_ca.ingress.cert_pem
}

output "mtls_client_cert_pem" {
  description = "The client certificate (curl --cert)."
  value       = pki_certificate.client.cert_pem
}

output "mtls_client_key_pem" {
  description = "The client key (curl --key); `mesh output -raw mtls_client_key_pem > client.key`."
  value       = pki_certificate.client.private_key_pem
  sensitive   = true
}

output "mtls_curl" {
  description = "The seed's check of the MUTUAL TLS ingress, with the files the outputs above fill."
  value       = "curl -v -HHost:${var.mtls_host} --resolve \"${var.mtls_host}:443:${module.istio[var.serving_cluster].ingress_gateway_address}\" --cacert ca.crt --cert client.crt --key client.key \"https://${var.mtls_host}:443/status/418\""
}
