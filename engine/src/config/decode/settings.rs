//! Decoding `mesh { backend "TYPE" { ... } encryption { ... } }` into [`MeshSettings`].
//!
//! Values must be literal strings, numbers or bools: the settings are needed to find the state,
//! before any variable or expression can be evaluated. Several `mesh` blocks add up, but the
//! backend and the encryption may each be declared once.

use std::collections::BTreeMap;
use std::sync::Arc;

use hcl_edit::expr::Expression;
use hcl_edit::structure::Block;
use hcl_edit::Span;

use super::{block_location, check_allowed, literal_str, ModuleCall};
use crate::config::settings::{LiteralBlock, LiteralSetting};
use crate::config::Module;
use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile};

/// Add the settings of one `mesh` block to `module`.
pub(super) fn decode_mesh(
    block: &Block,
    file: &Arc<SourceFile>,
    module: &mut Module,
    diags: &mut Diagnostics,
) {
    check_allowed(block, file, &[], &["backend", "encryption"], diags);
    let mut has_settings = false;
    for nested in block.body.blocks() {
        let (labels, slot) = match nested.ident.as_str() {
            "backend" => (1, &mut module.settings.backend),
            "encryption" => (0, &mut module.settings.encryption),
            _ => continue,
        };
        has_settings = true;
        let Some(decoded) = decode_literal_block(nested, labels, file, diags) else {
            continue;
        };
        if let Some(first) = slot {
            diags.push(Diagnostic::error(
                format!("Duplicate {} block", nested.ident.as_str()),
                format!(
                    "a {} block was already declared at {}; declare it once",
                    nested.ident.as_str(),
                    first.location
                ),
                Some(decoded.location),
            ));
            continue;
        }
        *slot = Some(decoded);
    }
    if has_settings {
        module.settings.blocks.push(block_location(file, block));
    }
}

fn decode_literal_block(
    block: &Block,
    labels: usize,
    file: &Arc<SourceFile>,
    diags: &mut Diagnostics,
) -> Option<LiteralBlock> {
    let location = block_location(file, block);
    let kind = block.ident.as_str();
    if block.labels.len() != labels {
        let expected = if labels == 1 {
            "one label, the backend type (backend \"azure_blob\" { ... })"
        } else {
            "no labels"
        };
        diags.push(Diagnostic::error(
            "Wrong number of block labels",
            format!(
                "a {kind} block takes {expected}, got {}",
                block.labels.len()
            ),
            Some(location),
        ));
        return None;
    }
    for nested in block.body.blocks() {
        diags.push(Diagnostic::error(
            "Unsupported block type",
            format!(
                "a block of type \"{}\" is not expected in a {kind} block",
                nested.ident.as_str()
            ),
            Some(block_location(file, nested)),
        ));
    }
    let mut attributes = BTreeMap::new();
    for attr in block.body.attributes() {
        let setting_location = file.location_of(attr.value.span());
        let Some(value) = literal_value(&attr.value) else {
            diags.push(Diagnostic::error(
                "Invalid value",
                format!(
                    "\"{}\" must be a literal string, number or bool: {kind} settings are read \
                     before anything is evaluated, so variables and expressions cannot be used",
                    attr.key.as_str()
                ),
                Some(setting_location),
            ));
            continue;
        };
        attributes.insert(
            attr.key.as_str().to_string(),
            LiteralSetting {
                value,
                location: setting_location,
            },
        );
    }
    Some(LiteralBlock {
        label: block.labels.first().map(|l| l.as_str().to_string()),
        attributes,
        location,
    })
}

fn literal_value(expr: &Expression) -> Option<serde_json::Value> {
    match expr {
        Expression::Bool(b) => Some(serde_json::Value::Bool(*b.value())),
        Expression::Number(n) => {
            let n = n.value();
            n.as_u64()
                .map(serde_json::Value::from)
                .or_else(|| n.as_i64().map(serde_json::Value::from))
                .or_else(|| n.as_f64().map(serde_json::Value::from))
        }
        other => literal_str(other).map(serde_json::Value::String),
    }
}

/// A `mesh` block with settings in a module that is not the root is an error: where state is
/// stored is a property of the whole deployment.
pub(super) fn refuse_in_child(call: &ModuleCall, child: &Module, diags: &mut Diagnostics) {
    for location in &child.settings.blocks {
        diags.push(
            Diagnostic::error(
                "Backend or encryption settings outside the root module",
                format!(
                    "backend and encryption blocks are only allowed in the root module, but the \
                     module called by module \"{}\" (source \"{}\") has one",
                    call.name, call.source
                ),
                Some(location.clone()),
            )
            .with_help("move the mesh block to the root module's files"),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::load_module_tree;
    use crate::diagnostics::Diagnostics;

    fn load(files: &[(&str, &str)]) -> Result<std::sync::Arc<crate::config::Module>, Diagnostics> {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        load_module_tree(dir.path(), dir.path())
    }

    #[test]
    fn backend_and_encryption_settings_are_literals_with_locations() {
        let module = load(&[(
            "main.hcl",
            "mesh {\n  backend \"azure_blob\" {\n    account = \"acct\"\n    lease_seconds = 30\n    \
             use_azure_auth = true\n  }\n}\nmesh {\n  encryption {\n    passphrase_env = \"P\"\n  }\n}\n",
        )])
        .expect("loads");
        let backend = module.settings.backend.as_ref().expect("backend");
        assert_eq!(backend.label.as_deref(), Some("azure_blob"));
        assert_eq!(backend.get("account").expect("account").value, "acct");
        assert_eq!(backend.get("lease_seconds").expect("lease").value, 30);
        assert_eq!(backend.get("use_azure_auth").expect("aad").value, true);
        assert_eq!(backend.get("account").expect("account").location.line, 3);
        let encryption = module.settings.encryption.as_ref().expect("encryption");
        assert_eq!(encryption.get("passphrase_env").expect("env").value, "P");
        assert_eq!(module.settings.blocks.len(), 2);
    }

    #[test]
    fn expressions_duplicates_and_misplaced_blocks_are_errors() {
        let err = load(&[
            (
                "main.hcl",
                "variable \"a\" { default = \"x\" }\nmesh {\n  backend \"azure_blob\" {\n    \
                 account = var.a\n  }\n  backend \"azure_blob\" {}\n  backend {}\n  other {}\n}\n\
                 module \"m\" {\n  source = \"./m\"\n}\n",
            ),
            ("m/main.hcl", "mesh {\n  encryption {}\n}\n"),
        ])
        .expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("\"account\" must be a literal"), "{text}");
        assert!(text.contains("main.hcl line 4"), "{text}");
        assert!(text.contains("Duplicate backend block"), "{text}");
        assert!(text.contains("takes one label, the backend type"), "{text}");
        assert!(
            text.contains("\"other\" is not expected in a mesh block"),
            "{text}"
        );
        assert!(text.contains("only allowed in the root module"), "{text}");
    }
}
