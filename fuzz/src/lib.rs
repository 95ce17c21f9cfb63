//! The fuzz targets of mesh, as plain functions: libFuzzer's entry points (`fuzz_targets/`) and
//! the stable-Rust runner (`src/bin/stable_fuzz.rs`) call the same code.
//!
//! Each target feeds arbitrary bytes to one of mesh's input decoders and goes on as far as mesh
//! itself would with what decodes. A target only fails by panicking (or hanging, or exhausting
//! memory): returning an error is the correct answer to bad input.

use std::path::Path;
use std::sync::Arc;

use hcl_edit::expr::TraversalOperator;
use mesh_engine::config::{load_module_text, Expr};
use mesh_engine::diagnostics::{Diagnostic, SourceFile, SourceLocation};
use mesh_engine::eval::{evaluate, Scope};
use mesh_engine::provider::ProviderRegistry;
use mesh_engine::render::{render_plan_human, render_plan_json, render_plan_markdown, ColorChoice};
use mesh_engine::value::Value;
use mesh_state::journal::replay_journal;
use mesh_state::StateDocument;

/// A target: its name and the function that takes one input.
pub type Target = (&'static str, fn(&[u8]));

/// The targets by name, for the stable runner and the script.
pub const TARGETS: &[Target] = &[
    ("hcl_parse", hcl_parse),
    ("eval_expression", eval_expression),
    ("state_load", state_load),
    ("plan_load", plan_load),
];

/// The HCL front end: parse a spec file from memory, decode it into a module, validate it
/// against the built-in and test providers' schemas (references, cycles, arguments), and run
/// `mesh fmt`'s formatter on the same text.
pub fn hcl_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = mesh_engine::format::format_source(text);
    let Ok(module) = load_module_text("fuzz.hcl", text) else {
        return;
    };
    let _ = mesh_engine::validate::validate(&module, &providers());
}

fn providers() -> ProviderRegistry {
    let mut registry = ProviderRegistry::new();
    for provider in mesh_engine::builtin::providers() {
        registry.register(provider);
    }
    registry.register(Arc::new(mesh_provider_test::TestProvider::new()));
    registry
}

/// The expression evaluator: parse one expression and evaluate it with no names in scope
/// (functions, operators, templates, `for` and splat expressions all work without any).
///
/// Expressions that name a file function are skipped: they would read whatever file the input
/// names, which is not what is being fuzzed.
pub fn eval_expression(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains("file") || text.contains("abspath") {
        return;
    }
    let Ok(expr) = hcl_edit::parser::parse_expr(text) else {
        return;
    };
    let expr = Expr {
        expr,
        file: SourceFile::new("fuzz.hcl", text.to_string()),
    };
    if let Ok(value) = evaluate(&expr, &EmptyScope) {
        // What a plan does with a value: render it, turn it into JSON and back.
        let _ = value.to_string();
        let _ = Value::from_json(&value.to_json());
    }
}

/// A scope without names: every reference is an error.
struct EmptyScope;

impl Scope for EmptyScope {
    fn resolve(
        &self,
        name: &str,
        _: &[&TraversalOperator],
        location: &SourceLocation,
    ) -> Result<(Value, usize), Diagnostic> {
        Err(Diagnostic::error(
            "Unknown reference",
            format!("\"{name}\" is not declared"),
            Some(location.clone()),
        ))
    }

    fn base_dir(&self) -> &Path {
        Path::new("/nonexistent-mesh-fuzz")
    }
}

/// The state loader: a state snapshot, then (after a line holding only `---`) a journal replayed
/// on it as the local backend replays its journal; then what `mesh state` does with a
/// loaded state: list, move and remove addresses, and encode it again.
pub fn state_load(data: &[u8]) {
    let (snapshot, journal) = split_journal(data);
    let Ok(mut doc) = StateDocument::from_json(snapshot, Path::new("fuzz-state.json")) else {
        return;
    };
    let before_journal = doc.clone();
    if replay_journal(&mut doc, journal, Path::new("fuzz-state.json.journal")).is_err() {
        doc = before_journal;
    }
    let addresses = doc.addresses();
    if let Ok(bytes) = doc.to_json() {
        let again = StateDocument::from_json(&bytes, Path::new("fuzz-state.json"));
        assert!(again.is_ok(), "a state mesh encodes must decode: {again:?}");
    }
    if let (Some(first), Some(last)) = (addresses.first(), addresses.last()) {
        let _ = doc.clone().move_address(first, &format!("{last}_moved"));
        let _ = doc.clone().move_address(last, first);
        let _ = doc.remove_matching(first);
    }
}

fn split_journal(data: &[u8]) -> (&[u8], &[u8]) {
    const MARK: &[u8] = b"\n---\n";
    match data.windows(MARK.len()).position(|w| w == MARK) {
        Some(at) => (&data[..at], &data[at + MARK.len()..]),
        None => (data, &[]),
    }
}

/// The saved-plan decoder (`mesh apply FILE`, `mesh show FILE`), then everything `mesh show`
/// does with a plan that decodes: render it as text, JSON and Markdown, and summarize it.
pub fn plan_load(data: &[u8]) {
    let Ok(plan) = mesh_engine::plan::decode_saved_plan(data) else {
        return;
    };
    let _ = render_plan_human(&plan, ColorChoice::Never);
    let _ = render_plan_json(&plan);
    let _ = render_plan_markdown(&plan);
    let _ = plan.summary();
    let _ = plan.variable_values();
    for change in &plan.changes {
        let _ = change.before.to_value();
        let _ = change.after.to_value();
    }
}
