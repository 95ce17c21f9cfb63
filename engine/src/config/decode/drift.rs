//! Decoding `drift { ignore { ... } }` blocks into [`DriftRules`].
//!
//! Every value is a literal: the rules are needed to read a refresh, long before anything is
//! evaluated, and a rule that depended on a variable would make the same drift reported on one
//! run and ignored on the next. Several `drift` blocks (in one file or several) add up.

use std::sync::Arc;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block};
use hcl_edit::Span;

use super::{attr, block_location, check_allowed, literal_str, ModuleCall};
use crate::config::{AddressPattern, AttributePattern, DriftIgnoreRule, Module};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile};

/// Add the rules of one `drift` block to `module`.
pub(super) fn decode_drift(
    block: &Block,
    file: &Arc<SourceFile>,
    module: &mut Module,
    diags: &mut Diagnostics,
) {
    check_allowed(block, file, &[], &["ignore"], diags);
    module.drift.blocks.push(block_location(file, block));
    for ignore in block.body.blocks().filter(|b| b.ident.as_str() == "ignore") {
        if let Some(rule) = decode_ignore(ignore, file, diags) {
            module.drift.ignore.push(rule);
        }
    }
}

fn decode_ignore(
    block: &Block,
    file: &Arc<SourceFile>,
    diags: &mut Diagnostics,
) -> Option<DriftIgnoreRule> {
    let location = block_location(file, block);
    let errors_before = diags.0.len();
    if !block.labels.is_empty() {
        diags.push(Diagnostic::error(
            "Wrong number of block labels",
            format!(
                "an ignore block takes no labels, got {}",
                block.labels.len()
            ),
            Some(location.clone()),
        ));
    }
    check_allowed(
        block,
        file,
        &["resources", "attributes", "reason"],
        &[],
        diags,
    );
    let resources = attr(&block.body, "resources")
        .map(|a| pattern_list(a, file, "resources", AddressPattern::parse, diags));
    let attributes = attr(&block.body, "attributes")
        .map(|a| pattern_list(a, file, "attributes", AttributePattern::parse, diags));
    let reason = attr(&block.body, "reason").and_then(|a| reason(a, file, diags));
    if resources.is_none() && attributes.is_none() {
        diags.push(
            Diagnostic::error(
                "Missing required argument",
                "an ignore block needs \"resources\", \"attributes\" or both: a rule that \
                 matched every change to every resource would hide all drift",
                Some(location.clone()),
            )
            .with_help(
                "name the resources, e.g. resources = [\"kubernetes_manifest.*\"], and/or the \
                 attributes, e.g. attributes = [\"node_count\"]",
            ),
        );
    }
    if diags.0.len() > errors_before {
        return None;
    }
    Some(DriftIgnoreRule {
        resources,
        attributes,
        reason,
        location,
    })
}

/// A non-empty list of literal strings, each parsed by `parse`; every bad element is reported.
fn pattern_list<T>(
    a: &Attribute,
    file: &Arc<SourceFile>,
    name: &str,
    parse: fn(&str) -> Result<T, String>,
    diags: &mut Diagnostics,
) -> Vec<T> {
    let example = match name {
        "resources" => "[\"module.region[*].azure_kubernetes_node_pool.user\"]",
        _ => "[\"node_count\", \"metadata.annotations\"]",
    };
    let Expression::Array(items) = &a.value else {
        diags.push(Diagnostic::error(
            "Invalid value",
            format!("\"{name}\" must be a list of literal strings, such as {example}"),
            Some(file.location_of(a.value.span())),
        ));
        return Vec::new();
    };
    if items.is_empty() {
        diags.push(Diagnostic::error(
            "Invalid value",
            format!(
                "\"{name}\" is empty, so the rule would match nothing; list at least one \
                 pattern, or leave \"{name}\" out to match {}",
                if name == "resources" {
                    "every resource"
                } else {
                    "whole objects"
                }
            ),
            Some(file.location_of(a.value.span())),
        ));
        return Vec::new();
    }
    let mut out = Vec::new();
    for item in items.iter() {
        let location = file.location_of(item.span());
        let Some(text) = literal_str(item) else {
            diags.push(Diagnostic::error(
                "Invalid value",
                format!(
                    "each element of \"{name}\" must be a literal string (drift rules are read \
                     before anything is evaluated), such as {example}"
                ),
                Some(location),
            ));
            continue;
        };
        match parse(&text) {
            Ok(pattern) => out.push(pattern),
            Err(why) => diags.push(Diagnostic::error(
                format!("Invalid pattern in \"{name}\""),
                format!("\"{text}\": {why}"),
                Some(location),
            )),
        }
    }
    out
}

fn reason(a: &Attribute, file: &Arc<SourceFile>, diags: &mut Diagnostics) -> Option<String> {
    match literal_str(&a.value) {
        Some(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Some(_) => {
            diags.push(Diagnostic::error(
                "Invalid value",
                "\"reason\" is empty; say why this drift is expected, or leave it out",
                Some(file.location_of(a.value.span())),
            ));
            None
        }
        None => {
            diags.push(Diagnostic::error(
                "Invalid value",
                "\"reason\" must be a literal string",
                Some(file.location_of(a.value.span())),
            ));
            None
        }
    }
}

/// A `drift` block in a module that is not the root is an error: rules are about the whole
/// deployment's reports, and addresses in them are absolute.
pub(super) fn refuse_in_child(call: &ModuleCall, child: &Module, diags: &mut Diagnostics) {
    for location in &child.drift.blocks {
        diags.push(
            Diagnostic::error(
                "Drift rules outside the root module",
                format!(
                    "drift blocks are only allowed in the root module, but the module called \
                     by module \"{}\" (source \"{}\") has one",
                    call.name, call.source
                ),
                Some(location.clone()),
            )
            .with_help(format!(
                "move the block to the root module and start its resource patterns with \
                 module.{}, e.g. \"module.{}.TYPE.NAME\"",
                call.name, call.name
            )),
        );
    }
}
