//! `mesh plan`, and the planning pipeline that apply, destroy and graph share:
//! load spec → resolve variables → configure providers → refresh → plan.

use std::sync::Arc;

use mesh_engine::config::Module;
use mesh_engine::evaluation::Evaluation;
use mesh_engine::plan::walk::{plan, PlanInput, PlanOptions};
use mesh_engine::plan::{Plan, PlanMode};
use mesh_engine::provider::ProviderRegistry;
use mesh_engine::render::{render_plan_human, render_plan_json};
use mesh_engine::state_view::PriorState;

use crate::args::{OutputFormat, PlanArgs, PlanFlags};
use crate::state_bridge::prior_state;
use crate::workspace::{
    config_digest, configure_providers, registry, CommandError, CommandResult, Workspace,
};

/// A plan with what it was made from.
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// The configuration.
    pub root: Arc<Module>,
    /// Configured providers.
    pub providers: ProviderRegistry,
    /// The refreshed prior state.
    pub prior: PriorState,
}

/// Everything up to and including the plan walk.
pub async fn make_plan(
    ws: &Workspace,
    flags: &PlanFlags,
    mode: PlanMode,
    refresh: bool,
) -> Result<Planned, CommandError> {
    let root = ws.load_config()?;
    let resolved = crate::variables::resolve(&root, &flags.vars, &flags.var_files, &ws.dir)?;
    if !resolved.warnings.is_empty() {
        crate::ui::print_diagnostics(&resolved.warnings, ws.color);
    }
    let variables = resolved.values;
    let digest = config_digest(&root, &variables);
    let evaluation = Arc::new(Evaluation::new(root.clone(), variables.clone(), true));
    let providers = registry();
    configure_providers(&providers, &evaluation).await?;
    let doc = ws.load_state()?;
    let mut prior = prior_state(doc.as_ref());
    if refresh && !prior.instances.is_empty() {
        let report =
            mesh_engine::refresh::refresh(&mut prior, &providers, flags.parallelism).await?;
        for address in &report.vanished {
            eprintln!("Note: {address} was deleted outside mesh; the plan will create it again.");
        }
    }
    let plan = plan(PlanInput {
        evaluation,
        providers: providers.clone(),
        prior: prior.clone(),
        options: PlanOptions {
            mode,
            targets: flags.targets.clone(),
            replace: flags.replace.clone(),
        },
        config_digest: digest,
        variables,
    })
    .await?;
    Ok(Planned {
        plan,
        root,
        providers,
        prior,
    })
}

/// Print warnings carried by a plan.
pub fn print_plan_warnings(plan: &Plan) {
    for w in &plan.warnings {
        eprintln!("\n{w}");
    }
}

/// `mesh plan`.
pub async fn run(ws: &Workspace, args: &PlanArgs) -> CommandResult {
    let lock = ws.lock(
        "plan",
        crate::args::parse_duration(&args.flags.lock_timeout).map_err(anyhow::Error::msg)?,
    )?;
    let mode = if args.destroy {
        PlanMode::Destroy
    } else {
        PlanMode::Normal
    };
    let planned = make_plan(ws, &args.flags, mode, args.flags.refresh).await?;
    drop(lock);
    match args.format {
        OutputFormat::Human => {
            print!("{}", render_plan_human(&planned.plan, ws.color));
            print_plan_warnings(&planned.plan);
        }
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render_plan_json(&planned.plan))
                .map_err(anyhow::Error::from)?
        ),
    }
    if let Some(out) = &args.out {
        save_plan(&planned.plan, out)?;
        if args.format == OutputFormat::Human {
            println!("\nSaved the plan to: {}\n\nTo perform exactly these actions, run:\n    mesh apply {}", out.display(), out.display());
        }
    }
    Ok(0)
}

/// Write a plan file (it may hold secrets: owner-only permissions).
pub fn save_plan(plan: &Plan, path: &std::path::Path) -> Result<(), CommandError> {
    let bytes = serde_json::to_vec_pretty(plan).map_err(anyhow::Error::from)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Read a plan file, checking its format version.
pub fn load_plan(path: &std::path::Path) -> Result<Plan, CommandError> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read plan file {}: {e}", path.display()))?;
    let plan: Plan = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a mesh plan file: {e}", path.display()))?;
    if plan.format_version != mesh_engine::plan::PLAN_FORMAT_VERSION {
        return Err(anyhow::anyhow!(
            "{} has plan format version {}, this mesh reads version {}",
            path.display(),
            plan.format_version,
            mesh_engine::plan::PLAN_FORMAT_VERSION
        )
        .into());
    }
    Ok(plan)
}
