//! Decoding a saved plan file (`mesh plan -out FILE`) and checking that it is one mesh could
//! have written: the format version first, then the shape, then the consistency of every change
//! (address, action, before and after). A plan edited by hand or cut short is refused here, with
//! where and what, before anything acts on it.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{Action, Plan, ResourceChange, PLAN_FORMAT_VERSION};
use crate::address::{parse_deposed, InstanceAddress};
use crate::config::ResourceMode;

/// Why bytes are not a usable saved plan. Messages never quote attribute values (a plan may
/// hold secrets); they name the line and column, or the change, at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedPlanError {
    /// Not JSON, or not the shape of a plan.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the decoder expected, without its position.
        message: String,
    },
    /// A plan format this build does not read.
    #[error("it has plan format version {found}, this mesh reads version {supported}")]
    Version {
        /// The `format_version` in the file.
        found: u32,
        /// [`PLAN_FORMAT_VERSION`].
        supported: u32,
    },
    /// A change that mesh cannot have planned.
    #[error("resource change {index} ({address}): {problem}")]
    Inconsistent {
        /// 0-based index in `changes`.
        index: usize,
        /// The change's address as written.
        address: String,
        /// What is wrong.
        problem: String,
    },
}

/// Only the version, read before the rest so that a plan of another format is reported as such.
#[derive(Deserialize)]
struct Header {
    format_version: Option<u32>,
}

/// Decode a saved plan and check it (see the module documentation).
pub fn decode_saved_plan(bytes: &[u8]) -> Result<Plan, SavedPlanError> {
    let header: Header = serde_json::from_slice(bytes).map_err(|e| syntax(&e))?;
    if let Some(found) = header.format_version {
        if found != PLAN_FORMAT_VERSION {
            return Err(SavedPlanError::Version {
                found,
                supported: PLAN_FORMAT_VERSION,
            });
        }
    }
    let plan: Plan = serde_json::from_slice(bytes).map_err(|e| syntax(&e))?;
    check_changes(&plan)?;
    Ok(plan)
}

fn syntax(error: &serde_json::Error) -> SavedPlanError {
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    SavedPlanError::Syntax {
        line: error.line(),
        column: error.column(),
        message: full.strip_suffix(&position).unwrap_or(&full).to_string(),
    }
}

/// Every change has a well-formed address that agrees with its module, mode, type and name, no
/// address appears twice, and the action agrees with which of before and after exist.
fn check_changes(plan: &Plan) -> Result<(), SavedPlanError> {
    let mut seen = BTreeSet::new();
    for (index, change) in plan.changes.iter().enumerate() {
        let fail = |problem: String| SavedPlanError::Inconsistent {
            index,
            address: change.address.clone(),
            problem,
        };
        check_address(change).map_err(fail)?;
        check_action(change).map_err(fail)?;
        if !seen.insert(change.address.as_str()) {
            return Err(fail("the address appears more than once".to_string()));
        }
    }
    Ok(())
}

fn check_address(change: &ResourceChange) -> Result<(), String> {
    let instance = parse_deposed(&change.address).map_or(change.address.as_str(), |(base, _)| base);
    let Some(parsed) = InstanceAddress::parse(instance) else {
        return Err("the address is not a resource instance address".to_string());
    };
    let resource = &parsed.resource;
    let agrees = resource.module.prefix() == change.module
        && resource.mode == change.mode
        && resource.resource_type == change.resource_type
        && resource.name == change.name;
    if !agrees {
        return Err(format!(
            "the address does not match its module \"{}\", type \"{}\" and name \"{}\"",
            change.module, change.resource_type, change.name
        ));
    }
    Ok(())
}

fn check_action(change: &ResourceChange) -> Result<(), String> {
    let (before, after) = (!change.before.is_null(), !change.after.is_null());
    let problem = match change.action {
        Action::Create if before => "a create has a prior object (\"before\" is not null)",
        Action::Delete if !before => "a delete has no prior object (\"before\" is null)",
        Action::Delete if after => "a delete has a planned object (\"after\" is not null)",
        Action::Update | Action::DeleteThenCreate | Action::CreateThenDelete
            if !before || !after =>
        {
            "an update or replace needs both \"before\" and \"after\""
        }
        Action::Read if change.mode != ResourceMode::Data => "only data sources are read",
        _ => return Ok(()),
    };
    Err(problem.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan_json(changes: serde_json::Value) -> serde_json::Value {
        json!({
            "format_version": PLAN_FORMAT_VERSION,
            "mesh_version": "0.1.0",
            "mode": "normal",
            "prior_state": { "lineage": null, "serial": 0 },
            "config_digest": "d",
            "variables": {},
            "changes": changes,
            "outputs": {}
        })
    }

    fn change(address: &str, action: &str, before: serde_json::Value) -> serde_json::Value {
        json!({
            "address": address, "module": "", "mode": "managed", "type": "mesh_data",
            "name": "a", "provider": "builtin", "action": action,
            "before": { "value": before }, "after": { "value": { "id": "x" } },
            "dependencies": []
        })
    }

    fn decode(doc: &serde_json::Value) -> Result<Plan, SavedPlanError> {
        decode_saved_plan(&serde_json::to_vec_pretty(doc).expect("encodes"))
    }

    #[test]
    fn a_plan_mesh_writes_decodes() {
        let doc = plan_json(json!([change("mesh_data.a", "create", json!(null))]));
        let plan = decode(&doc).expect("decodes");
        assert_eq!(plan.changes.len(), 1);
    }

    #[test]
    fn truncated_or_malformed_json_names_line_and_column() {
        let text = serde_json::to_string_pretty(&plan_json(json!([]))).expect("encodes");
        let err = decode_saved_plan(&text.as_bytes()[..text.len() / 2]).unwrap_err();
        assert!(
            matches!(err, SavedPlanError::Syntax { line, .. } if line > 1),
            "{err}"
        );
        let err = decode_saved_plan(b"{\"format_version\": 1, \"mode\": 5}").unwrap_err();
        assert!(err.to_string().starts_with("line 1, column"), "{err}");
    }

    #[test]
    fn another_format_version_is_reported_as_such() {
        let err = decode_saved_plan(b"{\"format_version\": 7}").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("it has plan format version 7, this mesh reads version {PLAN_FORMAT_VERSION}")
        );
    }

    #[test]
    fn tampered_changes_are_refused_with_their_index() {
        let cases = [
            (
                change("mesh_data.b", "create", json!(null)),
                "does not match",
            ),
            (
                change("not an address", "create", json!(null)),
                "not a resource",
            ),
            (
                change("mesh_data.a", "create", json!({"value": 1})),
                "prior object",
            ),
            (change("mesh_data.a", "update", json!(null)), "both"),
            (change("mesh_data.a", "read", json!(null)), "data sources"),
        ];
        for (bad, problem) in cases {
            let doc = plan_json(json!([bad]));
            let err = decode(&doc).unwrap_err();
            assert!(err.to_string().contains("resource change 0"), "{err}");
            assert!(err.to_string().contains(problem), "{err}");
        }
        let twice = change("mesh_data.a", "create", json!(null));
        let err = decode(&plan_json(json!([twice.clone(), twice]))).unwrap_err();
        assert!(err.to_string().contains("more than once"), "{err}");
    }
}
