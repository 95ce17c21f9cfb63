//! The compute, registry and identity types against the local cloud: AKS clusters and node
//! pools, container registries and replications, identities and role assignments, Log
//! Analytics, and the `azure_resource` escape hatch — create, read, in-place update,
//! replacement detection, delete, and ARM's refusals surfaced with their codes.

use std::collections::BTreeMap;

use mesh_emulator::{LocalCloud, LocalCloudOptions};
use mesh_engine::provider::{
    ApplyRequest, BlockSchema, Nesting, PlanRequest, PlannedChange, Provider, ProviderError,
    ProviderSchema, ReadRequest,
};
use mesh_engine::value::{PathStep, Value};
use mesh_provider_azure::AzureProvider;
use tokio_util::sync::CancellationToken;

#[path = "compute/aks.rs"]
mod aks;

const RG: &str = "rg-compute";

struct Cloud {
    cloud: LocalCloud,
    provider: AzureProvider,
    schema: ProviderSchema,
}

fn s(v: &str) -> Value {
    Value::string(v)
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|i| s(i)).collect())
}

fn map(entries: &[(&str, &str)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (k.to_string(), s(v))).collect())
}

fn num(n: f64) -> Value {
    Value::Number(n)
}

fn path(p: &[&str]) -> Vec<PathStep> {
    p.iter().map(|k| PathStep::Key(k.to_string())).collect()
}

fn sub() -> &'static str {
    LocalCloud::SUBSCRIPTION_ID
}

fn rg_id() -> String {
    format!("/subscriptions/{}/resourceGroups/{RG}", sub())
}

fn subnet_id(vnet: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}",
        rg_id()
    )
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

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .map(|x| x.unmark().0.clone())
        .and_then(|x| x.as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("{key} is not a known string in {v:?}"))
}

fn error_of(result: Result<impl std::fmt::Debug, ProviderError>) -> String {
    result.expect_err("ARM refuses this").message
}

impl Cloud {
    async fn start() -> Cloud {
        let options = LocalCloudOptions {
            time_factor: 0.001,
            ..LocalCloudOptions::default()
        };
        let cloud = LocalCloud::start(options).await.expect("local cloud");
        let provider = AzureProvider::new();
        let config = Value::Map(BTreeMap::from([
            ("endpoint".to_string(), s(&cloud.url())),
            ("subscription_id".to_string(), s(sub())),
            ("auth".to_string(), s("none")),
        ]));
        provider.configure(config).await.expect("configure");
        let schema = provider.schema();
        let c = Cloud {
            cloud,
            provider,
            schema,
        };
        let rg = c.config(
            "azure_resource_group",
            vec![("name", s(RG)), ("location", s("westeurope"))],
        );
        c.create("azure_resource_group", &rg)
            .await
            .expect("resource group");
        c
    }

    fn config(&self, ty: &str, set: Vec<(&str, Value)>) -> Value {
        fill(&self.schema.resources[ty].block, set)
    }

    fn block(&self, ty: &str, at: &[&str], set: Vec<(&str, Value)>) -> Value {
        let mut b = &self.schema.resources[ty].block;
        for name in at {
            b = &b.blocks[*name].block;
        }
        fill(b, set)
    }

    async fn plan(&self, ty: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let request = PlanRequest {
            resource_type: ty.into(),
            address: format!("{ty}.test"),
            prior: prior.map(Value::strip_sensitive),
            config: config.clone(),
        };
        self.provider.plan(request).await.expect("plan")
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
        let problems = self.provider.validate(ty, config);
        assert!(problems.is_empty(), "{ty} invalid: {problems:?}");
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
        assert!(
            planned.requires_replace.is_empty(),
            "{ty}: {:?}",
            planned.requires_replace
        );
        assert_ne!(
            planned.planned.strip_sensitive(),
            prior.strip_sensitive(),
            "{ty}: nothing to update"
        );
        self.provider
            .update(self.apply(ty, Some(prior), planned.planned))
            .await
    }

    async fn delete(&self, ty: &str, state: &Value) {
        self.provider
            .delete(self.apply(ty, Some(&state.strip_sensitive()), Value::Null))
            .await
            .expect("delete");
        assert!(
            self.read(ty, state).await.is_none(),
            "{ty} still exists after delete"
        );
    }

    /// A refresh reads the applied state back and a plan of the same configuration is empty.
    async fn assert_no_op(&self, ty: &str, state: &Value, config: &Value) {
        let read = self.read(ty, state).await.expect("exists");
        assert_eq!(
            read.strip_sensitive(),
            state.strip_sensitive(),
            "{ty}: refresh differs from the applied state"
        );
        let plan = self.plan(ty, Some(&read), config).await;
        assert!(
            plan.requires_replace.is_empty(),
            "{ty}: {:?}",
            plan.requires_replace
        );
        assert_eq!(
            plan.planned.strip_sensitive(),
            read.strip_sensitive(),
            "{ty}: a plan after apply is not empty"
        );
    }

    /// The paths of a planned replacement when `at` is set to `value`.
    async fn replace_paths(
        &self,
        ty: &str,
        state: &Value,
        config: &Value,
        at: &[&str],
        value: Value,
    ) -> Vec<Vec<PathStep>> {
        let mut changed = config.clone();
        changed.set_at(&path(at), value);
        self.plan(ty, Some(state), &changed).await.requires_replace
    }

    async fn identity(&self, name: &str) -> Value {
        let c = self.config(
            "azure_user_assigned_identity",
            vec![
                ("name", s(name)),
                ("resource_group_name", s(RG)),
                ("location", s("westeurope")),
            ],
        );
        self.create("azure_user_assigned_identity", &c)
            .await
            .expect("identity")
    }

    async fn network(&self, name: &str, space: &str, subnets: &[(&str, &str)]) {
        let vnet = self.config(
            "azure_virtual_network",
            vec![
                ("name", s(name)),
                ("resource_group_name", s(RG)),
                ("location", s("westeurope")),
                ("address_space", list(&[space])),
            ],
        );
        self.create("azure_virtual_network", &vnet)
            .await
            .expect("vnet");
        for (subnet, prefix) in subnets {
            let c = self.config(
                "azure_subnet",
                vec![
                    ("name", s(subnet)),
                    ("resource_group_name", s(RG)),
                    ("virtual_network_name", s(name)),
                    ("address_prefixes", list(&[prefix])),
                ],
            );
            self.create("azure_subnet", &c).await.expect("subnet");
        }
    }
}

#[tokio::test]
async fn container_registry_and_replications() {
    const R: &str = "azure_container_registry";
    const REP: &str = "azure_container_registry_replication";
    let c = Cloud::start().await;
    let config = c.config(
        R,
        vec![
            ("name", s("meshacrcompute1")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
            ("sku", s("Premium")),
            ("admin_enabled", Value::Bool(true)),
            ("public_network_access_enabled", Value::Bool(false)),
        ],
    );
    let acr = c.create(R, &config).await.expect("registry");
    assert_eq!(str_of(&acr, "login_server"), "meshacrcompute1.azurecr.io");
    assert_eq!(str_of(&acr, "admin_username"), "meshacrcompute1");
    assert!(matches!(
        acr.get("admin_password"),
        Some(Value::Sensitive(_))
    ));
    c.assert_no_op(R, &acr, &config).await;

    let acr_id = str_of(&acr, "id");
    let replica = c.config(
        REP,
        vec![
            ("name", s("northeurope")),
            ("container_registry_id", s(&acr_id)),
            ("location", s("northeurope")),
        ],
    );
    let rep = c.create(REP, &replica).await.expect("replication");
    c.assert_no_op(REP, &rep, &replica).await;
    assert!(!c
        .replace_paths(
            REP,
            &rep,
            &replica,
            &["zone_redundancy_enabled"],
            Value::Bool(true)
        )
        .await
        .is_empty());
    let home = c.config(
        REP,
        vec![
            ("name", s("westeurope")),
            ("container_registry_id", s(&acr_id)),
            ("location", s("westeurope")),
        ],
    );
    assert!(error_of(c.create(REP, &home).await).contains("ReplicationAlreadyExists"));

    // Another registry with the same name elsewhere: names are global.
    let mut twin = config.clone();
    twin.set_or_insert("resource_group_name", s("rg-twin"));
    let rg = c.config(
        "azure_resource_group",
        vec![("name", s("rg-twin")), ("location", s("westeurope"))],
    );
    c.create("azure_resource_group", &rg).await.expect("rg");
    assert!(error_of(c.create(R, &twin).await).contains("AlreadyInUse"));

    // A Standard registry takes no replications.
    let standard = c.config(
        R,
        vec![
            ("name", s("meshacrcompute2")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
            ("sku", s("Standard")),
        ],
    );
    let standard = c.create(R, &standard).await.expect("standard registry");
    let std_replica = c.config(
        REP,
        vec![
            ("name", s("northeurope")),
            ("container_registry_id", s(&str_of(&standard, "id"))),
            ("location", s("northeurope")),
        ],
    );
    assert!(error_of(c.create(REP, &std_replica).await).contains("GeoReplicationRequiresPremium"));

    // Admin user off: its credentials go.
    let mut no_admin = config.clone();
    no_admin.set_or_insert("admin_enabled", Value::Bool(false));
    no_admin.set_or_insert("tags", map(&[("env", "dev")]));
    let acr = c.update(R, &acr, &no_admin).await.expect("update");
    assert_eq!(acr.get("admin_password"), Some(&Value::Null));
    c.assert_no_op(R, &acr, &no_admin).await;

    c.delete(REP, &rep).await;
    c.delete(R, &acr).await;
    c.delete(R, &standard).await;
}

#[tokio::test]
async fn identities_role_assignments_and_log_analytics() {
    const I: &str = "azure_user_assigned_identity";
    const A: &str = "azure_role_assignment";
    const W: &str = "azure_log_analytics_workspace";
    let c = Cloud::start().await;
    let config = c.config(
        I,
        vec![
            ("name", s("app-identity")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
        ],
    );
    let identity = c.create(I, &config).await.expect("identity");
    let principal = str_of(&identity, "principal_id");
    assert_eq!(principal.len(), 36);
    c.assert_no_op(I, &identity, &config).await;
    assert!(!c
        .replace_paths(I, &identity, &config, &["location"], s("northeurope"))
        .await
        .is_empty());
    let mut tagged = config.clone();
    tagged.set_or_insert("tags", map(&[("env", "dev")]));
    let identity = c.update(I, &identity, &tagged).await.expect("tags");
    assert_eq!(str_of(&identity, "principal_id"), principal);

    // A role on the identity itself (an extension resource on a resource) and on the group.
    let scope = str_of(&identity, "id");
    let on_identity = c.config(
        A,
        vec![
            ("scope", s(&scope)),
            ("role_definition_name", s("Managed Identity Operator")),
            ("principal_id", s(&principal)),
            ("principal_type", s("ServicePrincipal")),
        ],
    );
    let planned_id = str_of(&c.plan(A, None, &on_identity).await.planned, "id");
    let assignment = c
        .create(A, &on_identity)
        .await
        .expect("assignment on a resource");
    assert_eq!(
        str_of(&assignment, "id"),
        planned_id,
        "the ID is known at plan time"
    );
    assert!(planned_id.starts_with(&format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/"
    )));
    c.assert_no_op(A, &assignment, &on_identity).await;
    assert!(!c
        .replace_paths(
            A,
            &assignment,
            &on_identity,
            &["role_definition_name"],
            s("Reader")
        )
        .await
        .is_empty());
    let on_group = c.config(
        A,
        vec![
            ("scope", s(&rg_id())),
            ("role_definition_name", s("Reader")),
            ("principal_id", s(&principal)),
        ],
    );
    let reader = c.create(A, &on_group).await.expect("assignment on a group");
    c.assert_no_op(A, &reader, &on_group).await;
    // The same grant under another name is refused by ARM.
    let mut twin = on_group.clone();
    twin.set_or_insert("name", s("0f0f0f0f-1111-4222-8333-444444444444"));
    assert!(error_of(c.create(A, &twin).await).contains("RoleAssignmentExists"));
    c.delete(A, &assignment).await;
    c.delete(A, &reader).await;

    let law = c.config(
        W,
        vec![
            ("name", s("law-shared")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
        ],
    );
    let ws = c.create(W, &law).await.expect("workspace");
    let customer = str_of(&ws, "workspace_id");
    c.assert_no_op(W, &ws, &law).await;
    let mut longer = law.clone();
    longer.set_or_insert("retention_in_days", num(90.0));
    let ws = c.update(W, &ws, &longer).await.expect("retention");
    assert_eq!(ws.get("retention_in_days"), Some(&num(90.0)));
    assert_eq!(str_of(&ws, "workspace_id"), customer);
    c.assert_no_op(W, &ws, &longer).await;
    c.delete(W, &ws).await;
    c.delete(I, &identity).await;
}

#[tokio::test]
async fn escape_hatch_resource() {
    const G: &str = "azure_resource";
    let c = Cloud::start().await;
    let body = Value::Map(BTreeMap::from([(
        "properties".to_string(),
        Value::Map(BTreeMap::from([("isolationScope".to_string(), s("None"))])),
    )]));
    let config = c.config(
        G,
        vec![
            (
                "type",
                s("Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30"),
            ),
            ("parent_id", s(&rg_id())),
            ("name", s("generic-identity")),
            ("location", s("westeurope")),
            ("body", body),
        ],
    );
    let created = c.create(G, &config).await.expect("generic resource");
    let id = str_of(&created, "id");
    assert_eq!(
        id,
        format!(
            "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/generic-identity",
            rg_id()
        )
    );
    let principal = created
        .get_at(&path(&["output", "properties", "principalId"]))
        .and_then(Value::as_str)
        .expect("principalId in output");
    assert_eq!(principal.len(), 36);
    c.assert_no_op(G, &created, &config).await;
    // The typed resource sees the same object.
    let typed = c.config(
        "azure_user_assigned_identity",
        vec![
            ("name", s("generic-identity")),
            ("resource_group_name", s(RG)),
            ("location", s("westeurope")),
        ],
    );
    let read = c
        .read("azure_user_assigned_identity", &typed)
        .await
        .expect("typed read");
    assert_eq!(str_of(&read, "principal_id"), principal);
    let mut tagged = config.clone();
    tagged.set_or_insert("tags", map(&[("env", "dev")]));
    let planned = c.plan(G, Some(&created), &tagged).await;
    assert!(planned.planned.get("output").is_some_and(Value::is_unknown));
    let updated = c.update(G, &created, &tagged).await.expect("update");
    assert_eq!(
        updated.get_at(&path(&["output", "tags", "env"])),
        Some(&s("dev"))
    );
    c.assert_no_op(G, &updated, &tagged).await;
    assert!(!c
        .replace_paths(G, &updated, &tagged, &["name"], s("other"))
        .await
        .is_empty());
    let mut unknown = config.clone();
    unknown.set_or_insert("type", s("Microsoft.Nowhere/widgets@2024-01-01"));
    assert!(error_of(c.create(G, &unknown).await).contains("NoRegisteredProviderFound"));
    c.delete(G, &updated).await;
}
