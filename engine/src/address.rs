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
        let data = if self.mode == ResourceMode::Data {
            "data."
        } else {
            ""
        };
        write!(
            f,
            "{}{data}{}.{}",
            self.module.prefix(),
            self.resource_type,
            self.name
        )
    }
}

/// The parts of a resource instance address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceAddress {
    /// The resource.
    pub resource: ResourceAddress,
    /// The instance key.
    pub key: InstanceKey,
}

impl InstanceAddress {
    /// Parse `module.a["x"].data.t.n[0]`; None when it is not an instance address.
    pub fn parse(address: &str) -> Option<InstanceAddress> {
        let mut rest = address;
        let mut module = ModulePath::root();
        while let Some(after) = rest.strip_prefix("module.") {
            let (name, key, tail) = name_and_key(after)?;
            module = module.child(name, key);
            rest = tail.strip_prefix('.')?;
        }
        let (mode, rest) = match rest.strip_prefix("data.") {
            Some(r) => (ResourceMode::Data, r),
            None => (ResourceMode::Managed, rest),
        };
        let (resource_type, after_type) = rest.split_once('.')?;
        let (name, key, tail) = name_and_key(after_type)?;
        if !tail.is_empty() {
            return None;
        }
        Some(InstanceAddress {
            resource: ResourceAddress {
                module,
                mode,
                resource_type: resource_type.to_string(),
                name: name.to_string(),
            },
            key,
        })
    }
}

/// `name[key]rest` → (name, key, rest).
fn name_and_key(s: &str) -> Option<(&str, InstanceKey, &str)> {
    let end = s.find(['[', '.']).unwrap_or(s.len());
    let name = &s[..end];
    if name.is_empty() {
        return None;
    }
    let rest = &s[end..];
    let Some(inner) = rest.strip_prefix('[') else {
        return Some((name, InstanceKey::None, rest));
    };
    if inner.starts_with('"') {
        let mut de = serde_json::Deserializer::from_str(inner).into_iter::<String>();
        let key = de.next()?.ok()?;
        let consumed = de.byte_offset();
        let tail = inner[consumed..].strip_prefix(']')?;
        return Some((name, InstanceKey::Key(key), tail));
    }
    let close = inner.find(']')?;
    let index = inner[..close].parse().ok()?;
    Some((name, InstanceKey::Index(index), &inner[close + 1..]))
}

/// The pseudo-address of an old object that create_before_destroy left behind because its
/// deletion failed: `mesh_data.a (deposed object 1a2b3c4d)`. Plans destroy it like an orphan.
pub fn deposed_address(address: &str, id: &str) -> String {
    format!("{address} (deposed object {id})")
}

/// Split a deposed pseudo-address into the instance address and the deposed id.
pub fn parse_deposed(address: &str) -> Option<(&str, &str)> {
    let (base, rest) = address.split_once(" (deposed object ")?;
    Some((base, rest.strip_suffix(')')?))
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
        let m = ModulePath::root()
            .child("net", InstanceKey::Key("eu".into()))
            .child("sub", InstanceKey::Index(1));
        let r = ResourceAddress {
            module: m,
            mode: ResourceMode::Managed,
            resource_type: "mesh_data".into(),
            name: "x".into(),
        };
        assert_eq!(
            r.instance(InstanceKey::Index(0)),
            "module.net[\"eu\"].module.sub[1].mesh_data.x[0]"
        );
    }

    #[test]
    fn parses_what_it_formats() {
        for a in [
            "mesh_data.x",
            "data.test_echo.e[2]",
            "module.net[\"e.u\"].module.sub[1].mesh_data.x[\"k]\"]",
        ] {
            let parsed = InstanceAddress::parse(a).expect(a);
            assert_eq!(parsed.resource.instance(parsed.key.clone()), a);
        }
        assert!(InstanceAddress::parse("mesh_data").is_none());
    }

    #[test]
    fn matching_respects_boundaries() {
        assert!(address_matches("mesh_data.a", "mesh_data.a[0]"));
        assert!(address_matches("module.m", "module.m.mesh_data.a"));
        assert!(!address_matches("mesh_data.a", "mesh_data.ab"));
    }
}
