//! Resource schemas: what a provider declares about each resource type.
//!
//! One schema drives validation of user input, plan rendering (sensitive and force-new
//! attributes), `mesh schema` and the generated reference docs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::value::{PathStep, Value};

/// The type of an attribute's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "of")]
pub enum AttrType {
    /// A string.
    String,
    /// A number.
    Number,
    /// A boolean.
    Bool,
    /// A list of one element type.
    List(Box<AttrType>),
    /// A set of one element type (kept sorted).
    Set(Box<AttrType>),
    /// A map from strings to one element type.
    Map(Box<AttrType>),
    /// Anything: the value is kept as written.
    Any,
}

impl AttrType {
    /// How the type reads in docs and messages: `string`, `list(string)`, ...
    pub fn describe(&self) -> String {
        match self {
            AttrType::String => "string".into(),
            AttrType::Number => "number".into(),
            AttrType::Bool => "bool".into(),
            AttrType::List(t) => format!("list({})", t.describe()),
            AttrType::Set(t) => format!("set({})", t.describe()),
            AttrType::Map(t) => format!("map({})", t.describe()),
            AttrType::Any => "any".into(),
        }
    }
}

/// Whether the user sets an attribute, the provider computes it, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// The user must set it.
    Required,
    /// The user may set it; absent means null (or the default).
    Optional,
    /// The provider sets it; the user may not.
    Computed,
    /// The user may set it; otherwise the provider computes it.
    OptionalComputed,
}

/// One attribute of a resource type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeSchema {
    /// Value type.
    #[serde(rename = "type")]
    pub attr_type: AttrType,
    /// Who sets it.
    pub presence: Presence,
    /// A change forces the resource to be replaced.
    pub force_new: bool,
    /// Never shown in plans or logs.
    pub sensitive: bool,
    /// Used when the user does not set it.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_default"
    )]
    pub default: Option<Value>,
    /// What it is, for docs.
    pub description: String,
    /// A status that moves on its own (a peering's Initiated → Connected): refresh records
    /// the new value without reporting it as a change made outside mesh.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub volatile: bool,
}

fn serialize_default<S: serde::Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
    v.as_ref().map(Value::to_json).serialize(s)
}

impl AttributeSchema {
    /// A new attribute.
    pub fn new(attr_type: AttrType, presence: Presence, description: &str) -> AttributeSchema {
        AttributeSchema {
            attr_type,
            presence,
            force_new: false,
            sensitive: false,
            default: None,
            description: description.to_string(),
            volatile: false,
        }
    }

    /// Mark volatile (see [`AttributeSchema::volatile`]).
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Mark force-new.
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }

    /// Mark sensitive.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Set a default.
    pub fn default_value(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }

    /// True when the user may write it.
    pub fn is_settable(&self) -> bool {
        self.presence != Presence::Computed
    }

    /// True when the provider may fill it in.
    pub fn is_computed(&self) -> bool {
        matches!(
            self.presence,
            Presence::Computed | Presence::OptionalComputed
        )
    }
}

/// How many times a nested block may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Nesting {
    /// At most once; its value is an object (or null).
    Single,
    /// Any number of times; its value is a list of objects.
    List,
}

/// A nested block type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NestedBlockSchema {
    /// How many.
    pub nesting: Nesting,
    /// At least one must be present.
    pub required: bool,
    /// A change forces replacement.
    pub force_new: bool,
    /// What it is, for docs.
    pub description: String,
    /// Its contents.
    pub block: BlockSchema,
}

/// The attributes and nested blocks of a body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlockSchema {
    /// Attributes by name.
    pub attributes: BTreeMap<String, AttributeSchema>,
    /// Nested block types by name.
    pub blocks: BTreeMap<String, NestedBlockSchema>,
}

impl BlockSchema {
    /// Add an attribute (builder style).
    pub fn attribute(mut self, name: &str, schema: AttributeSchema) -> Self {
        self.attributes.insert(name.to_string(), schema);
        self
    }

    /// Add a nested block type (builder style).
    pub fn block(mut self, name: &str, schema: NestedBlockSchema) -> Self {
        self.blocks.insert(name.to_string(), schema);
        self
    }

    /// Paths of every attribute marked sensitive, for marking values.
    pub fn sensitive_paths(&self, value: &Value) -> Vec<Vec<PathStep>> {
        let mut out = Vec::new();
        self.walk_flags(value, &mut Vec::new(), &mut out, |a| a.sensitive);
        out
    }

    /// Paths in `value` whose attribute (or block) is force-new.
    pub fn force_new_paths(&self, value: &Value) -> Vec<Vec<PathStep>> {
        let mut out = Vec::new();
        self.walk_flags(value, &mut Vec::new(), &mut out, |a| a.force_new);
        for (name, block) in &self.blocks {
            if block.force_new {
                out.push(vec![PathStep::Key(name.clone())]);
            }
        }
        out
    }

    fn walk_flags(
        &self,
        value: &Value,
        at: &mut Vec<PathStep>,
        out: &mut Vec<Vec<PathStep>>,
        flag: fn(&AttributeSchema) -> bool,
    ) {
        for (name, attr) in &self.attributes {
            if flag(attr) {
                let mut path = at.clone();
                path.push(PathStep::Key(name.clone()));
                out.push(path);
            }
        }
        for (name, nested) in &self.blocks {
            at.push(PathStep::Key(name.clone()));
            match (nested.nesting, value.get(name).map(|v| v.unmark().0)) {
                (Nesting::Single, Some(inner @ Value::Map(_))) => {
                    nested.block.walk_flags(inner, at, out, flag)
                }
                (Nesting::List, Some(Value::List(items))) => {
                    for (i, item) in items.iter().enumerate() {
                        at.push(PathStep::Index(i));
                        nested.block.walk_flags(item, at, out, flag);
                        at.pop();
                    }
                }
                _ => {}
            }
            at.pop();
        }
    }
}

/// The schema of one resource or data source type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceSchema {
    /// Schema version, for upgrading stored state.
    pub version: u32,
    /// What the type is, for docs.
    pub description: String,
    /// Its body.
    pub block: BlockSchema,
}

/// Everything a provider declares.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProviderSchema {
    /// The `provider "name" {}` block's body.
    pub provider: BlockSchema,
    /// Managed resource types.
    pub resources: BTreeMap<String, ResourceSchema>,
    /// Data source types.
    pub data_sources: BTreeMap<String, ResourceSchema>,
}
