//! `azure_resource`: the escape hatch for any ARM resource mesh does not model.
//!
//! `type = "Microsoft.X/y@api-version"`, a parent (a subscription, resource group or resource
//! ID), a name, and a `body` merged into the PUT body. The ID follows ARM's rules: a top-level
//! type under a resource group, a child type under its parent resource, or an extension
//! resource (`{parent}/providers/{type}/{name}`) on a resource of another type. The response
//! is exposed as `output`. Also home of [`values`], helpers the compute and identity types
//! share for reading configuration values.

use async_trait::async_trait;
use mesh_engine::provider::{
    default_plan, AttrType, AttributeSchema, BlockSchema, PlannedChange, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{Map, Value as Json};

use super::config::{string, tags, tags_from};
use super::{provider_error, AzureResourceType, Context};

/// Any ARM resource, by type and api-version.
pub struct GenericResource;

/// `Microsoft.X/y@2024-01-01` split into the type and the api-version.
fn type_and_version(config: &Value) -> Option<(String, String)> {
    let t = string(config, "type")?;
    let (ty, version) = t.split_once('@')?;
    Some((ty.to_string(), version.to_string()))
}

fn valid_type(t: &str) -> bool {
    let Some((ty, version)) = t.split_once('@') else {
        return false;
    };
    let parts: Vec<&str> = ty.split('/').collect();
    let names_ok = parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
        && parts[0].contains('.');
    let v: Vec<char> = version.chars().collect();
    let date_ok = v.len() >= 10
        && v[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == '-'
            } else {
                c.is_ascii_digit()
            }
        })
        && (v.len() == 10 || version[10..].starts_with('-'));
    names_ok && date_ok
}

/// The ARM ID of `name` of type `ty` under `parent`.
pub(crate) fn child_id(parent: &str, ty: &str, name: &str) -> String {
    let parent = parent.trim_end_matches('/');
    if ty.eq_ignore_ascii_case("Microsoft.Resources/resourceGroups") {
        let sub: Vec<&str> = parent.trim_start_matches('/').split('/').take(2).collect();
        return format!("/{}/resourceGroups/{name}", sub.join("/"));
    }
    let lower = parent.to_ascii_lowercase();
    if let Some(at) = lower.rfind("/providers/") {
        // The parent is a resource: its type is the namespace plus every other segment.
        let rest: Vec<&str> = parent[at + "/providers/".len()..].split('/').collect();
        let mut parent_type = vec![rest[0]];
        parent_type.extend(rest.iter().skip(1).step_by(2));
        let parent_type = parent_type.join("/");
        if let Some((prefix, last)) = ty.rsplit_once('/') {
            if prefix.eq_ignore_ascii_case(&parent_type) {
                return format!("{parent}/{last}/{name}");
            }
        }
    }
    format!("{parent}/providers/{ty}/{name}")
}

/// `response` pruned to the shape of `config`: each value the user wrote, read back from the
/// response when the response has it (so drift shows), kept from the configuration when ARM
/// does not return it (write-only values).
fn read_back(config: &Json, response: Option<&Json>) -> Json {
    let Some(response) = response else {
        return config.clone();
    };
    match (config, response) {
        (Json::Object(c), Json::Object(r)) => Json::Object(
            c.iter()
                .map(|(k, v)| {
                    let found = r.get(k).or_else(|| {
                        r.iter()
                            .find(|(rk, _)| rk.eq_ignore_ascii_case(k))
                            .map(|x| x.1)
                    });
                    (k.clone(), read_back(v, found))
                })
                .collect(),
        ),
        (Json::Array(c), Json::Array(r)) if c.len() == r.len() => Json::Array(
            c.iter()
                .zip(r)
                .map(|(x, y)| read_back(x, Some(y)))
                .collect(),
        ),
        (Json::String(c), Json::String(r)) if c.eq_ignore_ascii_case(r) && c.starts_with('/') => {
            config.clone()
        }
        _ => response.clone(),
    }
}

fn merge(into: &mut Map<String, Json>, from: &Map<String, Json>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Json::Object(a)), Json::Object(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

#[async_trait]
impl AzureResourceType for GenericResource {
    fn name(&self) -> &'static str {
        "azure_resource"
    }

    fn arm_type(&self) -> &'static str {
        "*"
    }

    fn api_version(&self) -> &'static str {
        "(per resource: the api-version in type)"
    }

    fn schema(&self) -> ResourceSchema {
        let s = |p, d| AttributeSchema::new(AttrType::String, p, d);
        ResourceSchema {
            version: 0,
            description: "Any ARM resource mesh does not model: its type and api-version, parent, name and body are sent as written; the response is exposed as output.".into(),
            block: BlockSchema::default()
                .attribute("type", s(Presence::Required, "ARM type and api-version, e.g. Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30.").force_new())
                .attribute("parent_id", s(Presence::Required, "ID of the parent: a subscription, a resource group, or a resource (child types nest under it; other types become extension resources).").force_new())
                .attribute("name", s(Presence::Required, "Resource name.").force_new())
                .attribute("location", s(Presence::Optional, "Azure region, for tracked resources.").force_new())
                .attribute("tags", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("body", AttributeSchema::new(AttrType::Any, Presence::Optional, "Object merged into the PUT body (e.g. { properties = { ... } }); the values written are read back to detect drift."))
                .attribute("output", AttributeSchema::new(AttrType::Any, Presence::Computed, "The resource as ARM returns it."))
                .attribute("id", s(Presence::Computed, "ARM resource ID.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(t) = string(config, "type") {
            if !valid_type(&t) {
                errors.push(ProviderError::at_attribute(format!("\"{t}\" is not an ARM type with an api-version: write it as Microsoft.Namespace/type@yyyy-mm-dd"), "type"));
            }
        }
        if let Some(p) = string(config, "parent_id") {
            if !p.to_ascii_lowercase().starts_with("/subscriptions/") {
                errors.push(ProviderError::at_attribute(
                    format!("\"{p}\" is not an ARM ID: it must start with /subscriptions/"),
                    "parent_id",
                ));
            }
        }
        if let Some(body) = config.get("body") {
            let body = body.unmark().0;
            if !matches!(body, Value::Null | Value::Unknown | Value::Map(_)) {
                errors.push(ProviderError::at_attribute(
                    "body must be an object",
                    "body",
                ));
            }
        }
        errors
    }

    fn resource_id(&self, _subscription_id: &str, config: &Value) -> Option<String> {
        let (ty, _) = type_and_version(config)?;
        Some(child_id(
            &string(config, "parent_id")?,
            &ty,
            &string(config, "name")?,
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let mut body = Map::new();
        if let Some(location) = string(config, "location") {
            body.insert("location".into(), Json::String(location));
        }
        if config.get("tags").is_some_and(|t| !t.is_null()) {
            body.insert("tags".into(), tags(config));
        }
        match config.get("body").map(|b| b.strip_sensitive().to_json()) {
            Some(Json::Object(extra)) => merge(&mut body, &extra),
            None | Some(Json::Null) => {}
            Some(_) => {
                return Err(ProviderError::at_attribute(
                    "body must be an object",
                    "body",
                ))
            }
        }
        Ok(Json::Object(body))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        state.set_or_insert("output", Value::from_json(response));
        if let (Some(mine), Some(theirs)) = (
            string(config, "location"),
            response.get("location").and_then(Json::as_str),
        ) {
            let norm = |s: &str| s.replace(' ', "").to_ascii_lowercase();
            if norm(&mine) != norm(theirs) {
                state.set_or_insert("location", Value::string(theirs));
            }
        }
        if config.get("tags").is_some_and(|t| !t.is_null()) {
            state.set_or_insert("tags", tags_from(response));
        }
        if let Some(body) = config.get("body").filter(|b| !b.is_null()) {
            let (plain, sensitive) = body.unmark();
            let read = Value::from_json(&read_back(&plain.to_json(), Some(response)));
            state.set_or_insert(
                "body",
                if sensitive {
                    read.into_sensitive()
                } else {
                    read
                },
            );
        }
        state
    }

    fn plan(&self, subscription_id: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let mut planned = default_plan(&self.schema().block, prior, config);
        if let Some(id) = self.resource_id(subscription_id, config) {
            planned.planned.set_or_insert("id", Value::String(id));
        }
        if let Some(prior) = prior {
            let changed = ["body", "tags", "location"].iter().any(|k| {
                config.get(k).map(Value::strip_sensitive)
                    != prior.get(k).map(Value::strip_sensitive)
            });
            if changed {
                planned.planned.set_or_insert("output", Value::Unknown);
            }
        }
        planned
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        let (_, version) = type_and_version(config).ok_or_else(|| {
            ProviderError::at_attribute("type must be Microsoft.X/y@api-version", "type")
        })?;
        let id = self
            .resource_id(ctx.client.subscription_id(), config)
            .ok_or_else(|| ProviderError::new("cannot tell the ARM ID of this azure_resource"))?;
        let body = self.to_body(config)?;
        let response = ctx
            .client
            .put(&id, &version, &body, &ctx.cancel)
            .await
            .map_err(provider_error)?;
        Ok(self.to_state(config, &id, &response))
    }

    async fn read(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, ProviderError> {
        let (_, version) = type_and_version(state).ok_or_else(|| {
            ProviderError::at_attribute("type must be Microsoft.X/y@api-version", "type")
        })?;
        let id = match string(state, "id") {
            Some(id) => id,
            None => self
                .resource_id(ctx.client.subscription_id(), state)
                .ok_or_else(|| {
                    ProviderError::new("cannot tell the ARM ID of this azure_resource")
                })?,
        };
        let response = ctx
            .client
            .get(&id, &version, &ctx.cancel)
            .await
            .map_err(provider_error)?;
        Ok(response.map(|r| self.to_state(state, &id, &r)))
    }

    async fn update(
        &self,
        ctx: &Context,
        _prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        self.create(ctx, config).await
    }

    async fn delete(&self, ctx: &Context, state: &Value) -> Result<(), ProviderError> {
        let (_, version) = type_and_version(state).ok_or_else(|| {
            ProviderError::at_attribute("type must be Microsoft.X/y@api-version", "type")
        })?;
        let id = match string(state, "id") {
            Some(id) => id,
            None => self
                .resource_id(ctx.client.subscription_id(), state)
                .ok_or_else(|| {
                    ProviderError::new("cannot tell the ARM ID of this azure_resource")
                })?,
        };
        ctx.client
            .delete(&id, &version, &ctx.cancel)
            .await
            .map_err(provider_error)
    }
}

/// Helpers to read configuration values and build state, shared by the compute and identity
/// types.
pub(crate) mod values {
    use std::collections::BTreeMap;

    use mesh_engine::provider::ProviderError;
    use mesh_engine::value::{PathStep, Value};
    use serde_json::Value as Json;

    /// The value of an attribute without its sensitive mark, when it is known and not null.
    pub fn known<'a>(config: &'a Value, name: &str) -> Option<&'a Value> {
        match config.get(name).map(|v| v.unmark().0) {
            None | Some(Value::Null) | Some(Value::Unknown) => None,
            Some(v) => Some(v),
        }
    }

    /// A known boolean.
    pub fn flag(config: &Value, name: &str) -> Option<bool> {
        match known(config, name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A known number.
    pub fn number(config: &Value, name: &str) -> Option<f64> {
        match known(config, name) {
            Some(Value::Number(n)) => Some(*n),
            _ => None,
        }
    }

    /// A known whole number.
    pub fn int(config: &Value, name: &str) -> Option<i64> {
        number(config, name).map(|n| n as i64)
    }

    /// A known list of strings (unknown or non-string items are skipped).
    pub fn strings(config: &Value, name: &str) -> Option<Vec<String>> {
        match known(config, name) {
            Some(Value::List(items)) => Some(
                items
                    .iter()
                    .filter_map(|v| v.unmark().0.as_str().map(str::to_string))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// A nested single block (a map), when present.
    pub fn block<'a>(config: &'a Value, name: &str) -> Option<&'a Value> {
        known(config, name).filter(|v| matches!(v, Value::Map(_)))
    }

    /// A string inside a JSON document, by pointer.
    pub fn jstr(json: &Json, pointer: &str) -> Option<String> {
        json.pointer(pointer)
            .and_then(Json::as_str)
            .map(str::to_string)
    }

    /// The configured spelling of an ARM ID when the response returns the same ID in another
    /// case (ARM IDs are case-insensitive), else the response's.
    pub fn same_id(configured: Option<String>, returned: &str) -> Value {
        match configured {
            Some(c) if c.eq_ignore_ascii_case(returned) => Value::String(c),
            _ => Value::string(returned),
        }
    }

    /// A map value from entries.
    pub fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    /// Tags for state: the response's, or null when the configuration leaves them null and
    /// the resource has none (so an untagged resource plans no change).
    pub fn tags_state(config: &Value, response: &Json) -> Value {
        let tags = super::super::config::tags_from(response);
        let empty = tags.as_map().is_some_and(|m| m.is_empty());
        if empty && config.get("tags").is_none_or(Value::is_null) {
            Value::Null
        } else {
            tags
        }
    }

    /// A JSON string/number/bool/array as a value, or null.
    pub fn from(json: Option<&Json>) -> Value {
        json.map(Value::from_json).unwrap_or(Value::Null)
    }

    /// An error about an attribute at a nested path such as `default_node_pool.node_count`.
    pub fn error_at(message: impl Into<String>, path: &[&str]) -> ProviderError {
        ProviderError {
            attribute: Some(path.iter().map(|p| PathStep::Key(p.to_string())).collect()),
            ..ProviderError::new(message)
        }
    }

    /// A GUID derived from `parts` (FNV-1a 128 over the joined, lowercased parts, with the
    /// version-5 and RFC 4122 variant bits set), so it is known at plan time and stable.
    pub fn derived_guid(parts: &[&str]) -> String {
        let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
        let prime: u128 = 0x0000000001000000000000000000013B;
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                h ^= u128::from(b'|');
                h = h.wrapping_mul(prime);
            }
            for b in part.to_ascii_lowercase().bytes() {
                h ^= u128::from(b);
                h = h.wrapping_mul(prime);
            }
        }
        let mut bytes = h.to_be_bytes();
        bytes[6] = (bytes[6] & 0x0f) | 0x50;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// True for a GUID in the 8-4-4-4-12 hex form.
    pub fn is_guid(s: &str) -> bool {
        let groups: Vec<&str> = s.split('-').collect();
        groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::values::*;
    use super::*;

    fn config(ty: &str, parent: &str, body: Json) -> Value {
        Value::Map(BTreeMap::from([
            ("type".to_string(), Value::string(ty)),
            ("parent_id".to_string(), Value::string(parent)),
            ("name".to_string(), Value::string("id-one")),
            ("location".to_string(), Value::string("westeurope")),
            ("tags".to_string(), Value::Null),
            ("body".to_string(), Value::from_json(&body)),
            ("output".to_string(), Value::Null),
            ("id".to_string(), Value::Null),
        ]))
    }

    const RG: &str = "/subscriptions/s/resourceGroups/rg";

    #[test]
    fn ids_follow_arm_rules() {
        let vnet = format!("{RG}/providers/Microsoft.Network/virtualNetworks/v");
        assert_eq!(
            child_id(RG, "Microsoft.ManagedIdentity/userAssignedIdentities", "a"),
            format!("{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a")
        );
        assert_eq!(
            child_id(&vnet, "Microsoft.Network/virtualNetworks/subnets", "s"),
            format!("{vnet}/subnets/s")
        );
        assert_eq!(
            child_id(&vnet, "Microsoft.Authorization/locks", "l"),
            format!("{vnet}/providers/Microsoft.Authorization/locks/l")
        );
        assert_eq!(
            child_id(
                "/subscriptions/s",
                "Microsoft.Resources/resourceGroups",
                "g"
            ),
            "/subscriptions/s/resourceGroups/g"
        );
        let sub = format!("{vnet}/subnets/s");
        assert_eq!(
            child_id(
                &sub,
                "Microsoft.Network/virtualNetworks/subnets/things",
                "t"
            ),
            format!("{sub}/things/t")
        );
    }

    #[test]
    fn body_is_merged_and_read_back() {
        let c = config(
            "Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30",
            RG,
            json!({"properties": {"isolationScope": "None"}, "location": "northeurope"}),
        );
        let r = GenericResource;
        assert!(r.validate(&c).is_empty());
        assert_eq!(
            r.to_body(&c).unwrap(),
            json!({"location": "northeurope", "properties": {"isolationScope": "None"}})
        );
        let response = json!({"id": "x", "location": "northeurope", "properties": {"isolationScope": "Regional", "principalId": "p"}});
        let state = r.to_state(&c, "x", &response);
        assert_eq!(
            state.get("body").unwrap().to_json(),
            json!({"properties": {"isolationScope": "Regional"}, "location": "northeurope"})
        );
        assert_eq!(state.get("output").unwrap().to_json(), response);
        let same = json!({"location": "northeurope", "properties": {"isolationScope": "None"}});
        let state = r.to_state(&c, "x", &same);
        assert_eq!(state.get("body"), c.get("body"));
    }

    #[test]
    fn validates_type_and_parent() {
        let r = GenericResource;
        assert_eq!(r.validate(&config("Microsoft.X/y", RG, json!({}))).len(), 1);
        assert_eq!(
            r.validate(&config("Microsoft.X/y@2024-01-01-preview", "rg", json!({})))
                .len(),
            1
        );
        assert!(r
            .validate(&config("Microsoft.X/y@2024-01-01-preview", RG, json!({})))
            .is_empty());
    }

    #[test]
    fn derived_guids_are_stable_and_well_formed() {
        let a = derived_guid(&["/subscriptions/s", "role", "p"]);
        assert_eq!(a, derived_guid(&["/SUBSCRIPTIONS/s", "ROLE", "p"]));
        assert_ne!(a, derived_guid(&["/subscriptions/s", "role", "q"]));
        assert!(is_guid(&a));
        assert_eq!(&a[14..15], "5");
        assert!(!is_guid("not-a-guid"));
    }
}
