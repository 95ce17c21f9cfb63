//! Address matching and the bulk edits built on it (`state mv`, `state rm`).
//!
//! Addresses are compared as text; this module only knows their outline:
//! dot-separated segments, `module.NAME` pairs and `[key]` instance keys.

use std::collections::HashSet;

use crate::document::StateDocument;
use crate::error::StateError;

/// Whether `address` is `pattern` itself or lies under it.
///
/// A resource pattern (`mesh_data.a`) matches its instances (`mesh_data.a[0]`,
/// `mesh_data.a["k"]`); a module pattern (`module.x`, `module.x["a"]`) matches
/// everything inside that module. `mesh_data.a` never matches `mesh_data.ab`.
pub fn address_matches(pattern: &str, address: &str) -> bool {
    match address.strip_prefix(pattern) {
        Some("") => true,
        Some(rest) if rest.starts_with('[') => !pattern.ends_with(']'),
        Some(rest) if rest.starts_with('.') => is_module_path(pattern),
        _ => false,
    }
}

/// Split an address on the dots that are outside keys and strings.
fn segments(address: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, c) in address.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                parts.push(&address[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&address[start..]);
    parts
}

/// Whether `address` has the outline of a resource instance address: `module.NAME[KEY]`
/// pairs, then `data` or not, then `TYPE.NAME[KEY]`, where keys are numbers or JSON strings.
pub(crate) fn is_instance_address(address: &str) -> bool {
    let parts = segments(address);
    let mut rest = parts.as_slice();
    while let ["module", call, tail @ ..] = rest {
        if !is_name_with_key(call) {
            return false;
        }
        rest = tail;
    }
    if let ["data", tail @ ..] = rest {
        rest = tail;
    }
    matches!(rest, [kind, name] if is_identifier(kind) && is_name_with_key(name))
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// `name`, `name[0]` or `name["key"]`.
fn is_name_with_key(text: &str) -> bool {
    let Some(open) = text.find('[') else {
        return is_identifier(text);
    };
    let (name, key) = text.split_at(open);
    let Some(inner) = key.strip_prefix('[').and_then(|k| k.strip_suffix(']')) else {
        return false;
    };
    let numeric = !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit());
    let quoted = serde_json::from_str::<String>(inner).is_ok();
    is_identifier(name) && (numeric || quoted)
}

/// `module.a`, `module.a["k"].module.b`, … (but not a resource inside one).
fn is_module_path(address: &str) -> bool {
    let parts = segments(address);
    parts
        .chunks(2)
        .all(|pair| pair.len() == 2 && pair[0] == "module")
}

impl StateDocument {
    /// Rename an instance, or every instance under a resource or module
    /// prefix (like `terraform state mv`), deposed objects included.
    ///
    /// `mv("mesh_data.a", "mesh_data.b")` moves `mesh_data.a`, `mesh_data.a[0]`
    /// and `mesh_data.a["k"]`; `mv("module.x", "module.y")` moves everything
    /// under `module.x`. Dependencies pointing at moved addresses are
    /// rewritten. Returns the number of objects moved. Fails if nothing
    /// matches, if the destination is already in use, or if the addresses
    /// are of different kinds (module versus resource).
    pub fn move_address(&mut self, from: &str, to: &str) -> Result<usize, StateError> {
        let invalid = |reason: String| StateError::InvalidMove {
            from: from.to_string(),
            to: to.to_string(),
            reason,
        };
        if from.is_empty() || to.is_empty() {
            return Err(invalid("addresses must not be empty".to_string()));
        }
        if from == to {
            return Err(invalid(
                "the source and the destination are the same".to_string(),
            ));
        }
        match (is_module_path(from), is_module_path(to)) {
            (true, false) => {
                return Err(invalid(
                    "a module can only move to a module address".to_string(),
                ))
            }
            (false, true) => {
                return Err(invalid(
                    "a resource cannot move to a module address".to_string(),
                ))
            }
            _ => {}
        }

        let moved: Vec<usize> = (0..self.resources.len())
            .filter(|&i| address_matches(from, &self.resources[i].address))
            .collect();
        if moved.is_empty() {
            return Err(StateError::NoMatch {
                address: from.to_string(),
            });
        }
        if to.ends_with(']') {
            if let Some(keyed) = moved
                .iter()
                .map(|&i| &self.resources[i].address)
                .find(|a| a[from.len()..].starts_with('['))
            {
                return Err(invalid(format!(
                    "{keyed} has its own instance key, so the destination must not have one"
                )));
            }
        }
        let moving: HashSet<usize> = moved.iter().copied().collect();
        if let Some(existing) = self
            .resources
            .iter()
            .enumerate()
            .find(|(i, r)| !moving.contains(i) && address_matches(to, &r.address))
        {
            return Err(StateError::DestinationExists {
                to: to.to_string(),
                existing: existing.1.address.clone(),
            });
        }

        let rename = |address: &str| format!("{to}{}", &address[from.len()..]);
        // A state with an address that is not one cannot be loaded again.
        if let Some(bad) = moved
            .iter()
            .map(|&i| rename(&self.resources[i].address))
            .find(|a| !is_instance_address(a))
        {
            return Err(invalid(format!(
                "{bad} would not be a resource instance address"
            )));
        }
        for &i in &moved {
            self.resources[i].address = rename(&self.resources[i].address);
        }
        for resource in &mut self.resources {
            for dependency in &mut resource.dependencies {
                if address_matches(from, dependency) {
                    *dependency = rename(dependency);
                }
            }
        }
        // Renamed objects may now sort elsewhere.
        self.sort();
        Ok(moved.len())
    }

    /// Remove an instance, or every instance under a resource or module
    /// prefix, deposed objects included. Returns the removed addresses,
    /// sorted; fails if nothing matches.
    pub fn remove_matching(&mut self, address: &str) -> Result<Vec<String>, StateError> {
        let mut removed = Vec::new();
        self.resources.retain(|r| {
            let matches = address_matches(address, &r.address);
            if matches {
                removed.push(r.address.clone());
            }
            !matches
        });
        if removed.is_empty() {
            return Err(StateError::NoMatch {
                address: address.to_string(),
            });
        }
        removed.sort();
        removed.dedup();
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::tests::instance;

    #[test]
    fn instance_address_outlines() {
        for good in [
            "mesh_data.a",
            "data.azure_client_config.current",
            "mesh_data.a[0]",
            "mesh_data.a[\"k.e]y\"]",
            "module.net[\"eu\"].module.sub[2].test_resource.x-y",
        ] {
            assert!(is_instance_address(good), "{good}");
        }
        for bad in [
            "",
            "not an address!",
            "mesh_data",
            "mesh_data.",
            "mesh_data.a.b",
            "module.m",
            "mesh_data.a[x]",
            "mesh_data.a[]",
            "mesh_data.a[\"open]",
            "9type.a",
        ] {
            assert!(!is_instance_address(bad), "{bad}");
        }
    }

    #[test]
    fn a_move_to_something_that_is_not_an_address_is_refused() {
        let mut state = doc(&["mesh_data.a", "mesh_data.b[0]"]);
        for to in ["garbage!", "mesh_data.a.b", "mesh data.x"] {
            let err = state.move_address("mesh_data.a", to).unwrap_err();
            assert!(
                err.to_string()
                    .contains("would not be a resource instance address"),
                "{to}: {err}"
            );
        }
        assert_eq!(state.addresses(), ["mesh_data.a", "mesh_data.b[0]"]);
        assert_eq!(
            state
                .move_address("mesh_data.b", "mesh_data.c")
                .expect("moves"),
            1
        );
    }

    fn doc(addresses: &[&str]) -> StateDocument {
        let mut doc = StateDocument::new();
        for address in addresses {
            doc.upsert(instance(address));
        }
        doc
    }

    #[test]
    fn matching_respects_segment_boundaries() {
        assert!(address_matches("mesh_data.a", "mesh_data.a"));
        assert!(address_matches("mesh_data.a", "mesh_data.a[0]"));
        assert!(address_matches("mesh_data.a", "mesh_data.a[\"k\"]"));
        assert!(!address_matches("mesh_data.a", "mesh_data.ab"));
        assert!(!address_matches("mesh_data.a", "mesh_data.ab[0]"));
        assert!(!address_matches("mesh_data.a[0]", "mesh_data.a[01]"));
        assert!(!address_matches("mesh_data", "mesh_data.a"));
        assert!(address_matches("module.x", "module.x.mesh_data.a"));
        assert!(address_matches("module.x", "module.x[\"a.b\"].mesh_data.a"));
        assert!(address_matches(
            "module.x[\"a.b\"]",
            "module.x[\"a.b\"].mesh_data.a"
        ));
        assert!(!address_matches(
            "module.x[\"a\"]",
            "module.x[\"b\"].mesh_data.a"
        ));
        assert!(!address_matches("module.x", "module.xy.mesh_data.a"));
        assert!(!address_matches(
            "module.x.mesh_data.a",
            "module.x.mesh_data.a.b"
        ));
        assert!(address_matches(
            "module.x.module.y",
            "module.x.module.y.data.t.n"
        ));
        assert!(is_module_path("module.x[\"a.b\"].module.y"));
        assert!(!is_module_path("module.x.mesh_data.a"));
    }

    #[test]
    fn move_renames_a_resource_and_its_instances_only() {
        let mut doc = doc(&[
            "mesh_data.a[0]",
            "mesh_data.a[\"k\"]",
            "mesh_data.ab",
            "mesh_data.c",
        ]);
        let mut dependent = instance("mesh_data.d");
        dependent.dependencies = vec!["mesh_data.a[0]".into(), "mesh_data.ab".into()];
        doc.upsert(dependent);

        assert_eq!(
            doc.move_address("mesh_data.a", "mesh_data.b")
                .expect("move"),
            2
        );
        assert_eq!(
            doc.addresses(),
            vec![
                "mesh_data.ab",
                "mesh_data.b[\"k\"]",
                "mesh_data.b[0]",
                "mesh_data.c",
                "mesh_data.d"
            ]
        );
        let deps = &doc.instance("mesh_data.d").expect("d").dependencies;
        assert_eq!(
            deps,
            &vec!["mesh_data.b[0]".to_string(), "mesh_data.ab".to_string()]
        );
    }

    #[test]
    fn move_renames_a_single_instance_and_whole_modules() {
        let mut doc = doc(&[
            "mesh_data.a",
            "module.x.mesh_data.a",
            "module.x[\"k\"].mesh_data.b",
        ]);
        assert_eq!(
            doc.move_address("mesh_data.a", "mesh_data.a[0]")
                .expect("move"),
            1
        );
        assert_eq!(doc.move_address("module.x", "module.y").expect("move"), 2);
        assert_eq!(
            doc.addresses(),
            vec![
                "mesh_data.a[0]",
                "module.y.mesh_data.a",
                "module.y[\"k\"].mesh_data.b"
            ]
        );
    }

    #[test]
    fn move_refuses_conflicts_and_mismatches() {
        let mut doc = doc(&["mesh_data.a[0]", "mesh_data.b[5]", "module.x.mesh_data.a"]);
        let before = doc.clone();

        let err = doc
            .move_address("mesh_data.a", "mesh_data.b")
            .expect_err("occupied");
        assert!(
            matches!(&err, StateError::DestinationExists { existing, .. } if existing == "mesh_data.b[5]")
        );
        let err = doc
            .move_address("mesh_data.zz", "mesh_data.y")
            .expect_err("no match");
        assert_eq!(
            err.to_string(),
            "no resource instance in the state matches the address mesh_data.zz"
        );
        assert!(matches!(
            doc.move_address("module.x", "mesh_data.q"),
            Err(StateError::InvalidMove { .. })
        ));
        assert!(matches!(
            doc.move_address("mesh_data.a", "module.q"),
            Err(StateError::InvalidMove { .. })
        ));
        assert!(matches!(
            doc.move_address("mesh_data.a", "mesh_data.q[1]"),
            Err(StateError::InvalidMove { .. })
        ));
        assert!(matches!(
            doc.move_address("mesh_data.a", "mesh_data.a"),
            Err(StateError::InvalidMove { .. })
        ));
        assert_eq!(doc, before, "failed moves must not change anything");
    }

    #[test]
    fn remove_matching_removes_prefixes_but_not_neighbours() {
        let mut doc = doc(&[
            "mesh_data.a",
            "mesh_data.a[1]",
            "mesh_data.ab",
            "module.m[\"x\"].mesh_data.a",
            "module.mm.mesh_data.a",
        ]);
        let mut deposed = instance("mesh_data.a[1]");
        deposed.deposed = Some("d".into());
        doc.upsert(deposed);

        assert_eq!(
            doc.remove_matching("mesh_data.a").expect("rm"),
            vec!["mesh_data.a", "mesh_data.a[1]"]
        );
        assert_eq!(
            doc.remove_matching("module.m").expect("rm"),
            vec!["module.m[\"x\"].mesh_data.a"]
        );
        assert_eq!(
            doc.addresses(),
            vec!["mesh_data.ab", "module.mm.mesh_data.a"]
        );
        assert!(matches!(
            doc.remove_matching("mesh_data.a"),
            Err(StateError::NoMatch { .. })
        ));
    }
}
