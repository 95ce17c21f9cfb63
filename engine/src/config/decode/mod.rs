//! Reading a spec directory: parse every `*.hcl` file, decode top-level blocks into a
//! [`Module`], load module calls recursively. Every problem found is reported, with location.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body};
use hcl_edit::Span;

use super::{
    BodyExpr, Expr, IgnoreChanges, Lifecycle, Local, Module, ModuleCall, Output, ProviderBlock,
    RefTarget, Reference, Repetition, Resource, ResourceMode, TypeConstraint, Validation, Variable,
};
use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics, SourceFile, SourceLocation};

mod drift;
mod settings;
mod text;

use text::read_spec_files;

pub use text::{file_text, load_module_text};

const BLOCK_TYPES: &[&str] = &[
    "variable", "locals", "provider", "resource", "data", "output", "module", "mesh", "drift",
];

/// Parse one file; a syntax error becomes a diagnostic with line and column.
pub fn parse_file(file: &Arc<SourceFile>) -> Result<Body, Diagnostic> {
    hcl_edit::parser::parse_body(&file.text).map_err(|e| {
        let loc = e.location();
        Diagnostic::error(
            "Invalid HCL syntax",
            e.message().to_string(),
            Some(SourceLocation {
                file: file.path.clone(),
                line: loc.line(),
                column: loc.column(),
                snippet: e.line().to_string(),
            }),
        )
    })
}

/// Load the root module in `dir` and every module it calls.
/// `display_base` is the directory paths are shown relative to.
pub fn load_module_tree(dir: &Path, display_base: &Path) -> Result<Arc<Module>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let module = load_module(dir, display_base, &mut Vec::new(), &mut diags);
    match module {
        Some(m) if !diags.has_errors() => Ok(m),
        _ => Err(diags),
    }
}

fn load_module(
    dir: &Path,
    display_base: &Path,
    stack: &mut Vec<PathBuf>,
    diags: &mut Diagnostics,
) -> Option<Arc<Module>> {
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if stack.contains(&canonical) {
        diags.push(Diagnostic::error(
            "Module calls itself",
            format!(
                "the module in {} is already being loaded: module sources form a loop",
                dir.display()
            ),
            None,
        ));
        return None;
    }
    let files = match read_spec_files(dir, display_base) {
        Ok(files) => files,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    stack.push(canonical);
    let mut module = Module {
        dir: dir.to_path_buf(),
        ..Module::default()
    };
    for file in &files {
        match parse_file(file) {
            Ok(body) => decode_body(&body, file, &mut module, diags),
            Err(d) => diags.push(d),
        }
    }
    module.files = files;
    let calls: Vec<String> = module.module_calls.keys().cloned().collect();
    for name in calls {
        let call = &module.module_calls[&name];
        let child_dir = dir.join(&call.source);
        if !child_dir.is_dir() {
            diags.push(
                Diagnostic::error(
                    "Module source not found",
                    format!(
                        "module \"{name}\" has source \"{}\", but {} is not a directory",
                        call.source,
                        child_dir.display()
                    ),
                    Some(call.location.clone()),
                )
                .with_help("mesh supports local module sources: a path starting with ./ or ../"),
            );
            continue;
        }
        let canonical = child_dir
            .canonicalize()
            .unwrap_or_else(|_| child_dir.clone());
        if stack.contains(&canonical) {
            diags.push(Diagnostic::error(
                "Module calls itself",
                format!(
                    "module \"{name}\" has source \"{}\", a module that is already being loaded: module sources form a loop",
                    call.source
                ),
                Some(call.location.clone()),
            ));
            continue;
        }
        if let Some(child) = load_module(&child_dir, display_base, stack, diags) {
            check_module_inputs(&module.module_calls[&name], &child, diags);
            drift::refuse_in_child(&module.module_calls[&name], &child, diags);
            settings::refuse_in_child(&module.module_calls[&name], &child, diags);
            if let Some(call) = module.module_calls.get_mut(&name) {
                call.module = child;
            }
        }
    }
    stack.pop();
    Some(Arc::new(module))
}

fn check_module_inputs(call: &ModuleCall, child: &Module, diags: &mut Diagnostics) {
    for (name, expr) in &call.inputs {
        if !child.variables.contains_key(name) {
            let mut d = Diagnostic::error(
                "Unsupported argument",
                format!("module \"{}\" has no variable named \"{name}\"", call.name),
                Some(expr.location()),
            );
            if let Some(help) = did_you_mean(name, child.variables.keys().map(String::as_str)) {
                d = d.with_help(help);
            }
            diags.push(d);
        }
    }
    for (name, var) in &child.variables {
        if var.default.is_none() && !call.inputs.contains_key(name) {
            diags.push(Diagnostic::error(
                "Missing required argument",
                format!(
                    "module \"{}\" requires a value for variable \"{name}\" (it has no default)",
                    call.name
                ),
                Some(call.location.clone()),
            ));
        }
    }
}

fn block_location(file: &Arc<SourceFile>, block: &Block) -> SourceLocation {
    file.location_of(block.span())
}

fn decode_body(body: &Body, file: &Arc<SourceFile>, module: &mut Module, diags: &mut Diagnostics) {
    for attr in body.attributes() {
        diags.push(Diagnostic::error(
            "Unexpected attribute",
            format!("\"{}\" cannot be set at the top level of a spec file; expected a block such as resource, variable, locals, output, module or provider", attr.key.as_str()),
            Some(file.location_of(attr.span())),
        ));
    }
    for block in body.blocks() {
        let kind = block.ident.as_str();
        let labels: Vec<String> = block
            .labels
            .iter()
            .map(|l| l.as_str().to_string())
            .collect();
        let location = block_location(file, block);
        let expected_labels = match kind {
            "variable" | "output" | "module" | "provider" => 1,
            "resource" | "data" => 2,
            "locals" | "mesh" | "drift" => 0,
            other => {
                let mut d = Diagnostic::error(
                    "Unsupported block type",
                    format!(
                        "blocks of type \"{other}\" are not expected here; expected one of {}",
                        BLOCK_TYPES.join(", ")
                    ),
                    Some(location),
                );
                if let Some(help) = did_you_mean(other, BLOCK_TYPES.iter().copied()) {
                    d = d.with_help(help);
                }
                diags.push(d);
                continue;
            }
        };
        if labels.len() != expected_labels {
            diags.push(Diagnostic::error(
                "Wrong number of block labels",
                format!(
                    "a {kind} block takes {expected_labels} label(s), got {}",
                    labels.len()
                ),
                Some(location),
            ));
            continue;
        }
        match kind {
            "variable" => decode_variable(&labels[0], block, file, location, module, diags),
            "locals" => decode_locals(block, file, module, diags),
            "drift" => drift::decode_drift(block, file, module, diags),
            "mesh" => settings::decode_mesh(block, file, module, diags),
            "output" => decode_output(&labels[0], block, file, location, module, diags),
            "provider" => decode_provider(&labels[0], block, file, location, module, diags),
            "module" => decode_module_call(&labels[0], block, file, location, module, diags),
            "resource" => decode_resource(
                ResourceMode::Managed,
                &labels,
                block,
                file,
                location,
                module,
                diags,
            ),
            "data" => decode_resource(
                ResourceMode::Data,
                &labels,
                block,
                file,
                location,
                module,
                diags,
            ),
            _ => {}
        }
    }
}

fn duplicate(
    what: &str,
    name: &str,
    first: &SourceLocation,
    location: SourceLocation,
) -> Diagnostic {
    Diagnostic::error(
        format!("Duplicate {what}"),
        format!("{what} \"{name}\" was already declared at {first}; each name may be declared once per module"),
        Some(location),
    )
}

/// Check a block's attributes and nested blocks against the allowed names.
fn check_allowed(
    block: &Block,
    file: &Arc<SourceFile>,
    attrs: &[&str],
    blocks: &[&str],
    diags: &mut Diagnostics,
) {
    for attr in block.body.attributes() {
        let name = attr.key.as_str();
        if !attrs.contains(&name) {
            let mut d = Diagnostic::error(
                "Unsupported argument",
                format!("an argument named \"{name}\" is not expected in a {} block; expected one of: {}", block.ident.as_str(), attrs.join(", ")),
                Some(file.location_of(attr.span())),
            );
            if let Some(help) = did_you_mean(name, attrs.iter().copied()) {
                d = d.with_help(help);
            }
            diags.push(d);
        }
    }
    for nested in block.body.blocks() {
        let name = nested.ident.as_str();
        if !blocks.contains(&name) {
            diags.push(Diagnostic::error(
                "Unsupported block type",
                format!(
                    "a block of type \"{name}\" is not expected in a {} block",
                    block.ident.as_str()
                ),
                Some(block_location(file, nested)),
            ));
        }
    }
}

fn attr<'a>(body: &'a Body, name: &str) -> Option<&'a Attribute> {
    body.attributes().find(|a| a.key.as_str() == name)
}

fn expr_of(body: &Body, name: &str, file: &Arc<SourceFile>) -> Option<Expr> {
    attr(body, name).map(|a| Expr {
        expr: a.value.clone(),
        file: file.clone(),
    })
}

/// A literal string attribute (description, source, error_message...).
fn literal_string(
    body: &Body,
    name: &str,
    file: &Arc<SourceFile>,
    diags: &mut Diagnostics,
) -> Option<String> {
    let a = attr(body, name)?;
    match literal_str(&a.value) {
        Some(s) => Some(s),
        None => {
            diags.push(Diagnostic::error(
                "Invalid value",
                format!("\"{name}\" must be a literal string"),
                Some(file.location_of(a.value.span())),
            ));
            None
        }
    }
}

pub(super) fn literal_str(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(s) => Some(s.value().to_string()),
        Expression::StringTemplate(t) if t.is_empty() => Some(String::new()),
        Expression::StringTemplate(t) => t
            .as_single_element()
            .and_then(|e| e.as_literal())
            .map(|l| l.value().to_string()),
        Expression::HeredocTemplate(h) => h
            .template
            .as_single_element()
            .and_then(|e| e.as_literal())
            .map(|l| l.value().to_string()),
        _ => None,
    }
}

fn literal_bool(body: &Body, name: &str, file: &Arc<SourceFile>, diags: &mut Diagnostics) -> bool {
    let Some(a) = attr(body, name) else {
        return false;
    };
    match &a.value {
        Expression::Bool(b) => *b.value(),
        _ => {
            diags.push(Diagnostic::error(
                "Invalid value",
                format!("\"{name}\" must be true or false"),
                Some(file.location_of(a.value.span())),
            ));
            false
        }
    }
}

fn decode_variable(
    name: &str,
    block: &Block,
    file: &Arc<SourceFile>,
    location: SourceLocation,
    module: &mut Module,
    diags: &mut Diagnostics,
) {
    check_allowed(
        block,
        file,
        &["type", "default", "description", "sensitive", "nullable"],
        &["validation"],
        diags,
    );
    if let Some(first) = module.variables.get(name) {
        diags.push(duplicate("variable", name, &first.location, location));
        return;
    }
    let type_constraint = match attr(&block.body, "type") {
        None => TypeConstraint::Any,
        Some(a) => TypeConstraint::parse(&a.value).unwrap_or_else(|e| {
            diags.push(Diagnostic::error(
                "Invalid type constraint",
                e,
                Some(file.location_of(a.value.span())),
            ));
            TypeConstraint::Any
        }),
    };
    let mut validations = Vec::new();
    for v in block
        .body
        .blocks()
        .filter(|b| b.ident.as_str() == "validation")
    {
        check_allowed(v, file, &["condition", "error_message"], &[], diags);
        match (
            expr_of(&v.body, "condition", file),
            expr_of(&v.body, "error_message", file),
        ) {
            (Some(condition), Some(error_message)) => validations.push(Validation {
                condition,
                error_message,
            }),
            _ => diags.push(Diagnostic::error(
                "Missing required argument",
                "a validation block needs both \"condition\" and \"error_message\"",
                Some(block_location(file, v)),
            )),
        }
    }
    let nullable = match attr(&block.body, "nullable") {
        Some(_) => literal_bool(&block.body, "nullable", file, diags),
        None => true,
    };
    module.variables.insert(
        name.to_string(),
        Variable {
            name: name.to_string(),
            type_constraint,
            default: expr_of(&block.body, "default", file),
            description: literal_string(&block.body, "description", file, diags),
            sensitive: literal_bool(&block.body, "sensitive", file, diags),
            nullable,
            validations,
            location,
        },
    );
}

fn decode_locals(
    block: &Block,
    file: &Arc<SourceFile>,
    module: &mut Module,
    diags: &mut Diagnostics,
) {
    for a in block.body.attributes() {
        let name = a.key.as_str();
        let location = file.location_of(a.span());
        if let Some(first) = module.locals.get(name) {
            diags.push(duplicate("local value", name, &first.location, location));
            continue;
        }
        module.locals.insert(
            name.to_string(),
            Local {
                name: name.to_string(),
                value: Expr {
                    expr: a.value.clone(),
                    file: file.clone(),
                },
                location,
            },
        );
    }
    for nested in block.body.blocks() {
        diags.push(Diagnostic::error(
            "Unsupported block type",
            "locals blocks hold only attributes",
            Some(block_location(file, nested)),
        ));
    }
}

fn decode_output(
    name: &str,
    block: &Block,
    file: &Arc<SourceFile>,
    location: SourceLocation,
    module: &mut Module,
    diags: &mut Diagnostics,
) {
    check_allowed(
        block,
        file,
        &["value", "description", "sensitive", "depends_on"],
        &[],
        diags,
    );
    if let Some(first) = module.outputs.get(name) {
        diags.push(duplicate("output", name, &first.location, location));
        return;
    }
    let Some(value) = expr_of(&block.body, "value", file) else {
        diags.push(Diagnostic::error(
            "Missing required argument",
            format!("output \"{name}\" needs a \"value\""),
            Some(location),
        ));
        return;
    };
    module.outputs.insert(
        name.to_string(),
        Output {
            name: name.to_string(),
            value,
            description: literal_string(&block.body, "description", file, diags),
            sensitive: literal_bool(&block.body, "sensitive", file, diags),
            depends_on: depends_on(&block.body, file, diags),
            location,
        },
    );
}

fn decode_provider(
    name: &str,
    block: &Block,
    file: &Arc<SourceFile>,
    location: SourceLocation,
    module: &mut Module,
    diags: &mut Diagnostics,
) {
    if let Some(first) = module.providers.get(name) {
        diags.push(duplicate("provider", name, &first.location, location));
        return;
    }
    module.providers.insert(
        name.to_string(),
        ProviderBlock {
            name: name.to_string(),
            body: BodyExpr {
                body: block.body.clone(),
                file: file.clone(),
            },
            location,
        },
    );
}

fn repetition(
    body: &Body,
    file: &Arc<SourceFile>,
    location: &SourceLocation,
    diags: &mut Diagnostics,
) -> Repetition {
    match (
        expr_of(body, "count", file),
        expr_of(body, "for_each", file),
    ) {
        (Some(_), Some(_)) => {
            diags.push(Diagnostic::error(
                "Invalid combination of \"count\" and \"for_each\"",
                "count and for_each cannot both be set on one block; use one of them",
                Some(location.clone()),
            ));
            Repetition::Single
        }
        (Some(c), None) => Repetition::Count(c),
        (None, Some(f)) => Repetition::ForEach(f),
        (None, None) => Repetition::Single,
    }
}

/// `depends_on = [a.b, module.c]`: static references only.
fn depends_on(body: &Body, file: &Arc<SourceFile>, diags: &mut Diagnostics) -> Vec<Reference> {
    let Some(a) = attr(body, "depends_on") else {
        return Vec::new();
    };
    static_reference_list(a, file, "depends_on", diags)
}

fn static_reference_list(
    a: &Attribute,
    file: &Arc<SourceFile>,
    what: &str,
    diags: &mut Diagnostics,
) -> Vec<Reference> {
    let Expression::Array(items) = &a.value else {
        diags.push(Diagnostic::error(
            "Invalid value",
            format!("\"{what}\" must be a list of references, such as [mesh_data.a, module.b]"),
            Some(file.location_of(a.value.span())),
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let refs = super::references_in(item, file);
        let ok =
            matches!(item, Expression::Traversal(_) | Expression::Variable(_)) && refs.len() == 1;
        match refs.into_iter().next() {
            Some(r) if ok && matches!(r.target, RefTarget::Resource { .. } | RefTarget::Module(_)) => out.push(r),
            _ => diags.push(Diagnostic::error(
                "Invalid reference",
                format!("each element of \"{what}\" must be a resource or module reference, such as mesh_data.a or module.b"),
                Some(file.location_of(item.span())),
            )),
        }
    }
    out
}

fn decode_lifecycle(block: &Block, file: &Arc<SourceFile>, diags: &mut Diagnostics) -> Lifecycle {
    check_allowed(
        block,
        file,
        &[
            "create_before_destroy",
            "prevent_destroy",
            "ignore_changes",
            "replace_triggered_by",
        ],
        &[],
        diags,
    );
    let ignore_changes = match attr(&block.body, "ignore_changes") {
        None => IgnoreChanges::None,
        Some(a) => match &a.value {
            Expression::Variable(v) if v.as_str() == "all" => IgnoreChanges::All,
            Expression::Array(items) => {
                let mut names = Vec::new();
                for item in items.iter() {
                    match item {
                        Expression::Variable(v) => names.push(v.as_str().to_string()),
                        Expression::Traversal(t) => {
                            if let Expression::Variable(v) = &t.expr {
                                names.push(v.as_str().to_string())
                            }
                        }
                        other => match literal_str(other) {
                            Some(s) => names.push(s),
                            None => diags.push(Diagnostic::error(
                                "Invalid ignore_changes",
                                "ignore_changes lists attribute names, such as [tags, input], or is `all`",
                                Some(file.location_of(item.span())),
                            )),
                        },
                    }
                }
                IgnoreChanges::Attributes(names)
            }
            _ => {
                diags.push(Diagnostic::error(
                    "Invalid ignore_changes",
                    "ignore_changes lists attribute names, such as [tags, input], or is `all`",
                    Some(file.location_of(a.value.span())),
                ));
                IgnoreChanges::None
            }
        },
    };
    let replace_triggered_by = match attr(&block.body, "replace_triggered_by") {
        Some(a) => static_reference_list(a, file, "replace_triggered_by", diags),
        None => Vec::new(),
    };
    Lifecycle {
        create_before_destroy: literal_bool(&block.body, "create_before_destroy", file, diags),
        prevent_destroy: literal_bool(&block.body, "prevent_destroy", file, diags),
        ignore_changes,
        replace_triggered_by,
    }
}

/// The body without the meta-arguments mesh interprets itself.
fn strip_meta(body: &Body, attrs: &[&str], blocks: &[&str]) -> Body {
    let mut out = Body::new();
    for structure in body.iter() {
        let keep = match structure {
            hcl_edit::structure::Structure::Attribute(a) => !attrs.contains(&a.key.as_str()),
            hcl_edit::structure::Structure::Block(b) => !blocks.contains(&b.ident.as_str()),
        };
        if keep {
            out.push(structure.clone());
        }
    }
    out
}

fn decode_resource(
    mode: ResourceMode,
    labels: &[String],
    block: &Block,
    file: &Arc<SourceFile>,
    location: SourceLocation,
    module: &mut Module,
    diags: &mut Diagnostics,
) {
    let (resource_type, name) = (labels[0].clone(), labels[1].clone());
    let resource = Resource {
        mode,
        resource_type,
        name,
        repetition: repetition(&block.body, file, &location, diags),
        depends_on: depends_on(&block.body, file, diags),
        lifecycle: block
            .body
            .blocks()
            .find(|b| b.ident.as_str() == "lifecycle")
            .map(|b| decode_lifecycle(b, file, diags))
            .unwrap_or_default(),
        body: BodyExpr {
            body: strip_meta(
                &block.body,
                &["count", "for_each", "depends_on", "provider"],
                &["lifecycle"],
            ),
            file: file.clone(),
        },
        location,
    };
    let address = resource.address();
    if let Some(first) = module.resources.get(&address) {
        diags.push(duplicate(
            "resource",
            &address,
            &first.location,
            resource.location,
        ));
        return;
    }
    module.resources.insert(address, resource);
}

fn decode_module_call(
    name: &str,
    block: &Block,
    file: &Arc<SourceFile>,
    location: SourceLocation,
    module: &mut Module,
    diags: &mut Diagnostics,
) {
    if let Some(first) = module.module_calls.get(name) {
        diags.push(duplicate("module call", name, &first.location, location));
        return;
    }
    let Some(source) = literal_string(&block.body, "source", file, diags) else {
        if attr(&block.body, "source").is_none() {
            diags.push(Diagnostic::error(
                "Missing required argument",
                format!("module \"{name}\" needs a \"source\" directory"),
                Some(location),
            ));
        }
        return;
    };
    let mut inputs = BTreeMap::new();
    for a in block.body.attributes() {
        let key = a.key.as_str();
        if matches!(
            key,
            "source" | "count" | "for_each" | "depends_on" | "providers" | "version"
        ) {
            continue;
        }
        inputs.insert(
            key.to_string(),
            Expr {
                expr: a.value.clone(),
                file: file.clone(),
            },
        );
    }
    for nested in block.body.blocks() {
        diags.push(Diagnostic::error(
            "Unsupported block type",
            "module blocks take only arguments",
            Some(block_location(file, nested)),
        ));
    }
    module.module_calls.insert(
        name.to_string(),
        ModuleCall {
            name: name.to_string(),
            source,
            repetition: repetition(&block.body, file, &location, diags),
            depends_on: depends_on(&block.body, file, diags),
            inputs,
            location,
            module: Arc::new(Module::default()),
        },
    );
}

#[cfg(test)]
mod tests;
