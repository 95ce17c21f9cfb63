//! Control-plane rendering: object shape, revision naming, mesh config, CA, webhooks,
//! CRDs shared between revisions, validation.

use std::collections::BTreeSet;

use serde_json::Value;

use super::*;

const CLUSTER_SCOPED: &[&str] = &[
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Seed 000: revision 1-14-1, CA from Key Vault, access log, an ingress gateway.
pub(super) fn seed_spec() -> ControlPlaneSpec {
    let mut spec = ControlPlaneSpec::new("1.14.1", "azure", "aks-cluster-one");
    spec.network = Some("network1".to_string());
    spec.access_log_file = Some("/dev/stdout".to_string());
    spec.ca = CaSource::KeyVault {
        secret_provider_class: "istio-tls".to_string(),
    };
    spec
}

pub(super) fn render(spec: &ControlPlaneSpec) -> Vec<Value> {
    render_control_plane(spec).expect("valid spec renders")
}

pub(super) fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

pub(super) fn has(objects: &[Value], kind: &str, name: &str) -> bool {
    objects
        .iter()
        .any(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

pub(super) fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
}

fn position(objects: &[Value], kind: &str) -> Vec<usize> {
    objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o["kind"] == kind)
        .map(|(i, _)| i)
        .collect()
}

fn key(object: &Value) -> String {
    format!(
        "{}/{}/{}",
        object["kind"].as_str().unwrap_or(""),
        object["metadata"]["namespace"].as_str().unwrap_or(""),
        object["metadata"]["name"].as_str().unwrap_or("")
    )
}

fn mesh_config(objects: &[Value], revision: &str) -> serde_yaml::Value {
    let map = find(objects, "ConfigMap", &format!("istio-{revision}"));
    let text = map["data"]["mesh"].as_str().expect("mesh key");
    serde_yaml::from_str(text).expect("mesh config is YAML")
}

fn full_spec() -> ControlPlaneSpec {
    let mut spec = seed_spec();
    spec.ingress_gateway = Some(GatewaySpec::default());
    spec.eastwest_gateway = Some(EastWestSpec::default());
    spec.default_revision = true;
    spec.dns_capture = true;
    spec
}

#[test]
fn every_object_has_identity_and_namespace_where_namespaced() {
    for object in render(&full_spec()) {
        let kind = object["kind"].as_str().expect("kind");
        assert!(
            object["apiVersion"].as_str().is_some_and(|v| !v.is_empty()),
            "{kind}"
        );
        assert!(
            object["metadata"]["name"]
                .as_str()
                .is_some_and(|n| !n.is_empty()),
            "{kind}"
        );
        let namespace = object["metadata"]["namespace"].as_str();
        if CLUSTER_SCOPED.contains(&kind) {
            assert!(namespace.is_none(), "{kind} is cluster-scoped");
        } else {
            assert!(
                namespace.is_some_and(|n| !n.is_empty()),
                "{kind} needs a namespace"
            );
        }
    }
}

#[test]
fn every_object_is_labelled_for_pruning() {
    for object in render(&full_spec()) {
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels[MANAGED_BY_LABEL], MANAGED_BY, "{}", key(&object));
        if object["kind"] == "CustomResourceDefinition" {
            assert!(labels.get(REVISION_LABEL).is_none(), "CRDs are shared");
        } else {
            assert_eq!(labels[REVISION_LABEL], "1-14-1", "{}", key(&object));
        }
    }
}

#[test]
fn objects_come_in_apply_order() {
    let objects = render(&full_spec());
    let crds = position(&objects, "CustomResourceDefinition");
    assert_eq!(crds, (0..crds.len()).collect::<Vec<_>>(), "CRDs first");
    let last_deployment = *position(&objects, "Deployment")
        .last()
        .expect("deployments");
    let first_config_map = position(&objects, "ConfigMap")[0];
    let first_webhook = position(&objects, "MutatingWebhookConfiguration")[0];
    assert!(first_config_map < position(&objects, "Deployment")[0]);
    assert!(last_deployment < first_webhook, "webhooks after workloads");
    assert_eq!(
        objects.last().expect("objects")["kind"],
        "Gateway",
        "Istio config last"
    );
}

#[test]
fn namespace_is_not_rendered() {
    assert!(render(&full_spec())
        .iter()
        .all(|o| o["kind"] != "Namespace"));
}

#[test]
fn revision_is_derived_from_the_version_or_given() {
    let objects = render(&seed_spec());
    for (kind, name) in [
        ("Deployment", "istiod-1-14-1"),
        ("Service", "istiod-1-14-1"),
        ("ServiceAccount", "istiod-1-14-1"),
        ("ConfigMap", "istio-1-14-1"),
        ("ConfigMap", "istio-sidecar-injector-1-14-1"),
        (
            "MutatingWebhookConfiguration",
            "istio-sidecar-injector-1-14-1",
        ),
        (
            "ValidatingWebhookConfiguration",
            "istio-validator-1-14-1-istio-system",
        ),
        ("ClusterRole", "istiod-clusterrole-1-14-1-istio-system"),
        ("Role", "istiod-1-14-1"),
    ] {
        assert!(has(&objects, kind, name), "{kind} {name}");
    }
    let mut spec = seed_spec();
    spec.revision = Some("canary".to_string());
    assert!(has(&render(&spec), "Deployment", "istiod-canary"));
}

#[test]
fn istiod_deployment_carries_cluster_revision_and_image() {
    let mut spec = seed_spec();
    spec.istiod.replicas = 2;
    spec.istiod
        .env
        .insert("PILOT_TRACE_SAMPLING".to_string(), "1.0".to_string());
    let objects = render(&spec);
    let deployment = find(&objects, "Deployment", "istiod-1-14-1");
    assert_eq!(deployment["metadata"]["labels"]["app"], "istiod");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"][REVISION_LABEL],
        "1-14-1"
    );
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "istiod-1-14-1");
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "docker.io/istio/pilot:1.14.1");
    assert_eq!(env_value(container, "CLUSTER_ID"), Some("aks-cluster-one"));
    assert_eq!(env_value(container, "REVISION"), Some("1-14-1"));
    assert_eq!(
        env_value(container, "ISTIOD_ADDR"),
        Some("istiod-1-14-1.istio-system.svc:15012")
    );
    assert_eq!(
        env_value(container, "INJECTION_WEBHOOK_CONFIG_NAME"),
        Some("istio-sidecar-injector-1-14-1")
    );
    assert_eq!(env_value(container, "PILOT_TRACE_SAMPLING"), Some("1.0"));
}

#[test]
fn hub_and_scheduling_are_applied() {
    let mut spec = seed_spec();
    spec.hub = Some("myacr.azurecr.io/istio".to_string());
    spec.istiod.scheduling.node_selector.insert(
        "kubernetes.azure.com/mode".to_string(),
        "system".to_string(),
    );
    spec.istiod.scheduling.tolerations.push(Toleration {
        key: Some("CriticalAddonsOnly".to_string()),
        operator: "Exists".to_string(),
        value: None,
        effect: Some("NoSchedule".to_string()),
    });
    let objects = render(&spec);
    let pod = &find(&objects, "Deployment", "istiod-1-14-1")["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["image"],
        "myacr.azurecr.io/istio/pilot:1.14.1"
    );
    assert_eq!(pod["nodeSelector"]["kubernetes.azure.com/mode"], "system");
    assert_eq!(pod["tolerations"][0]["key"], "CriticalAddonsOnly");
    assert!(pod["tolerations"][0].get("value").is_none());
}

#[test]
fn istiod_service_ports() {
    let objects = render(&seed_spec());
    let service = find(&objects, "Service", "istiod-1-14-1");
    let ports: Vec<(u64, u64)> = service["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            let port = p["port"].as_u64().expect("port");
            (port, p["targetPort"].as_u64().unwrap_or(port))
        })
        .collect();
    assert_eq!(
        ports,
        vec![(15010, 15010), (15012, 15012), (443, 15017), (15014, 15014)]
    );
    assert_eq!(service["spec"]["selector"][REVISION_LABEL], "1-14-1");
}

#[test]
fn mesh_config_reflects_each_option() {
    let mut spec = seed_spec();
    spec.outbound_traffic_policy = OutboundPolicy::RegistryOnly;
    spec.dns_capture = true;
    spec.trust_domain = "example.org".to_string();
    let config = mesh_config(&render(&spec), "1-14-1");
    assert_eq!(config["accessLogFile"].as_str(), Some("/dev/stdout"));
    assert_eq!(config["meshId"].as_str(), Some("azure"));
    assert_eq!(config["trustDomain"].as_str(), Some("example.org"));
    assert_eq!(
        config["outboundTrafficPolicy"]["mode"].as_str(),
        Some("REGISTRY_ONLY")
    );
    let metadata = &config["defaultConfig"]["proxyMetadata"];
    assert_eq!(metadata["ISTIO_META_DNS_CAPTURE"].as_str(), Some("true"));
    assert_eq!(
        metadata["ISTIO_META_DNS_AUTO_ALLOCATE"].as_str(),
        Some("true")
    );
    assert_eq!(
        config["defaultConfig"]["discoveryAddress"].as_str(),
        Some("istiod-1-14-1.istio-system.svc:15012")
    );
}

#[test]
fn mesh_config_defaults() {
    let config = mesh_config(
        &render(&ControlPlaneSpec::new("1.22.3", "mesh1", "cluster1")),
        "1-22-3",
    );
    assert!(config.get("accessLogFile").is_none());
    assert_eq!(
        config["outboundTrafficPolicy"]["mode"].as_str(),
        Some("ALLOW_ANY")
    );
    assert_eq!(config["trustDomain"].as_str(), Some("cluster.local"));
    assert!(config["defaultConfig"].get("proxyMetadata").is_none());
}

fn istiod_pod(spec: &ControlPlaneSpec) -> Value {
    let objects = render(spec);
    let revision = spec.effective_revision();
    find(&objects, "Deployment", &format!("istiod-{revision}"))["spec"]["template"]["spec"].clone()
}

fn cacerts(pod: &Value) -> (Option<Value>, Option<Value>) {
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == "cacerts")
        .cloned();
    let mount = pod["containers"][0]["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["name"] == "cacerts")
        .cloned();
    (volume, mount)
}

#[test]
fn ca_volume_follows_the_ca_source() {
    let mut spec = seed_spec();
    spec.ca = CaSource::SelfSigned;
    assert_eq!(cacerts(&istiod_pod(&spec)), (None, None));

    spec.ca = CaSource::CacertsSecret;
    let (volume, mount) = cacerts(&istiod_pod(&spec));
    let volume = volume.expect("cacerts volume");
    assert_eq!(volume["secret"]["secretName"], "cacerts");
    assert_eq!(volume["secret"]["optional"], false);
    assert_eq!(mount.expect("mount")["mountPath"], "/etc/cacerts");

    spec.ca = CaSource::KeyVault {
        secret_provider_class: "istio-tls".to_string(),
    };
    let pod = istiod_pod(&spec);
    let (volume, mount) = cacerts(&pod);
    let volume = volume.expect("cacerts volume");
    assert_eq!(volume["csi"]["driver"], "secrets-store.csi.k8s.io");
    assert_eq!(volume["csi"]["readOnly"], true);
    assert_eq!(
        volume["csi"]["volumeAttributes"]["secretProviderClass"],
        "istio-tls"
    );
    let mount = mount.expect("mount");
    assert_eq!(mount["mountPath"], "/etc/cacerts");
    assert_eq!(mount["readOnly"], true);
    assert_eq!(
        env_value(&pod["containers"][0], "AUTO_RELOAD_PLUGIN_CERTS"),
        Some("true")
    );
}

fn selector_values(webhook: &Value, selector: &str, key: &str) -> Option<(String, Vec<String>)> {
    let expressions = webhook[selector]["matchExpressions"].as_array()?;
    let expression = expressions.iter().find(|e| e["key"] == key)?;
    let values = expression["values"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Some((expression["operator"].as_str()?.to_string(), values))
}

#[test]
fn injection_webhook_selects_the_revision_label() {
    let objects = render(&seed_spec());
    let config = find(
        &objects,
        "MutatingWebhookConfiguration",
        "istio-sidecar-injector-1-14-1",
    );
    let webhooks = config["webhooks"].as_array().expect("webhooks");
    assert_eq!(
        webhooks.len(),
        2,
        "no istio-injection webhooks unless default"
    );
    let namespace = &webhooks[0];
    assert_eq!(
        selector_values(namespace, "namespaceSelector", REVISION_LABEL),
        Some(("In".to_string(), vec!["1-14-1".to_string()]))
    );
    assert_eq!(
        namespace["clientConfig"]["service"]["name"],
        "istiod-1-14-1"
    );
    assert_eq!(namespace["clientConfig"]["service"]["path"], "/inject");
    assert!(
        namespace["clientConfig"].get("caBundle").is_none(),
        "istiod owns caBundle"
    );
    assert!(!has(&objects, "Service", "istiod"));
    assert!(!has(
        &objects,
        "ValidatingWebhookConfiguration",
        "istiod-default-validator"
    ));
}

#[test]
fn default_revision_also_serves_istio_injection_enabled() {
    let mut spec = seed_spec();
    spec.default_revision = true;
    let objects = render(&spec);
    let config = find(
        &objects,
        "MutatingWebhookConfiguration",
        "istio-sidecar-injector-1-14-1",
    );
    let enabled = config["webhooks"]
        .as_array()
        .expect("webhooks")
        .iter()
        .find(|w| w["name"] == "namespace.sidecar-injector.istio.io")
        .expect("istio-injection webhook");
    assert_eq!(
        selector_values(enabled, "namespaceSelector", "istio-injection"),
        Some(("In".to_string(), vec!["enabled".to_string()]))
    );
    assert_eq!(
        find(&objects, "Service", "istiod")["spec"]["selector"][REVISION_LABEL],
        "1-14-1"
    );
    assert!(has(
        &objects,
        "ValidatingWebhookConfiguration",
        "istiod-default-validator"
    ));
}

#[test]
fn validating_webhook_fails_open_for_this_revision() {
    let objects = render(&seed_spec());
    let config = find(
        &objects,
        "ValidatingWebhookConfiguration",
        "istio-validator-1-14-1-istio-system",
    );
    let webhook = &config["webhooks"][0];
    assert_eq!(webhook["failurePolicy"], "Ignore");
    assert_eq!(webhook["clientConfig"]["service"]["path"], "/validate");
    assert_eq!(
        selector_values(webhook, "objectSelector", REVISION_LABEL),
        Some(("In".to_string(), vec!["1-14-1".to_string()]))
    );
}

#[test]
fn crds_serve_every_version_and_preserve_unknown_fields() {
    let objects = render(&seed_spec());
    let crds: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .collect();
    assert_eq!(crds.len(), 14);
    let served = |name: &str| -> Vec<String> {
        find(&objects, "CustomResourceDefinition", name)["spec"]["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| v["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(
        served("virtualservices.networking.istio.io"),
        ["v1alpha3", "v1beta1", "v1"]
    );
    assert_eq!(served("envoyfilters.networking.istio.io"), ["v1alpha3"]);
    assert_eq!(served("proxyconfigs.networking.istio.io"), ["v1beta1"]);
    assert_eq!(
        served("authorizationpolicies.security.istio.io"),
        ["v1beta1", "v1"]
    );
    assert_eq!(served("telemetries.telemetry.istio.io"), ["v1alpha1", "v1"]);
    assert_eq!(served("wasmplugins.extensions.istio.io"), ["v1alpha1"]);
    for crd in crds {
        let versions = crd["spec"]["versions"].as_array().expect("versions");
        assert_eq!(versions.iter().filter(|v| v["storage"] == true).count(), 1);
        for version in versions {
            let schema = &version["schema"]["openAPIV3Schema"];
            assert_eq!(schema["type"], "object");
            assert_eq!(
                schema["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"],
                true
            );
            assert_eq!(version["served"], true);
        }
    }
}

fn crds_of(objects: &[Value]) -> Vec<Value> {
    objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .cloned()
        .collect()
}

#[test]
fn two_revisions_share_only_identical_crds() {
    let old = render(&seed_spec());
    let mut spec = full_spec();
    spec.version = "1.24.2".to_string();
    spec.default_revision = false;
    spec.ca = CaSource::CacertsSecret;
    // Gateways keep their names across revisions; a revision beside another has none.
    spec.ingress_gateway = None;
    spec.eastwest_gateway = None;
    let new = render(&spec);
    assert_eq!(
        crds_of(&old),
        crds_of(&new),
        "CRDs identical whatever the spec"
    );
    let keys = |objects: &[Value]| -> BTreeSet<String> {
        objects
            .iter()
            .filter(|o| o["kind"] != "CustomResourceDefinition")
            .map(key)
            .collect()
    };
    let shared: Vec<String> = keys(&old).intersection(&keys(&new)).cloned().collect();
    assert!(
        shared.is_empty(),
        "names shared by two revisions: {shared:?}"
    );
}

#[test]
fn injector_config_is_yaml_with_a_filled_sidecar_template() {
    let objects = render(&seed_spec());
    let map = find(&objects, "ConfigMap", "istio-sidecar-injector-1-14-1");
    let config: serde_yaml::Value =
        serde_yaml::from_str(map["data"]["config"].as_str().expect("config")).expect("YAML");
    assert_eq!(config["policy"].as_str(), Some("enabled"));
    let template = config["templates"]["sidecar"]
        .as_str()
        .expect("sidecar template");
    assert!(template.contains("image: \"docker.io/istio/proxyv2:1.14.1\""));
    assert!(template.contains("value: \"istiod-1-14-1.istio-system.svc:15012\""));
    assert!(template.contains("value: \"aks-cluster-one\""));
    assert!(template.contains("name: ISTIO_META_NETWORK\n      value: \"network1\""));
    assert!(!template.contains('@'), "every placeholder is filled");
    let values: Value =
        serde_json::from_str(map["data"]["values"].as_str().expect("values")).expect("JSON");
    assert_eq!(values["global"]["meshID"], "azure");
    assert_eq!(values["global"]["network"], "network1");
    assert_eq!(values["revision"], "1-14-1");
}

#[test]
fn sidecar_template_actions_are_balanced() {
    let objects = render(&seed_spec());
    let map = find(&objects, "ConfigMap", "istio-sidecar-injector-1-14-1");
    let config: serde_yaml::Value =
        serde_yaml::from_str(map["data"]["config"].as_str().expect("config")).expect("YAML");
    let template = config["templates"]["sidecar"].as_str().expect("template");
    assert_eq!(
        template.matches("{{").count(),
        template.matches("}}").count()
    );
    let actions: Vec<&str> = template
        .split("{{")
        .skip(1)
        .filter_map(|rest| rest.split("}}").next())
        .map(|action| action.trim_start_matches('-').trim())
        .collect();
    let opened = actions
        .iter()
        .filter(|a| a.starts_with("if ") || a.starts_with("range "))
        .count();
    let closed = actions.iter().filter(|a| **a == "end").count();
    assert_eq!(opened, closed);
    // Placeholders removed, the template itself (after substitution) is not YAML until
    // istiod renders it, but its static lines must be: drop the action lines and parse.
    let static_lines: String = template
        .lines()
        .filter(|line| !line.trim_start().starts_with("{{"))
        .map(|line| {
            let cut = line.find("{{").map_or(line, |at| &line[..at]);
            format!(
                "{}{}\n",
                cut,
                if cut.ends_with(": ") || cut.ends_with("- ") {
                    "x"
                } else {
                    ""
                }
            )
        })
        .collect();
    serde_yaml::from_str::<serde_yaml::Value>(&static_lines).expect("template skeleton is YAML");
}

#[test]
fn validate_reports_every_problem() {
    let mut spec = seed_spec();
    spec.version = "1.10.3".to_string();
    spec.revision = Some("1.14.1".to_string());
    spec.cluster_name = "Cluster_One".to_string();
    spec.access_log_file = Some("stdout".to_string());
    spec.istiod.replicas = 0;
    spec.istiod
        .env
        .insert("CLUSTER_ID".to_string(), "x".to_string());
    spec.network = None;
    spec.eastwest_gateway = Some(EastWestSpec::default());
    let problems = validate(&spec).expect_err("invalid");
    let all = problems.join("\n");
    for needle in [
        "1.10.3",
        "revision \"1.14.1\"",
        "cluster_name",
        "access_log_file",
        "replicas",
        "CLUSTER_ID",
        "needs network",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    assert!(
        matches!(render_control_plane(&spec), Err(IstioError::InvalidSpec(p)) if p == problems)
    );
}

#[test]
fn validate_rejects_reserved_and_long_revisions() {
    let mut spec = seed_spec();
    spec.revision = Some("default".to_string());
    assert!(validate(&spec).is_err());
    spec.revision = Some("a".repeat(57));
    assert!(validate(&spec).is_err());
    spec.revision = Some("a".repeat(56));
    assert!(validate(&spec).is_ok());
    spec.hub = Some("docker.io/istio\"x".to_string());
    assert!(validate(&spec).is_err());
}

#[test]
fn seed_spec_and_every_supported_version_validate() {
    for version in supported_versions() {
        let mut spec = full_spec();
        spec.version = version.to_string();
        assert_eq!(validate(&spec), Ok(()), "{version}");
        assert!(render_control_plane(&spec).is_ok());
    }
}

#[test]
fn istiod_managed_fields_are_not_rendered() {
    let objects = render(&full_spec());
    for object in objects.iter().filter(|o| {
        o["kind"]
            .as_str()
            .is_some_and(|k| k.ends_with("WebhookConfiguration"))
    }) {
        for webhook in object["webhooks"].as_array().expect("webhooks") {
            assert!(webhook["clientConfig"].get("caBundle").is_none());
        }
    }
    assert_eq!(fields_written_by_istiod().len(), 3);
}

#[test]
fn shared_and_taken_over_objects_are_not_deleted() {
    let objects = render(&full_spec());
    let crd = find(
        &objects,
        "CustomResourceDefinition",
        "gateways.networking.istio.io",
    );
    assert!(
        !may_delete(crd, crd),
        "CRDs are never deleted with a revision"
    );
    let gateway = find(&objects, "Deployment", "istio-ingressgateway");
    assert!(may_delete(gateway, gateway));
    let mut taken_over = gateway.clone();
    taken_over["metadata"]["labels"][REVISION_LABEL] = Value::from("1-24-2");
    assert!(!may_delete(gateway, &taken_over));
}

/// Paths of empty lists and maps, which the API server drops and would read back as drift;
/// `emptyDir: {}` and a CRD's `status: {}` subresource are kept by the server.
fn empty_values(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Array(items) if items.is_empty() => found.push(path.to_string()),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                empty_values(item, &format!("{path}/{index}"), found);
            }
        }
        Value::Object(map) => {
            let meaningful = path.ends_with("/emptyDir") || path.ends_with("/subresources/status");
            if map.is_empty() && !meaningful {
                found.push(path.to_string());
            }
            for (key, child) in map {
                empty_values(child, &format!("{path}/{key}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn no_empty_fields_that_would_read_back_as_drift() {
    let mut objects = render(&full_spec());
    let names = ReaderNames::for_remote("cluster2", "aks:/subscriptions/s/cluster2", "cluster1");
    objects.extend(render_remote_reader(&names, "1-14-1"));
    for object in &objects {
        let mut found = Vec::new();
        empty_values(object, "", &mut found);
        assert!(found.is_empty(), "{}: {found:?}", key(object));
    }
}
