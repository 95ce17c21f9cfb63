//! What [`super::Provider::check_deployment`] sees: every managed resource instance of a plan,
//! of every provider, with its planned value and its configuration.
//!
//! A check across providers often needs to know *where* a value will come from before it is
//! known: which root CA signs an intermediate whose certificate is made at apply, which AKS
//! cluster a Kubernetes object lives in while the cluster itself is still being created. So
//! the configuration a check sees is evaluated symbolically: each value known only after apply
//! is replaced by a placeholder string naming the resource attribute it will come from
//! ([`Deployment::origin`]). Placeholders survive being passed around unchanged (module
//! variables and outputs, whole objects) and being embedded in strings (templates); a
//! configuration whose evaluation needs the real value (arithmetic, CIDR functions) keeps its
//! ordinary unknowns instead.

use std::collections::BTreeMap;

use crate::value::{PathStep, Value};

/// The placeholder text before its number.
const PLACEHOLDER_START: &str = "__unknown_";
/// The placeholder text after its number.
const PLACEHOLDER_END: &str = "__";

/// Where a value known only after apply will come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnknownOrigin {
    /// The resource instance (or data source) that will know it.
    pub address: String,
    /// The attribute path inside that instance, e.g. `cert_pem` or `network_profile.pod_cidr`
    /// (empty when the whole value is unknown).
    pub attribute: String,
}

/// One managed resource instance of a plan, for [`super::Provider::check_deployment`].
#[derive(Debug, Clone)]
pub struct DeploymentResource {
    /// Instance address.
    pub address: String,
    /// Resource type.
    pub resource_type: String,
    /// The planned value: what the provider planned (unknowns where known only after apply),
    /// or the stored value when nothing changes.
    pub planned: Value,
    /// The configuration, evaluated with placeholders for values known only after apply (see
    /// the module doc); not yet normalized by the provider.
    pub config: Value,
}

/// Every managed resource instance a plan creates, keeps or changes (not those it deletes).
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// The instances, in plan order.
    pub resources: Vec<DeploymentResource>,
    origins: Vec<UnknownOrigin>,
}

impl Deployment {
    /// A deployment of `resources`; `origins` are what the placeholders of their configurations
    /// stand for, made with [`Origins`].
    pub fn new(resources: Vec<DeploymentResource>, origins: Origins) -> Deployment {
        Deployment {
            resources,
            origins: origins.list,
        }
    }

    /// The resource instance at an address.
    pub fn resource(&self, address: &str) -> Option<&DeploymentResource> {
        self.resources.iter().find(|r| r.address == address)
    }

    /// Where a value comes from, when it is exactly one placeholder.
    pub fn origin(&self, value: &Value) -> Option<&UnknownOrigin> {
        let text = value.unmark().0.as_str()?;
        let (number, rest) = placeholder_at(text)?;
        if !rest.is_empty() || !text.starts_with(PLACEHOLDER_START) {
            return None;
        }
        self.origins.get(number)
    }

    /// Where the placeholders embedded in a text come from, in order.
    pub fn origins_in(&self, text: &str) -> Vec<&UnknownOrigin> {
        let mut found = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(PLACEHOLDER_START) {
            match placeholder_at(&rest[start..]) {
                Some((number, after)) => {
                    found.extend(self.origins.get(number));
                    rest = after;
                }
                None => rest = &rest[start + PLACEHOLDER_START.len()..],
            }
        }
        found
    }
}

/// True when a text holds a placeholder: a value that is not known yet.
pub fn has_placeholder(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find(PLACEHOLDER_START) {
        if placeholder_at(&rest[start..]).is_some() {
            return true;
        }
        rest = &rest[start + PLACEHOLDER_START.len()..];
    }
    false
}

/// The number of the placeholder that `text` starts with, and the text after it.
fn placeholder_at(text: &str) -> Option<(usize, &str)> {
    let digits = text.strip_prefix(PLACEHOLDER_START)?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let number = digits[..end].parse().ok()?;
    let rest = digits[end..].strip_prefix(PLACEHOLDER_END)?;
    Some((number, rest))
}

/// The placeholders handed out while making a [`Deployment`].
#[derive(Debug, Clone, Default)]
pub struct Origins {
    list: Vec<UnknownOrigin>,
}

impl Origins {
    /// No placeholders yet.
    pub fn new() -> Origins {
        Origins::default()
    }

    /// `value` with each unknown in it replaced by a placeholder for `address` and the path
    /// where the unknown sits; sensitive marks are kept.
    pub fn symbolize(&mut self, address: &str, value: &Value) -> Value {
        let mut path = Vec::new();
        self.symbolize_at(address, value, &mut path)
    }

    fn symbolize_at(&mut self, address: &str, value: &Value, path: &mut Vec<PathStep>) -> Value {
        match value {
            Value::Unknown => {
                let number = self.list.len();
                self.list.push(UnknownOrigin {
                    address: address.to_string(),
                    attribute: dotted(path),
                });
                Value::String(format!("{PLACEHOLDER_START}{number}{PLACEHOLDER_END}"))
            }
            Value::Sensitive(inner) => self.symbolize_at(address, inner, path).into_sensitive(),
            Value::List(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        path.push(PathStep::Index(i));
                        let v = self.symbolize_at(address, item, path);
                        path.pop();
                        v
                    })
                    .collect(),
            ),
            Value::Map(map) => Value::Map(
                map.iter()
                    .map(|(k, item)| {
                        path.push(PathStep::Key(k.clone()));
                        let v = self.symbolize_at(address, item, path);
                        path.pop();
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// `a.b[0].c`.
fn dotted(path: &[PathStep]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            PathStep::Key(k) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(k);
            }
            PathStep::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

/// A deployment-wide finding, with the spec locations of the resources it names, as the plan
/// walk reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedFinding {
    /// The provider whose check found it.
    pub provider: String,
    /// The finding.
    pub finding: super::PlanFinding,
    /// Where each resource it names (its address and related ones) is declared, when found.
    pub locations: BTreeMap<String, crate::diagnostics::SourceLocation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn unknowns_become_placeholders_that_name_their_origin() {
        let mut origins = Origins::new();
        let planned = map(&[
            ("name", Value::string("root")),
            ("cert_pem", Value::Unknown),
            (
                "nested",
                map(&[("list", Value::List(vec![Value::Null, Value::Unknown]))]),
            ),
            ("key", Value::Unknown.into_sensitive()),
        ]);
        let symbolic = origins.symbolize("pki_root_ca.mesh", &planned);
        let deployment = Deployment::new(Vec::new(), origins);
        let cert = symbolic.get("cert_pem").cloned().unwrap_or(Value::Null);
        assert_eq!(
            deployment.origin(&cert),
            Some(&UnknownOrigin {
                address: "pki_root_ca.mesh".into(),
                attribute: "cert_pem".into()
            })
        );
        let nested = symbolic.get_at(&[
            PathStep::Key("nested".into()),
            PathStep::Key("list".into()),
            PathStep::Index(1),
        ]);
        let origin = deployment.origin(nested.unwrap_or(&Value::Null));
        assert_eq!(origin.map(|o| o.attribute.as_str()), Some("nested.list[1]"));
        let key = symbolic.get("key").cloned().unwrap_or(Value::Null);
        assert!(key.unmark().1, "the sensitive mark stays");
        assert_eq!(
            deployment.origin(&key).map(|o| o.attribute.as_str()),
            Some("key")
        );
        assert_eq!(symbolic.get("name"), Some(&Value::string("root")));
    }

    #[test]
    fn placeholders_are_found_inside_texts() {
        let mut origins = Origins::new();
        let a = origins.symbolize("a.one", &Value::Unknown);
        let b = origins.symbolize("b.two", &Value::Unknown);
        let deployment = Deployment::new(Vec::new(), origins);
        let text = format!(
            "address: {}\nport: {}:15443",
            a.as_str().unwrap_or_default(),
            b.as_str().unwrap_or_default()
        );
        let found: Vec<&str> = deployment
            .origins_in(&text)
            .iter()
            .map(|o| o.address.as_str())
            .collect();
        assert_eq!(found, ["a.one", "b.two"]);
        assert!(has_placeholder(&text));
        assert!(!has_placeholder("__unknown_x__ and __unknown_"));
        assert_eq!(deployment.origin(&Value::string(text)), None, "not alone");
    }
}
