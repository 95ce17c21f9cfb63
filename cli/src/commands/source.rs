//! `mesh validate` and `mesh fmt`: commands about the spec files themselves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mesh_engine::diagnostics::{Diagnostic, Diagnostics};
use mesh_engine::evaluation::Evaluation;
use mesh_engine::plan::walk::{plan, PlanInput, PlanOptions};
use mesh_engine::state_view::PriorState;

use crate::args::FmtArgs;
use crate::workspace::{registry, CommandResult, Workspace};

/// `mesh validate`: syntax, references, cycles, resource types and their arguments; then,
/// when every variable has a value (defaults, `MESH_VAR_*`), the values themselves: the plan
/// walk from an empty state with unconfigured providers, which runs every provider's
/// plan-time checks without any I/O and without touching state.
pub async fn validate(ws: &Workspace) -> CommandResult {
    let root = ws.load_config()?;
    // The backend block is checked like the rest (it needs no network to check).
    crate::backend_config::choose(&root.settings)?;
    let providers = registry();
    let mut diags = mesh_engine::validate::validate(&root, &providers);
    if diags.has_errors() {
        return Err(diags.into());
    }
    match crate::variables::resolve(&root, &[], &[], &ws.dir) {
        Ok(resolved) => {
            let evaluation = Arc::new(Evaluation::new(root.clone(), resolved.values.clone(), true));
            let input = PlanInput {
                evaluation,
                providers,
                prior: PriorState::default(),
                options: PlanOptions::default(),
                config_digest: String::new(),
                variables: resolved.values,
            };
            if let Err(found) = plan(input).await {
                return Err(found.into());
            }
        }
        Err(_) => diags.push(Diagnostic::warning(
            "Values not checked",
            "some variables have no default and no MESH_VAR_ value, so only the structure was validated; `mesh plan` checks the values",
            None,
        )),
    }
    crate::ui::print_diagnostics(&diags, ws.color);
    println!("Success! The configuration is valid.");
    Ok(0)
}

/// `mesh fmt [--check] [PATHS]`: exit 0 when formatted, 3 when `--check` finds a file to fix.
pub fn fmt(ws: &Workspace, args: &FmtArgs) -> CommandResult {
    let roots = if args.paths.is_empty() {
        vec![ws.dir.clone()]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for root in roots {
        collect_hcl(&root, &mut files)?;
    }
    files.sort();
    let mut unformatted = 0;
    let mut diags = Diagnostics::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        let shown = mesh_engine::diagnostics::display_path(&file, &ws.dir);
        match mesh_engine::format::format_source(&text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                unformatted += 1;
                println!("{}", shown.display());
                if !args.check {
                    std::fs::write(&file, formatted)?;
                }
            }
            Err(e) => diags.push(Diagnostic::error(
                "Invalid HCL syntax",
                format!("{}:{}:{}: {}", shown.display(), e.line, e.column, e.message),
                None,
            )),
        }
    }
    if diags.has_errors() {
        return Err(diags.into());
    }
    Ok(if args.check && unformatted > 0 { 3 } else { 0 })
}

fn collect_hcl(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if p.is_dir() {
            collect_hcl(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "hcl") {
            out.push(p);
        }
    }
    Ok(())
}
