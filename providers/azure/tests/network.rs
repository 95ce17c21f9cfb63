//! The network resource types against the local cloud: create, read, in-place update,
//! replacement detection, delete, and ARM's conflict errors surfaced with their codes.

use std::collections::BTreeMap;
use std::sync::Arc;

use mesh_emulator::model::{ArmErrorBody, ArmId, StoredResource};
use mesh_emulator::types::{CloudView, ResourceBehavior};
use mesh_emulator::{LocalCloud, LocalCloudOptions};
use mesh_engine::provider::{
    ApplyRequest, BlockSchema, Nesting, PlanRequest, PlannedChange, Provider, ProviderError,
    ProviderSchema, ReadRequest,
};
use mesh_engine::value::{PathStep, Value};
use mesh_provider_azure::arm::{ArmClient, ArmConfig, StaticToken};
use mesh_provider_azure::AzureProvider;
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

const RG: &str = "rg-net";
const ACR_TYPE: &str = "Microsoft.ContainerRegistry/registries";

/// A stand-in registry, so a private endpoint has something to connect to.
struct Registry;

impl ResourceBehavior for Registry {
    fn arm_type(&self) -> &'static str {
        ACR_TYPE
    }

    fn accept_put(
        &self,
        _cloud: &dyn CloudView,
        _id: &ArmId,
        _existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        Ok(json!({"location": body["location"], "sku": {"name": "Premium"}, "properties": {}}))
    }
}

struct Net {
    cloud: LocalCloud,
    provider: AzureProvider,
    schema: ProviderSchema,
    arm: ArmClient,
}

fn s(v: &str) -> Value {
    Value::string(v)
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|i| s(i)).collect())
}

fn tags(env: &str) -> Value {
    Value::Map(BTreeMap::from([("env".to_string(), s(env))]))
}

fn key(k: &str) -> Vec<PathStep> {
    vec![PathStep::Key(k.to_string())]
}

/// A value as the engine evaluates a block: every attribute present (default or null),
/// nested blocks empty, then the given attributes.
fn fill(block: &BlockSchema, set: Vec<(&str, Value)>) -> Value {
    let mut m = BTreeMap::new();
    for (name, attr) in &block.attributes {
        m.insert(name.clone(), attr.default.clone().unwrap_or(Value::Null));
    }
    for (name, nested) in &block.blocks {
        let empty = match nested.nesting {
            Nesting::List => Value::List(vec![]),
            Nesting::Single => Value::Null,
        };
        m.insert(name.clone(), empty);
    }
    for (k, v) in set {
        assert!(m.contains_key(k), "no attribute {k}");
        m.insert(k.to_string(), v);
    }
    Value::Map(m)
}

fn sub() -> &'static str {
    LocalCloud::SUBSCRIPTION_ID
}

fn vnet_id(name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/{name}",
        sub()
    )
}

fn subnet_id(vnet: &str, name: &str) -> String {
    format!("{}/subnets/{name}", vnet_id(vnet))
}

impl Net {
    async fn start() -> Net {
        let options = LocalCloudOptions {
            time_factor: 0.001,
            ..LocalCloudOptions::default()
        };
        let cloud = LocalCloud::start_with_types(options, 0, vec![Arc::new(Registry)])
            .await
            .expect("local cloud");
        let provider = AzureProvider::new();
        let config = Value::Map(BTreeMap::from([
            ("endpoint".to_string(), s(&cloud.url())),
            ("subscription_id".to_string(), s(sub())),
            ("auth".to_string(), s("none")),
        ]));
        provider.configure(config).await.expect("configure");
        let arm = ArmClient::new(ArmConfig {
            endpoint: cloud.url(),
            subscription_id: sub().to_string(),
            scope: "https://management.azure.com/.default".into(),
            credential: Arc::new(StaticToken("local".into())),
        })
        .expect("client");
        let schema = provider.schema();
        let net = Net {
            cloud,
            provider,
            schema,
            arm,
        };
        let rg = net.config(
            "azure_resource_group",
            vec![("name", s(RG)), ("location", s("westeurope"))],
        );
        net.create("azure_resource_group", &rg)
            .await
            .expect("resource group");
        net
    }

    fn config(&self, ty: &str, set: Vec<(&str, Value)>) -> Value {
        fill(&self.schema.resources[ty].block, set)
    }

    fn block(&self, ty: &str, block: &str, set: Vec<(&str, Value)>) -> Value {
        fill(&self.schema.resources[ty].block.blocks[block].block, set)
    }

    async fn plan(&self, ty: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        self.provider
            .plan(PlanRequest {
                resource_type: ty.into(),
                address: format!("{ty}.test"),
                prior: prior.cloned(),
                config: config.clone(),
            })
            .await
            .expect("plan")
    }

    fn apply(&self, ty: &str, prior: Option<&Value>, planned: Value) -> ApplyRequest {
        ApplyRequest {
            resource_type: ty.into(),
            address: format!("{ty}.test"),
            prior: prior.cloned(),
            planned,
            cancel: CancellationToken::new(),
        }
    }

    async fn create(&self, ty: &str, config: &Value) -> Result<Value, ProviderError> {
        assert!(
            self.provider.validate(ty, config).is_empty(),
            "{ty} invalid"
        );
        let planned = self.plan(ty, None, config).await.planned;
        self.provider.create(self.apply(ty, None, planned)).await
    }

    async fn read(&self, ty: &str, state: &Value) -> Option<Value> {
        let request = ReadRequest {
            resource_type: ty.into(),
            address: format!("{ty}.test"),
            current: state.clone(),
        };
        self.provider.read(request).await.expect("read")
    }

    async fn update(
        &self,
        ty: &str,
        prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        let planned = self.plan(ty, Some(prior), config).await;
        assert!(planned.requires_replace.is_empty(), "{ty}: {planned:?}");
        self.provider
            .update(self.apply(ty, Some(prior), planned.planned))
            .await
    }

    async fn delete(&self, ty: &str, state: &Value) -> Result<(), ProviderError> {
        self.provider
            .delete(self.apply(ty, Some(state), Value::Null))
            .await
    }

    /// After apply, a refresh reads the same state and a plan of the same configuration
    /// changes nothing.
    async fn assert_no_op(&self, ty: &str, state: &Value, config: &Value) {
        let read = self.read(ty, state).await.expect("exists");
        assert_eq!(&read, state, "{ty}: refresh differs from the applied state");
        let plan = self.plan(ty, Some(&read), config).await;
        assert!(plan.requires_replace.is_empty(), "{ty}: {plan:?}");
        assert_eq!(plan.planned, read, "{ty}: a plan after apply is not empty");
    }

    fn vnet(&self, name: &str, space: &str, set: Vec<(&str, Value)>) -> Value {
        let mut all = vec![
            ("name", s(name)),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
            ("address_space", list(&[space])),
        ];
        all.extend(set);
        self.config("azure_virtual_network", all)
    }

    fn subnet(&self, vnet: &str, name: &str, prefix: &str) -> Value {
        self.config(
            "azure_subnet",
            vec![
                ("name", s(name)),
                ("resource_group_name", s(RG)),
                ("virtual_network_name", s(vnet)),
                ("address_prefixes", list(&[prefix])),
            ],
        )
    }

    async fn raw(&self, id: &str) -> Option<Json> {
        self.arm
            .get(id, "2024-05-01", &CancellationToken::new())
            .await
            .expect("get")
    }
}

fn error_of(result: Result<impl std::fmt::Debug, ProviderError>) -> String {
    result.expect_err("ARM refuses this").message
}

#[tokio::test]
async fn virtual_network_and_subnets_lifecycle() {
    let net = Net::start().await;
    let config = net.vnet("vnet-one", "10.0.0.0/8", vec![("tags", tags("dev"))]);
    let vnet = net
        .create("azure_virtual_network", &config)
        .await
        .expect("vnet");
    assert_eq!(vnet.get("id"), Some(&s(&vnet_id("vnet-one"))));
    assert!(matches!(vnet.get("guid"), Some(Value::String(g)) if !g.is_empty()));
    net.assert_no_op("azure_virtual_network", &vnet, &config)
        .await;

    let seed = [
        ("System", "10.240.0.0/16"),
        ("User", "10.241.0.0/16"),
        ("AppGateway", "10.242.0.0/24"),
        ("PrivateEndpoints", "10.243.1.0/24"),
        ("AzureBastionSubnet", "10.243.2.0/24"),
    ];
    let mut subnets = Vec::new();
    for (name, prefix) in seed {
        let mut config = net.subnet("vnet-one", name, prefix);
        if name == "User" {
            config.set_or_insert("service_endpoints", list(&["Microsoft.KeyVault"]));
            let delegation = net.block(
                "azure_subnet",
                "delegation",
                vec![
                    ("name", s("aci")),
                    (
                        "service_name",
                        s("Microsoft.ContainerInstance/containerGroups"),
                    ),
                ],
            );
            config.set_or_insert("delegation", Value::List(vec![delegation]));
        }
        let state = net.create("azure_subnet", &config).await.expect(name);
        net.assert_no_op("azure_subnet", &state, &config).await;
        subnets.push((config, state));
    }

    // In-place update of the network's tags keeps the subnets created as azure_subnet.
    let retagged = net.vnet("vnet-one", "10.0.0.0/8", vec![("tags", tags("prod"))]);
    let plan = net
        .plan("azure_virtual_network", Some(&vnet), &retagged)
        .await;
    assert!(plan.requires_replace.is_empty());
    assert_ne!(plan.planned, vnet, "a tag change is a change");
    let vnet = net
        .update("azure_virtual_network", &vnet, &retagged)
        .await
        .expect("update");
    assert_eq!(vnet.get("tags"), Some(&tags("prod")));
    net.assert_no_op("azure_virtual_network", &vnet, &retagged)
        .await;
    let live = net.raw(&vnet_id("vnet-one")).await.expect("vnet");
    let names: Vec<&str> = live["properties"]["subnets"]
        .as_array()
        .expect("subnets")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    for (config, state) in &subnets {
        net.assert_no_op("azure_subnet", state, config).await;
    }

    // Force-new attributes plan a replacement; in-place ones do not.
    let moved = net.vnet(
        "vnet-one",
        "10.0.0.0/8",
        vec![("tags", tags("prod")), ("location", s("northeurope"))],
    );
    let plan = net.plan("azure_virtual_network", Some(&vnet), &moved).await;
    assert_eq!(plan.requires_replace, vec![key("location")]);
    let (config, state) = &subnets[0];
    let mut other_vnet = config.clone();
    other_vnet.set_or_insert("virtual_network_name", s("vnet-two"));
    let plan = net.plan("azure_subnet", Some(state), &other_vnet).await;
    assert_eq!(plan.requires_replace, vec![key("virtual_network_name")]);
    let mut wider = config.clone();
    wider.set_or_insert("address_prefixes", list(&["10.240.0.0/15"]));
    assert!(net
        .plan("azure_subnet", Some(state), &wider)
        .await
        .requires_replace
        .is_empty());

    // Drift made outside mesh shows on refresh.
    let mut body = net
        .raw(&subnet_id("vnet-one", "AppGateway"))
        .await
        .expect("subnet");
    body["properties"]["serviceEndpoints"] = json!([{"service": "Microsoft.Storage"}]);
    net.arm
        .put(
            &subnet_id("vnet-one", "AppGateway"),
            "2024-05-01",
            &body,
            &CancellationToken::new(),
        )
        .await
        .expect("put outside mesh");
    let drifted = net
        .read("azure_subnet", &subnets[2].1)
        .await
        .expect("subnet");
    assert_eq!(
        drifted.get("service_endpoints"),
        Some(&list(&["Microsoft.Storage"]))
    );

    for (_, state) in &subnets {
        net.delete("azure_subnet", state)
            .await
            .expect("delete subnet");
        assert!(net.read("azure_subnet", state).await.is_none());
    }
    net.delete("azure_virtual_network", &vnet)
        .await
        .expect("delete vnet");
    assert!(net.read("azure_virtual_network", &vnet).await.is_none());
    net.delete("azure_virtual_network", &vnet)
        .await
        .expect("deleting twice is fine");
    let rg = net.config(
        "azure_resource_group",
        vec![("name", s(RG)), ("location", s("westeurope"))],
    );
    let rg_state = net.read("azure_resource_group", &rg).await.expect("rg");
    net.delete("azure_resource_group", &rg_state)
        .await
        .expect("delete rg");
    assert!(
        net.cloud.resource_ids().is_empty(),
        "{:?}",
        net.cloud.resource_ids()
    );
    net.cloud.shutdown().await;
}

#[tokio::test]
async fn inline_subnets_are_the_networks_list() {
    let net = Net::start().await;
    let subnet = |name: &str, prefix: &str| {
        net.block(
            "azure_virtual_network",
            "subnet",
            vec![("name", s(name)), ("address_prefixes", list(&[prefix]))],
        )
    };
    let config = net.vnet(
        "vnet-inline",
        "10.1.0.0/16",
        vec![(
            "subnet",
            Value::List(vec![
                subnet("System", "10.1.0.0/24"),
                subnet("User", "10.1.1.0/24"),
            ]),
        )],
    );
    let vnet = net
        .create("azure_virtual_network", &config)
        .await
        .expect("vnet");
    net.assert_no_op("azure_virtual_network", &vnet, &config)
        .await;
    let overlapping = net.vnet(
        "vnet-inline",
        "10.1.0.0/16",
        vec![(
            "subnet",
            Value::List(vec![
                subnet("System", "10.1.0.0/23"),
                subnet("User", "10.1.1.0/24"),
            ]),
        )],
    );
    let message = error_of(
        net.update("azure_virtual_network", &vnet, &overlapping)
            .await,
    );
    assert!(
        message.starts_with("NetcfgSubnetRangesOverlap"),
        "{message}"
    );
    net.cloud.shutdown().await;
}

#[tokio::test]
async fn conflicts_surface_arm_codes() {
    let net = Net::start().await;
    let vnet = net
        .create(
            "azure_virtual_network",
            &net.vnet("vnet-one", "10.0.0.0/16", vec![]),
        )
        .await
        .expect("vnet");
    let message = error_of(
        net.create(
            "azure_subnet",
            &net.subnet("vnet-one", "Outside", "10.9.0.0/24"),
        )
        .await,
    );
    assert!(
        message.starts_with("NetcfgSubnetRangeOutsideVnet"),
        "{message}"
    );
    let pe_subnet = net
        .create(
            "azure_subnet",
            &net.subnet("vnet-one", "PrivateEndpoints", "10.0.1.0/24"),
        )
        .await
        .expect("subnet");
    let message = error_of(
        net.create(
            "azure_subnet",
            &net.subnet("vnet-one", "Overlap", "10.0.0.0/23"),
        )
        .await,
    );
    assert!(
        message.starts_with("NetcfgSubnetRangesOverlap"),
        "{message}"
    );
    let message = error_of(
        net.create(
            "azure_subnet",
            &net.subnet("vnet-missing", "S", "10.0.0.0/24"),
        )
        .await,
    );
    assert!(message.starts_with("ParentResourceNotFound"), "{message}");

    // Peering networks whose address spaces overlap.
    net.create(
        "azure_virtual_network",
        &net.vnet("vnet-clash", "10.0.128.0/17", vec![]),
    )
    .await
    .expect("vnet");
    let peering = net.config(
        "azure_virtual_network_peering",
        vec![
            ("name", s("one-to-clash")),
            ("resource_group_name", s(RG)),
            ("virtual_network_name", s("vnet-one")),
            ("remote_virtual_network_id", s(&vnet_id("vnet-clash"))),
        ],
    );
    let message = error_of(net.create("azure_virtual_network_peering", &peering).await);
    assert!(message.starts_with("VnetAddressSpacesOverlap"), "{message}");

    // A subnet (and its network) in use by a private endpoint cannot be deleted.
    let registry = format!(
        "/subscriptions/{}/resourceGroups/{RG}/providers/{ACR_TYPE}/meshacr",
        sub()
    );
    let cancel = CancellationToken::new();
    net.arm
        .put(
            &registry,
            "2025-04-01",
            &json!({"location": "westeurope"}),
            &cancel,
        )
        .await
        .expect("registry");
    let connection = net.block(
        "azure_private_endpoint",
        "private_service_connection",
        vec![
            ("name", s("acr")),
            ("private_connection_resource_id", s(&registry)),
            ("subresource_names", list(&["registry"])),
        ],
    );
    let endpoint = net.config(
        "azure_private_endpoint",
        vec![
            ("name", s("acr-pe")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
            ("subnet_id", s(&subnet_id("vnet-one", "PrivateEndpoints"))),
            ("private_service_connection", connection),
        ],
    );
    let endpoint = net
        .create("azure_private_endpoint", &endpoint)
        .await
        .expect("endpoint");
    let message = error_of(net.delete("azure_subnet", &pe_subnet).await);
    assert!(
        message.starts_with("InUseSubnetCannotBeDeleted"),
        "{message}"
    );
    let message = error_of(net.delete("azure_virtual_network", &vnet).await);
    assert!(
        message.starts_with("InUseSubnetCannotBeDeleted"),
        "{message}"
    );
    net.delete("azure_private_endpoint", &endpoint)
        .await
        .expect("delete endpoint");
    net.delete("azure_virtual_network", &vnet)
        .await
        .expect("free now");
    net.cloud.shutdown().await;
}

#[tokio::test]
async fn peering_in_both_directions() {
    let net = Net::start().await;
    net.create(
        "azure_virtual_network",
        &net.vnet("vnet-one", "10.0.0.0/16", vec![]),
    )
    .await
    .expect("one");
    net.create(
        "azure_virtual_network",
        &net.vnet("vnet-two", "10.1.0.0/16", vec![]),
    )
    .await
    .expect("two");
    let peering = |name: &str, from: &str, to: &str| {
        net.config(
            "azure_virtual_network_peering",
            vec![
                ("name", s(name)),
                ("resource_group_name", s(RG)),
                ("virtual_network_name", s(from)),
                ("remote_virtual_network_id", s(&vnet_id(to))),
                ("allow_forwarded_traffic", Value::Bool(true)),
            ],
        )
    };
    let one = peering("one-to-two", "vnet-one", "vnet-two");
    let first = net
        .create("azure_virtual_network_peering", &one)
        .await
        .expect("one-to-two");
    assert_eq!(first.get("peering_state"), Some(&s("Initiated")));
    let two = peering("two-to-one", "vnet-two", "vnet-one");
    let second = net
        .create("azure_virtual_network_peering", &two)
        .await
        .expect("two-to-one");
    assert_eq!(second.get("peering_state"), Some(&s("Connected")));
    net.assert_no_op("azure_virtual_network_peering", &second, &two)
        .await;

    let mut no_forwarding = one.clone();
    no_forwarding.set_or_insert("allow_forwarded_traffic", Value::Bool(false));
    let updated = net
        .update("azure_virtual_network_peering", &first, &no_forwarding)
        .await
        .expect("update");
    assert_eq!(
        updated.get("allow_forwarded_traffic"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        updated.get("peering_state"),
        Some(&s("Connected")),
        "the remote side peers back now"
    );
    net.assert_no_op("azure_virtual_network_peering", &updated, &no_forwarding)
        .await;

    let elsewhere = peering("one-to-two", "vnet-one", "vnet-three");
    let plan = net
        .plan("azure_virtual_network_peering", Some(&updated), &elsewhere)
        .await;
    assert_eq!(
        plan.requires_replace,
        vec![key("remote_virtual_network_id")]
    );
    let mut gateways = one.clone();
    gateways.set_or_insert("use_remote_gateways", Value::Bool(true));
    let message = error_of(
        net.update("azure_virtual_network_peering", &updated, &gateways)
            .await,
    );
    assert!(message.starts_with("RemoteVnetHasNoGateways"), "{message}");
    net.delete("azure_virtual_network_peering", &updated)
        .await
        .expect("delete");
    net.delete("azure_virtual_network_peering", &second)
        .await
        .expect("delete");
    net.cloud.shutdown().await;
}

#[tokio::test]
async fn public_ip_and_bastion() {
    let net = Net::start().await;
    net.create(
        "azure_virtual_network",
        &net.vnet("vnet-one", "10.0.0.0/16", vec![]),
    )
    .await
    .expect("vnet");
    net.create(
        "azure_subnet",
        &net.subnet("vnet-one", "AzureBastionSubnet", "10.0.2.0/26"),
    )
    .await
    .expect("subnet");
    net.create(
        "azure_subnet",
        &net.subnet("vnet-one", "User", "10.0.3.0/24"),
    )
    .await
    .expect("subnet");
    let pip_config = net.config(
        "azure_public_ip",
        vec![
            ("name", s("bastion-pip")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
            ("allocation_method", s("Static")),
            ("domain_name_label", s("mesh-bastion")),
        ],
    );
    let pip = net
        .create("azure_public_ip", &pip_config)
        .await
        .expect("pip");
    let ip = pip
        .get("ip_address")
        .and_then(Value::as_str)
        .expect("ip")
        .to_string();
    assert!(
        ip.starts_with("203.0.113.") || ip.starts_with("198.51.100."),
        "{ip}"
    );
    assert_eq!(
        pip.get("fqdn"),
        Some(&s("mesh-bastion.westeurope.cloudapp.azure.com"))
    );
    net.assert_no_op("azure_public_ip", &pip, &pip_config).await;
    let mut basic = pip_config.clone();
    basic.set_or_insert("sku", s("Basic"));
    assert_eq!(
        net.plan("azure_public_ip", Some(&pip), &basic)
            .await
            .requires_replace,
        vec![key("sku")]
    );

    let bastion = |subnet: &str| {
        let ip_configuration = net.block(
            "azure_bastion_host",
            "ip_configuration",
            vec![
                ("name", s("configuration")),
                ("subnet_id", s(&subnet_id("vnet-one", subnet))),
                ("public_ip_address_id", pip.get("id").cloned().expect("id")),
            ],
        );
        net.config(
            "azure_bastion_host",
            vec![
                ("name", s("bastion")),
                ("resource_group_name", s(RG)),
                ("location", s("westeurope")),
                ("ip_configuration", ip_configuration),
            ],
        )
    };
    // The provider refuses a misnamed subnet at plan time; ARM refuses it too.
    let wrong = bastion("User");
    assert_eq!(net.provider.validate("azure_bastion_host", &wrong).len(), 1);
    let planned = net.plan("azure_bastion_host", None, &wrong).await.planned;
    let message = error_of(
        net.provider
            .create(net.apply("azure_bastion_host", None, planned))
            .await,
    );
    assert!(
        message.starts_with("SubnetNameMustBeAzureBastionSubnet"),
        "{message}"
    );

    let config = bastion("AzureBastionSubnet");
    let host = net
        .create("azure_bastion_host", &config)
        .await
        .expect("bastion");
    assert!(host
        .get("dns_name")
        .and_then(Value::as_str)
        .is_some_and(|d| d.ends_with(".bastion.azure.com")));
    net.assert_no_op("azure_bastion_host", &host, &config).await;
    let mut tagged = config.clone();
    tagged.set_or_insert("tags", tags("dev"));
    let host = net
        .update("azure_bastion_host", &host, &tagged)
        .await
        .expect("tags");
    net.assert_no_op("azure_bastion_host", &host, &tagged).await;
    let mut other_subnet = tagged.clone();
    let mut ip_configuration = tagged.get("ip_configuration").cloned().expect("block");
    ip_configuration.set_or_insert("subnet_id", s(&subnet_id("vnet-two", "AzureBastionSubnet")));
    other_subnet.set_or_insert("ip_configuration", ip_configuration);
    let plan = net
        .plan("azure_bastion_host", Some(&host), &other_subnet)
        .await;
    assert_eq!(plan.requires_replace, vec![key("ip_configuration")]);

    let message = error_of(net.delete("azure_public_ip", &pip).await);
    assert!(
        message.starts_with("PublicIPAddressCannotBeDeleted"),
        "{message}"
    );
    net.delete("azure_bastion_host", &host)
        .await
        .expect("delete bastion");
    net.delete("azure_public_ip", &pip)
        .await
        .expect("delete pip");
    net.cloud.shutdown().await;
}

#[tokio::test]
async fn private_endpoint_with_dns_zone_group() {
    let net = Net::start().await;
    let vnet = net
        .create(
            "azure_virtual_network",
            &net.vnet("vnet-one", "10.0.0.0/16", vec![]),
        )
        .await
        .expect("vnet");
    net.create(
        "azure_subnet",
        &net.subnet("vnet-one", "PrivateEndpoints", "10.0.1.0/24"),
    )
    .await
    .expect("subnet");
    let zone_config = net.config(
        "azure_private_dns_zone",
        vec![
            ("name", s("privatelink.azurecr.io")),
            ("resource_group_name", s(RG)),
        ],
    );
    let zone = net
        .create("azure_private_dns_zone", &zone_config)
        .await
        .expect("zone");
    assert_eq!(zone.get("number_of_record_sets"), Some(&Value::Number(1.0)));
    net.assert_no_op("azure_private_dns_zone", &zone, &zone_config)
        .await;
    let link_config = net.config(
        "azure_private_dns_zone_virtual_network_link",
        vec![
            ("name", s("link-one")),
            ("resource_group_name", s(RG)),
            ("private_dns_zone_name", s("privatelink.azurecr.io")),
            ("virtual_network_id", vnet.get("id").cloned().expect("id")),
        ],
    );
    let link = net
        .create("azure_private_dns_zone_virtual_network_link", &link_config)
        .await
        .expect("link");
    net.assert_no_op(
        "azure_private_dns_zone_virtual_network_link",
        &link,
        &link_config,
    )
    .await;
    let mut tagged_link = link_config.clone();
    tagged_link.set_or_insert("tags", tags("dev"));
    let link = net
        .update(
            "azure_private_dns_zone_virtual_network_link",
            &link,
            &tagged_link,
        )
        .await
        .expect("tags");
    net.assert_no_op(
        "azure_private_dns_zone_virtual_network_link",
        &link,
        &tagged_link,
    )
    .await;
    let mut twice = link_config.clone();
    twice.set_or_insert("name", s("link-again"));
    let message = error_of(
        net.create("azure_private_dns_zone_virtual_network_link", &twice)
            .await,
    );
    assert!(message.starts_with("Conflict"), "{message}");

    let registry = format!(
        "/subscriptions/{}/resourceGroups/{RG}/providers/{ACR_TYPE}/meshacr",
        sub()
    );
    net.arm
        .put(
            &registry,
            "2025-04-01",
            &json!({"location": "westeurope"}),
            &CancellationToken::new(),
        )
        .await
        .expect("registry");
    let connection = net.block(
        "azure_private_endpoint",
        "private_service_connection",
        vec![
            ("name", s("acr")),
            ("private_connection_resource_id", s(&registry)),
            ("subresource_names", list(&["registry"])),
        ],
    );
    let group = net.block(
        "azure_private_endpoint",
        "private_dns_zone_group",
        vec![
            ("name", s("default")),
            (
                "private_dns_zone_ids",
                Value::List(vec![zone.get("id").cloned().expect("id")]),
            ),
        ],
    );
    let config = net.config(
        "azure_private_endpoint",
        vec![
            ("name", s("acr-pe")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
            ("subnet_id", s(&subnet_id("vnet-one", "PrivateEndpoints"))),
            ("private_service_connection", connection),
            ("private_dns_zone_group", group),
        ],
    );
    let endpoint = net
        .create("azure_private_endpoint", &config)
        .await
        .expect("endpoint");
    assert_eq!(endpoint.get("private_ip_address"), Some(&s("10.0.1.4")));
    net.assert_no_op("azure_private_endpoint", &endpoint, &config)
        .await;
    let endpoint_id = endpoint
        .get("id")
        .and_then(Value::as_str)
        .expect("id")
        .to_string();
    let group_id = format!("{endpoint_id}/privateDnsZoneGroups/default");
    let live_group = net.raw(&group_id).await.expect("zone group");
    assert_eq!(
        live_group["properties"]["privateDnsZoneConfigs"][0]["properties"]["recordSets"][0]
            ["ipAddresses"],
        json!(["10.0.1.4"])
    );

    // Dropping the zone group is an in-place update that deletes the child resource.
    let mut without_group = config.clone();
    without_group.set_or_insert("private_dns_zone_group", Value::Null);
    let endpoint = net
        .update("azure_private_endpoint", &endpoint, &without_group)
        .await
        .expect("update");
    assert_eq!(endpoint.get("private_dns_zone_group"), Some(&Value::Null));
    assert!(net.raw(&group_id).await.is_none());
    net.assert_no_op("azure_private_endpoint", &endpoint, &without_group)
        .await;
    let mut moved = without_group.clone();
    moved.set_or_insert("subnet_id", s(&subnet_id("vnet-one", "Other")));
    assert_eq!(
        net.plan("azure_private_endpoint", Some(&endpoint), &moved)
            .await
            .requires_replace,
        vec![key("subnet_id")]
    );

    let message = error_of(net.delete("azure_private_dns_zone", &zone).await);
    assert!(
        message.starts_with("CannotDeleteZoneWithVirtualNetworkLinks"),
        "{message}"
    );
    net.delete("azure_private_endpoint", &endpoint)
        .await
        .expect("delete endpoint");
    net.delete("azure_private_dns_zone_virtual_network_link", &link)
        .await
        .expect("delete link");
    net.delete("azure_private_dns_zone", &zone)
        .await
        .expect("delete zone");
    net.cloud.shutdown().await;
}
