//! Addresses of module instances and resource instances, as users write and read them:
//! `module.net["eu"].mesh_data.subnet[0]`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::ResourceMode;

/// The key of one instance of a repeated resource or module call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InstanceKey {
    /// Not repeated.
    None,
    /// `count` index.
    Index(usize),
    /// `for_each` key.
    Key(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::None => Ok(()),
            InstanceKey::Index(i) => write!(f, "[{i}]"),
            InstanceKey::Key(k) => write!(f, "[{}]", quote(k)),
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The path of a module instance: empty for the root.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModulePath(pub Vec<(String, InstanceKey)>);

impl ModulePath {
    /// The root module.
    pub fn root() -> ModulePath {
        ModulePath::default()
    }

    /// A child instance of this module.
    pub fn child(&self, name: &str, key: InstanceKey) -> ModulePath {
        let mut steps = self.0.clone();
        steps.push((name.to_string(), key));
        ModulePath(steps)
    }

    /// True for the root module.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The prefix that addresses inside this module start with (`module.a.` or empty).
    pub fn prefix(&self) -> String {
        let mut s = String::new();
        for (name, key) in &self.0 {
            s.push_str(&format!("module.{name}{key}."));
        }
        s
    }

    /// The parent instance and the last step, or None at the root.
    pub fn split_last(&self) -> Option<(ModulePath, &(String, InstanceKey))> {
        let (last, rest) = self.0.split_last()?;
        Some((ModulePath(rest.to_vec()), last))
    }
}

impl fmt::Display for ModulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.prefix().trim_end_matches('.'))
    }
}

/// A resource (all its instances) inside one module instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceAddress {
    /// The module instance.
    pub module: ModulePath,
    /// Managed or data.
    pub mode: ResourceMode,
    /// The type.
    pub resource_type: String,
    /// The name.
    pub name: String,
}

impl ResourceAddress {
    /// The address of one of its instances.
    pub fn instance(&self, key: InstanceKey) -> String {
        format!("{self}{key}")
    }
}

impl fmt::Display for ResourceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = if self.mode == ResourceMode::Data { "data." } else { "" };
        write!(f, "{}{data}{}.{}", self.module.prefix(), self.resource_type, self.name)
    }
}

/// True when `address` is `pattern` or lies under it (a resource's instances, a module's
/// contents): `mesh_data.a` matches `mesh_data.a[0]` but not `mesh_data.ab`.
pub fn address_matches(pattern: &str, address: &str) -> bool {
    match address.strip_prefix(pattern) {
        Some(rest) => rest.is_empty() || rest.starts_with('[') || rest.starts_with('.'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_nested_addresses() {
        let m = ModulePath::root().child("net", InstanceKey::Key("eu".into())).child("sub", InstanceKey::Index(1));
        let r = ResourceAddress {
            module: m,
            mode: ResourceMode::Managed,
            resource_type: "mesh_data".into(),
            name: "x".into(),
        };
        assert_eq!(r.instance(InstanceKey::Index(0)), "module.net[\"eu\"].module.sub[1].mesh_data.x[0]");
    }

    #[test]
    fn matching_respects_boundaries() {
        assert!(address_matches("mesh_data.a", "mesh_data.a[0]"));
        assert!(address_matches("module.m", "module.m.mesh_data.a"));
        assert!(!address_matches("mesh_data.a", "mesh_data.ab"));
    }
}
