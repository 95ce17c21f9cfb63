//! The built-in `mesh` provider and its `mesh_data` resource.
//!
//! `mesh_data` is mesh's counterpart of Terraform's `terraform_data`: a resource that lives only
//! in state. It stores `input`, echoes it to `output` after apply, and is replaced whenever
//! `triggers_replace` changes, which makes it useful for hanging lifecycle triggers
//! (`replace_triggered_by`) and provisioner-like steps on arbitrary values.
//!
//! Planning rules:
//! - `id` is a random UUID assigned at create and kept on update; unknown when (re)creating.
//! - `output` is planned as `input` when creating, or when `input` changed, provided `input` is
//!   fully known; it is unknown when `input` contains unknowns; it keeps its prior value when
//!   `input` is unchanged.
//! - A change of `triggers_replace` forces replacement.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::provider::{
    ApplyRequest, AttrType, AttributeSchema, BlockSchema, PlanRequest, PlannedChange, Presence,
    Provider, ProviderError, ProviderSchema, ReadRequest, ResourceSchema,
};
use crate::value::{PathStep, Value};

/// The provider name.
pub const PROVIDER_NAME: &str = "mesh";
/// The resource type.
pub const MESH_DATA: &str = "mesh_data";

/// The built-in `mesh` provider: resource type `mesh_data`, no configuration, no remote API.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeshProvider;

fn mesh_data_schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        description: "A value that lives only in state: `input` is stored and echoed to `output` \
                      after apply; a change of `triggers_replace` forces replacement. The \
                      counterpart of Terraform's `terraform_data`."
            .to_string(),
        block: BlockSchema::default()
            .attribute(
                "input",
                AttributeSchema::new(
                    AttrType::Any,
                    Presence::Optional,
                    "Any value to store; echoed to `output` after apply. A change updates the \
                     resource in place.",
                ),
            )
            .attribute(
                "output",
                AttributeSchema::new(
                    AttrType::Any,
                    Presence::Computed,
                    "The value of `input` after apply.",
                ),
            )
            .attribute(
                "triggers_replace",
                AttributeSchema::new(
                    AttrType::Any,
                    Presence::Optional,
                    "Any value; a change forces the resource to be replaced.",
                )
                .force_new(),
            )
            .attribute(
                "id",
                AttributeSchema::new(
                    AttrType::String,
                    Presence::Computed,
                    "A random UUID assigned at create and kept across updates.",
                ),
            ),
    }
}

fn attr(value: &Value, name: &str) -> Value {
    value.get(name).cloned().unwrap_or(Value::Null)
}

/// True when two attribute values differ, ignoring sensitivity marks.
fn differs(a: &Value, b: &Value) -> bool {
    a.strip_sensitive() != b.strip_sensitive()
}

fn check_type(resource_type: &str) -> Result<(), ProviderError> {
    if resource_type == MESH_DATA {
        Ok(())
    } else {
        Err(ProviderError::new(format!(
            "the mesh provider has no resource type {resource_type}"
        )))
    }
}

/// The planned state of a `mesh_data` instance (see the module docs for the rules).
fn plan_mesh_data(prior: Option<&Value>, config: &Value) -> PlannedChange {
    let input = attr(config, "input");
    let triggers = attr(config, "triggers_replace");
    let replace = prior.is_some_and(|p| differs(&attr(p, "triggers_replace"), &triggers));
    let output_from_input = || {
        if input.is_unknown_deep() {
            Value::Unknown
        } else {
            input.clone()
        }
    };
    let (id, output) = match prior {
        Some(prior) if !replace => {
            let output = if differs(&attr(prior, "input"), &input) {
                output_from_input()
            } else {
                attr(prior, "output")
            };
            (attr(prior, "id"), output)
        }
        _ => (Value::Unknown, output_from_input()),
    };
    let planned = Value::Map(BTreeMap::from([
        ("id".to_string(), id),
        ("input".to_string(), input),
        ("output".to_string(), output),
        ("triggers_replace".to_string(), triggers),
    ]));
    let requires_replace = if replace {
        vec![vec![PathStep::Key("triggers_replace".to_string())]]
    } else {
        Vec::new()
    };
    PlannedChange {
        planned,
        requires_replace,
    }
}

/// The state after apply: `output` set to `input`, `id` filled in when unknown.
fn applied_state(planned: &Value, prior: Option<&Value>) -> Value {
    let mut state = planned.clone();
    if !matches!(state, Value::Map(_)) {
        state = Value::Map(BTreeMap::new());
    }
    let input = attr(&state, "input");
    state.set_or_insert("output", input);
    let id = match attr(&state, "id") {
        id @ Value::String(_) => id,
        _ => match prior.map(|p| attr(p, "id")) {
            Some(id @ Value::String(_)) => id,
            _ => Value::string(uuid::Uuid::new_v4().to_string()),
        },
    };
    state.set_or_insert("id", id);
    state
}

#[async_trait]
impl Provider for MeshProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: BlockSchema::default(),
            resources: BTreeMap::from([(MESH_DATA.to_string(), mesh_data_schema())]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlannedChange, ProviderError> {
        check_type(&request.resource_type)?;
        Ok(plan_mesh_data(request.prior.as_ref(), &request.config))
    }

    async fn create(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        check_type(&request.resource_type)?;
        Ok(applied_state(&request.planned, None))
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        check_type(&request.resource_type)?;
        // A planned value looked up after a crash has no id: it was never created.
        let created = request
            .current
            .get("id")
            .is_some_and(|id| !id.is_null() && !id.is_unknown());
        Ok(created.then_some(request.current))
    }

    async fn update(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        check_type(&request.resource_type)?;
        Ok(applied_state(&request.planned, request.prior.as_ref()))
    }

    async fn delete(&self, request: ApplyRequest) -> Result<(), ProviderError> {
        check_type(&request.resource_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    fn config(input: Value, triggers: Value) -> Value {
        Value::Map(BTreeMap::from([
            ("id".to_string(), Value::Null),
            ("input".to_string(), input),
            ("output".to_string(), Value::Null),
            ("triggers_replace".to_string(), triggers),
        ]))
    }

    fn plan_req(prior: Option<Value>, config: Value) -> PlanRequest {
        PlanRequest {
            resource_type: MESH_DATA.to_string(),
            address: "mesh_data.x".to_string(),
            prior,
            config,
        }
    }

    fn apply_req(prior: Option<Value>, planned: Value) -> ApplyRequest {
        ApplyRequest {
            resource_type: MESH_DATA.to_string(),
            address: "mesh_data.x".to_string(),
            prior,
            planned,
            cancel: CancellationToken::new(),
        }
    }

    async fn created(input: Value, triggers: Value) -> Value {
        let p = MeshProvider;
        let change = p
            .plan(plan_req(None, config(input, triggers)))
            .await
            .unwrap();
        p.create(apply_req(None, change.planned)).await.unwrap()
    }

    #[tokio::test]
    async fn plan_on_create_echoes_known_input() {
        let p = MeshProvider;
        let change = p
            .plan(plan_req(None, config(Value::string("a"), Value::Null)))
            .await
            .unwrap();
        assert!(change.requires_replace.is_empty());
        assert_eq!(change.planned.get("output"), Some(&Value::string("a")));
        assert_eq!(change.planned.get("id"), Some(&Value::Unknown));

        let unknown_input = Value::List(vec![Value::Unknown]);
        let change = p
            .plan(plan_req(None, config(unknown_input, Value::Null)))
            .await
            .unwrap();
        assert_eq!(change.planned.get("output"), Some(&Value::Unknown));
    }

    #[tokio::test]
    async fn create_assigns_id_and_output() {
        let state = created(Value::Number(3.0), Value::Null).await;
        assert_eq!(state.get("output"), Some(&Value::Number(3.0)));
        let id = state.get("id").and_then(Value::as_str).unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok());
    }

    #[tokio::test]
    async fn changed_input_updates_in_place_and_keeps_id() {
        let p = MeshProvider;
        let prior = created(Value::string("a"), Value::string("t")).await;
        let change = p
            .plan(plan_req(
                Some(prior.clone()),
                config(Value::string("b"), Value::string("t")),
            ))
            .await
            .unwrap();
        assert!(change.requires_replace.is_empty());
        assert_eq!(change.planned.get("output"), Some(&Value::string("b")));
        assert_eq!(change.planned.get("id"), prior.get("id"));

        let state = p
            .update(apply_req(Some(prior.clone()), change.planned))
            .await
            .unwrap();
        assert_eq!(state.get("id"), prior.get("id"));
        assert_eq!(state.get("output"), Some(&Value::string("b")));
    }

    #[tokio::test]
    async fn unchanged_input_keeps_prior_output() {
        let p = MeshProvider;
        let prior = created(Value::string("a"), Value::Null).await;
        let change = p
            .plan(plan_req(
                Some(prior.clone()),
                config(Value::string("a"), Value::Null),
            ))
            .await
            .unwrap();
        assert_eq!(change.planned, prior);

        // A sensitive mark alone is not a change.
        let change = p
            .plan(plan_req(
                Some(prior.clone()),
                config(Value::string("a").into_sensitive(), Value::Null),
            ))
            .await
            .unwrap();
        assert_eq!(change.planned.get("output"), prior.get("output"));
    }

    #[tokio::test]
    async fn changed_input_with_unknowns_plans_unknown_output() {
        let p = MeshProvider;
        let prior = created(Value::string("a"), Value::Null).await;
        let change = p
            .plan(plan_req(Some(prior), config(Value::Unknown, Value::Null)))
            .await
            .unwrap();
        assert_eq!(change.planned.get("output"), Some(&Value::Unknown));
    }

    #[tokio::test]
    async fn triggers_replace_change_forces_replacement() {
        let p = MeshProvider;
        let prior = created(Value::string("a"), Value::string("v1")).await;
        let change = p
            .plan(plan_req(
                Some(prior),
                config(Value::string("a"), Value::string("v2")),
            ))
            .await
            .unwrap();
        assert_eq!(
            change.requires_replace,
            vec![vec![PathStep::Key("triggers_replace".to_string())]]
        );
        assert_eq!(change.planned.get("id"), Some(&Value::Unknown));
        assert_eq!(change.planned.get("output"), Some(&Value::string("a")));
    }

    #[tokio::test]
    async fn read_returns_state_and_delete_is_noop() {
        let p = MeshProvider;
        let state = created(Value::Bool(true), Value::Null).await;
        let read = p
            .read(ReadRequest {
                resource_type: MESH_DATA.to_string(),
                address: "mesh_data.x".to_string(),
                current: state.clone(),
            })
            .await
            .unwrap();
        assert_eq!(read, Some(state.clone()));
        p.delete(apply_req(Some(state), Value::Null)).await.unwrap();
        assert!(p
            .plan(plan_req(None, config(Value::Null, Value::Null)))
            .await
            .is_ok());
        let mut bad = plan_req(None, Value::Null);
        bad.resource_type = "mesh_other".to_string();
        assert!(p.plan(bad).await.is_err());
    }

    #[test]
    fn builtins_include_mesh() {
        let names: Vec<String> = crate::builtin::providers()
            .iter()
            .map(|p| p.name().to_string())
            .collect();
        assert_eq!(names, vec!["mesh".to_string()]);
        let schema = MeshProvider.schema();
        let block = &schema.resources[MESH_DATA].block;
        assert!(block.attributes["triggers_replace"].force_new);
        assert_eq!(block.attributes["output"].presence, Presence::Computed);
    }
}
