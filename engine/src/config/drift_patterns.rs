//! The two pattern languages of drift rules.
//!
//! An **address pattern** is a resource instance address in which `*` may stand for any run of
//! characters inside a module, type or resource name, and `[*]` (or no key at all) for any
//! instance key: `module.region[*].azure_kubernetes_node_pool.user`, `kubernetes_manifest.*`.
//! Addresses are absolute, as everywhere in mesh: a pattern without `module.` matches only the
//! root module's resources. A pattern made of module steps only (`module.monitoring`) matches
//! everything inside those module instances, nested modules included.
//!
//! An **attribute pattern** is a path into a resource's attributes: names joined by dots, map
//! keys that are not plain names in brackets (`metadata.annotations["example.com/owner"]`), list
//! indexes (`[0]`), and `*` or `[*]` for any one key or index. A pattern covers every change at
//! or below the path it names.

use std::fmt;

use crate::address::{InstanceAddress, InstanceKey};
use crate::config::ResourceMode;
use crate::value::PathStep;

/// A resource address pattern, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPattern {
    text: String,
    modules: Vec<(NamePattern, KeyPattern)>,
    resource: Option<ResourcePattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ResourcePattern {
    resource_type: NamePattern,
    name: NamePattern,
    key: KeyPattern,
}

/// A name in which each `*` matches any run of characters, possibly empty.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NamePattern(String);

/// An instance key, or any.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyPattern {
    Any,
    Exact(InstanceKey),
}

impl AddressPattern {
    /// Parse a pattern; the error says what is wrong, for a diagnostic.
    pub fn parse(text: &str) -> Result<AddressPattern, String> {
        let mut modules = Vec::new();
        let mut rest = text;
        while let Some(after) = rest.strip_prefix("module.") {
            let (name, tail) = name_token(after, true)?;
            let (key, tail) = instance_key(tail)?;
            modules.push((NamePattern(name.to_string()), key));
            if tail.is_empty() {
                return Ok(AddressPattern {
                    text: text.to_string(),
                    modules,
                    resource: None,
                });
            }
            rest = tail
                .strip_prefix('.')
                .ok_or_else(|| format!("unexpected \"{tail}\" after a module step"))?;
        }
        if rest.starts_with("data.") {
            return Err(
                "data sources are read, not managed, so they never drift: drift rules name \
                 managed resources"
                    .to_string(),
            );
        }
        let resource = resource_pattern(rest)?;
        Ok(AddressPattern {
            text: text.to_string(),
            modules,
            resource: Some(resource),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the pattern matches this managed resource instance.
    pub fn matches(&self, address: &InstanceAddress) -> bool {
        if address.resource.mode != ResourceMode::Managed {
            return false;
        }
        let steps = &address.resource.module.0;
        let modules_match = |n: usize| {
            self.modules
                .iter()
                .zip(steps.iter().take(n))
                .all(|((name, key), (step, step_key))| name.matches(step) && key.matches(step_key))
        };
        match &self.resource {
            None => steps.len() >= self.modules.len() && modules_match(self.modules.len()),
            Some(r) => {
                steps.len() == self.modules.len()
                    && modules_match(steps.len())
                    && r.resource_type.matches(&address.resource.resource_type)
                    && r.name.matches(&address.resource.name)
                    && r.key.matches(&address.key)
            }
        }
    }
}

impl fmt::Display for AddressPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `TYPE.NAME[KEY]`, the end of an address pattern.
fn resource_pattern(text: &str) -> Result<ResourcePattern, String> {
    let (resource_type, tail) = name_token(text, true)?;
    if tail.is_empty() {
        return Err(format!(
            "\"{text}\" names no resource: write TYPE.NAME, such as \
             azure_kubernetes_node_pool.user or kubernetes_manifest.*"
        ));
    }
    let Some(after_type) = tail.strip_prefix('.') else {
        return Err(format!("unexpected \"{tail}\" after the resource type"));
    };
    let (name, tail) = name_token(after_type, true)?;
    let (key, tail) = instance_key(tail)?;
    if !tail.is_empty() {
        return Err(format!(
            "unexpected \"{tail}\" after the resource name: a pattern ends with TYPE.NAME or \
             TYPE.NAME[KEY]"
        ));
    }
    Ok(ResourcePattern {
        resource_type: NamePattern(resource_type.to_string()),
        name: NamePattern(name.to_string()),
        key,
    })
}

/// A leading name (letters, digits, `_`, `-`, and `*` when `wildcards`), and what follows it.
fn name_token(text: &str, wildcards: bool) -> Result<(&str, &str), String> {
    let end = text
        .find(|c: char| {
            !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || (wildcards && c == '*'))
        })
        .unwrap_or(text.len());
    if end == 0 {
        return Err(match text.chars().next() {
            None => "the pattern ends where a name was expected".to_string(),
            Some(c) => format!("expected a name at \"{text}\", found '{c}'"),
        });
    }
    Ok(text.split_at(end))
}

/// An optional `[KEY]` at the start of `text`: `[0]`, `["name"]` or `[*]`.
fn instance_key(text: &str) -> Result<(KeyPattern, &str), String> {
    let Some(inner) = text.strip_prefix('[') else {
        return Ok((KeyPattern::Any, text));
    };
    let (key, tail) = bracket_key(inner)?;
    let key = match key {
        BracketKey::Any => KeyPattern::Any,
        BracketKey::Index(i) => KeyPattern::Exact(InstanceKey::Index(i)),
        BracketKey::Key(k) => KeyPattern::Exact(InstanceKey::Key(k)),
    };
    Ok((key, tail))
}

/// What is between brackets: `*`, a number or a JSON-quoted string.
enum BracketKey {
    Any,
    Index(usize),
    Key(String),
}

/// Parse the inside of `[...]` (the `[` already consumed) and what follows the `]`.
fn bracket_key(inner: &str) -> Result<(BracketKey, &str), String> {
    const FORMS: &str = "a key is written [0], [\"name\"] or [*]";
    if let Some(tail) = inner.strip_prefix("*]") {
        return Ok((BracketKey::Any, tail));
    }
    if inner.starts_with('"') {
        let mut strings = serde_json::Deserializer::from_str(inner).into_iter::<String>();
        let Some(Ok(key)) = strings.next() else {
            return Err(format!(
                "unterminated or invalid quoted key in \"[{inner}\": {FORMS}"
            ));
        };
        let tail = inner[strings.byte_offset()..]
            .strip_prefix(']')
            .ok_or_else(|| format!("missing ']' after the key \"{key}\""))?;
        return Ok((BracketKey::Key(key), tail));
    }
    let close = inner
        .find(']')
        .ok_or_else(|| format!("missing ']' in \"[{inner}\""))?;
    let index = inner[..close]
        .parse()
        .map_err(|_| format!("\"[{}]\" is not a valid key: {FORMS}", &inner[..close]))?;
    Ok((BracketKey::Index(index), &inner[close + 1..]))
}

impl NamePattern {
    fn matches(&self, name: &str) -> bool {
        glob_matches(&self.0, name)
    }
}

impl KeyPattern {
    fn matches(&self, key: &InstanceKey) -> bool {
        match self {
            KeyPattern::Any => true,
            KeyPattern::Exact(k) => k == key,
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// An attribute path pattern, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributePattern {
    text: String,
    steps: Vec<AttributeStep>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AttributeStep {
    Key(String),
    Index(usize),
    Any,
}

impl AttributePattern {
    /// Parse a path such as `node_count`, `metadata.annotations["example.com/owner"]` or
    /// `spec.containers[*].image`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<AttributePattern, String> {
        let (first, mut rest) = attribute_name(text)?;
        let mut steps = vec![first];
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let (step, tail) = attribute_name(after)?;
                steps.push(step);
                rest = tail;
            } else if let Some(inner) = rest.strip_prefix('[') {
                let (key, tail) = bracket_key(inner)?;
                steps.push(match key {
                    BracketKey::Any => AttributeStep::Any,
                    BracketKey::Index(i) => AttributeStep::Index(i),
                    BracketKey::Key(k) => AttributeStep::Key(k),
                });
                rest = tail;
            } else {
                return Err(format!(
                    "unexpected \"{rest}\": steps are joined by '.' or written in brackets"
                ));
            }
        }
        Ok(AttributePattern {
            text: text.to_string(),
            steps,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Always false: a pattern has at least one step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// True when a change at `path` is at or below what the pattern names.
    pub fn covers(&self, path: &[PathStep]) -> bool {
        path.len() >= self.steps.len()
            && self
                .steps
                .iter()
                .zip(path)
                .all(|(want, got)| match (want, got) {
                    (AttributeStep::Any, _) => true,
                    (AttributeStep::Key(a), PathStep::Key(b)) => a == b,
                    (AttributeStep::Index(a), PathStep::Index(b)) => a == b,
                    _ => false,
                })
    }
}

impl fmt::Display for AttributePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One dotted step (a name, or `*` for any key) and what follows it.
fn attribute_name(text: &str) -> Result<(AttributeStep, &str), String> {
    let (name, tail) = name_token(text, true)?;
    if name == "*" {
        return Ok((AttributeStep::Any, tail));
    }
    if name.contains('*') {
        return Err(format!(
            "\"{name}\": in an attribute path `*` stands for one whole key or index, not part \
             of a name"
        ));
    }
    Ok((AttributeStep::Key(name.to_string()), tail))
}

#[cfg(test)]
mod tests;
