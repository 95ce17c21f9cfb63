//! `mesh validate`: every check that needs no values — references, cycles, resource types,
//! and each resource body against its schema (argument and block names, required arguments,
//! computed-only attributes) — reported all at once.

use hcl_edit::structure::Body;
use hcl_edit::Span;

use crate::config::{BodyExpr, Module, ResourceMode};
use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics, SourceLocation};
use crate::evaluation::unsupported;
use crate::plan::config_order;
use crate::provider::{BlockSchema, Nesting, Presence, ProviderRegistry};

/// Validate a module tree against the providers' schemas.
pub fn validate(root: &Module, providers: &ProviderRegistry) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for (name, block) in &root.providers {
        if providers.get(name).is_none() {
            let known: Vec<&str> = providers.iter().map(|(n, _)| n.as_str()).collect();
            let mut d = Diagnostic::error(
                "Unknown provider",
                format!(
                    "there is no provider named \"{name}\"; available: {}",
                    known.join(", ")
                ),
                Some(block.location.clone()),
            );
            if let Some(h) = did_you_mean(name, known) {
                d = d.with_help(h);
            }
            diags.push(d);
        }
    }
    validate_module(root, providers, &mut diags);
    diags
}

fn validate_module(module: &Module, providers: &ProviderRegistry, diags: &mut Diagnostics) {
    if let Err(d) = config_order(module) {
        diags.extend(d.0);
    }
    for resource in module.resources.values() {
        let schema = match resource.mode {
            ResourceMode::Managed => providers.resource_schema(&resource.resource_type),
            ResourceMode::Data => providers.data_schema(&resource.resource_type),
        };
        let Some(schema) = schema else {
            let kind = if resource.mode == ResourceMode::Data {
                "data source"
            } else {
                "resource type"
            };
            diags.push(Diagnostic::error(
                format!("Unknown {kind}"),
                format!("there is no {kind} named \"{}\"", resource.resource_type),
                Some(resource.location.clone()),
            ));
            continue;
        };
        let what = format!("{} \"{}\"", resource.resource_type, resource.name);
        check_body(
            &resource.body.body,
            &resource.body,
            &schema.block,
            &what,
            &resource.location,
            diags,
        );
    }
    for call in module.module_calls.values() {
        validate_module(&call.module, providers, diags);
    }
}

fn check_body(
    body: &Body,
    source: &BodyExpr,
    schema: &BlockSchema,
    what: &str,
    location: &SourceLocation,
    diags: &mut Diagnostics,
) {
    for attr in body.attributes() {
        let name = attr.key.as_str();
        let at = source.file.location_of(attr.span());
        match schema.attributes.get(name) {
            None => diags.push(unsupported(name, schema, what, at, false)),
            Some(a) if a.presence == Presence::Computed => diags.push(Diagnostic::error(
                "Value for unconfigurable attribute",
                format!("\"{name}\" of {what} is computed by the provider and cannot be set"),
                Some(at),
            )),
            Some(_) => {}
        }
    }
    for (name, a) in &schema.attributes {
        if a.presence == Presence::Required && !body.attributes().any(|x| x.key.as_str() == name) {
            diags.push(Diagnostic::error(
                "Missing required argument",
                format!("the argument \"{name}\" is required by {what}, but it is not set"),
                Some(location.clone()),
            ));
        }
    }
    for (name, nested) in &schema.blocks {
        let blocks: Vec<_> = body.blocks().filter(|b| b.ident.as_str() == name).collect();
        if nested.required && blocks.is_empty() {
            diags.push(Diagnostic::error(
                "Missing required block",
                format!("{what} needs at least one \"{name}\" block"),
                Some(location.clone()),
            ));
        }
        if nested.nesting == Nesting::Single && blocks.len() > 1 {
            diags.push(Diagnostic::error(
                "Too many blocks",
                format!("{what} takes at most one \"{name}\" block"),
                Some(source.file.location_of(blocks[1].span())),
            ));
        }
        for b in blocks {
            let at = source.file.location_of(b.span());
            check_body(
                &b.body,
                source,
                &nested.block,
                &format!("a {name} block"),
                &at,
                diags,
            );
        }
    }
    for b in body
        .blocks()
        .filter(|b| !schema.blocks.contains_key(b.ident.as_str()))
    {
        diags.push(unsupported(
            b.ident.as_str(),
            schema,
            what,
            source.file.location_of(b.span()),
            true,
        ));
    }
}
