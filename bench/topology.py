"""The seed topology as a DAG of `test_resource`s whose latencies mimic Azure's and the
cluster's: resource groups and networks take seconds, AKS clusters and Application Gateways
minutes (docs/performance.md lists the durations). Scaled by TIME_SCALE, as the local cloud
scales time, so that an apply takes seconds."""

import os
import shutil

# Real-world seconds per operation, by kind.
SECONDS = {
    "resource_group": 3, "log_analytics": 40, "container_registry": 60, "acr_replication": 240,
    "key_vault": 120, "private_dns_zone": 30, "vnet": 15, "identity": 5, "role_assignment": 25,
    "public_ip": 10, "application_gateway": 420, "aks": 600, "node_pool": 240, "bastion": 360,
    "dns_link": 60, "peering": 20, "private_endpoint": 60, "root_ca": 1, "intermediate_ca": 1,
    "kv_secret": 5, "kv_certificate": 10, "namespace": 1, "secret_provider_class": 2,
    "istio": 90, "remote_secret": 2, "manifests": 20, "ingress": 10,
}

TIME_SCALE = 0.01
REGIONS = ("westeurope", "eastus")


def nodes():
    """(name, kind, dependencies) of every operation."""
    out = [
        ("shared_rg", "resource_group", []),
        ("shared_logs_westeurope", "log_analytics", ["shared_rg"]),
        ("shared_logs_eastus", "log_analytics", ["shared_rg"]),
        ("shared_acr", "container_registry", ["shared_rg"]),
        ("shared_acr_replica_eastus", "acr_replication", ["shared_acr"]),
        ("shared_key_vault", "key_vault", ["shared_rg"]),
        ("shared_dns_registry", "private_dns_zone", ["shared_rg"]),
        ("shared_dns_vault", "private_dns_zone", ["shared_rg"]),
        ("pki_root", "root_ca", []),
        ("pki_frontend_root", "root_ca", []),
        ("kv_root_cert", "kv_secret", ["shared_key_vault", "pki_root"]),
        ("kv_frontend_cert", "kv_certificate", ["shared_key_vault", "pki_frontend_root"]),
        ("kv_echoserver_cert", "kv_certificate", ["shared_key_vault", "pki_frontend_root"]),
    ]
    for r in REGIONS:
        p = f"{r}_"
        out += [
            (p + "rg", "resource_group", []),
            (p + "vnet", "vnet", [p + "rg"]),
            (p + "cluster_identity", "identity", [p + "rg"]),
            (p + "role_network", "role_assignment", [p + "vnet", p + "cluster_identity"]),
            (p + "gateway_ip", "public_ip", [p + "rg"]),
            (p + "gateway_identity", "identity", [p + "rg"]),
            (p + "role_gateway_certs", "role_assignment",
             [p + "gateway_identity", "shared_key_vault"]),
            (p + "app_gateway", "application_gateway",
             [p + "vnet", p + "gateway_ip", p + "role_gateway_certs", "kv_frontend_cert"]),
            (p + "aks", "aks", [p + "vnet", p + "role_network", f"shared_logs_{r}"]),
            (p + "aks_user_pool", "node_pool", [p + "aks"]),
            (p + "role_acr_pull", "role_assignment", [p + "aks", "shared_acr"]),
            (p + "role_key_vault", "role_assignment", [p + "aks", "shared_key_vault"]),
            (p + "role_agic", "role_assignment", [p + "aks", p + "app_gateway"]),
            (p + "bastion_ip", "public_ip", [p + "rg"]),
            (p + "bastion", "bastion", [p + "vnet", p + "bastion_ip"]),
            (p + "dns_link_registry", "dns_link", [p + "vnet", "shared_dns_registry"]),
            (p + "dns_link_vault", "dns_link", [p + "vnet", "shared_dns_vault"]),
            (p + "intermediate_ca", "intermediate_ca", ["pki_root"]),
            (p + "ns_istio_system", "namespace", [p + "aks"]),
            (p + "kv_ca_cert", "kv_certificate", [p + "intermediate_ca", "shared_key_vault"]),
            (p + "kv_ca_key", "kv_secret", [p + "intermediate_ca", "shared_key_vault"]),
            (p + "ca_provider_class", "secret_provider_class",
             [p + "ns_istio_system", p + "kv_ca_cert", p + "kv_ca_key", p + "role_key_vault"]),
            (p + "istio", "istio", [p + "ca_provider_class", p + "aks_user_pool"]),
            (p + "ns_istio_ingress", "namespace", [p + "aks"]),
            (p + "ingress_certs", "manifests", [p + "ns_istio_ingress", "kv_frontend_cert"]),
            (p + "ns_echoserver", "namespace", [p + "aks"]),
            (p + "echoserver", "manifests", [p + "ns_echoserver", p + "istio"]),
            (p + "ingress", "ingress", [p + "istio", p + "ingress_certs", p + "role_agic"]),
        ]
    a, b = REGIONS
    out += [
        (f"peering_{a}_to_{b}", "peering", [f"{a}_vnet", f"{b}_vnet"]),
        (f"peering_{b}_to_{a}", "peering", [f"{a}_vnet", f"{b}_vnet"]),
        ("private_endpoint_registry", "private_endpoint",
         [f"{a}_vnet", "shared_acr", "shared_dns_registry"]),
        ("private_endpoint_vault", "private_endpoint",
         [f"{a}_vnet", "shared_key_vault", "shared_dns_vault"]),
        (f"remote_secret_{a}_in_{b}", "remote_secret", [f"{a}_istio", f"{b}_istio"]),
        (f"remote_secret_{b}_in_{a}", "remote_secret", [f"{a}_istio", f"{b}_istio"]),
    ]
    return out


def delay_ms(kind):
    return round(SECONDS[kind] * 1000 * TIME_SCALE)


def critical_path_ms():
    """The longest chain of scaled delays (the least an apply can take)."""
    finish = {}
    for name, kind, deps in nodes():  # dependencies are listed first
        finish[name] = max((finish[d] for d in deps), default=0) + delay_ms(kind)
    return max(finish.values())


def total_work_ms():
    return sum(delay_ms(kind) for _, kind, _ in nodes())


def write(directory):
    """A spec of the topology for the test provider, in a fresh `directory`."""
    if os.path.exists(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    blocks = []
    for name, kind, deps in nodes():
        depends = ", ".join(f"test_resource.{d}" for d in deps)
        blocks.append(
            f'resource "test_resource" "{name}" {{\n'
            f'  name            = "{name}"\n'
            f'  create_delay_ms = {delay_ms(kind)}\n'
            f'  depends_on      = [{depends}]\n}}\n')
    with open(os.path.join(directory, "main.hcl"), "w", encoding="utf-8") as f:
        f.write("\n".join(blocks))
