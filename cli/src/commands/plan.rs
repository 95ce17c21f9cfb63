//! `mesh plan`, and the planning pipeline that apply, destroy and graph share:
//! load spec → resolve variables → configure providers → refresh → plan.

use std::sync::Arc;

use mesh_engine::config::{Module, ResourceMode};
use mesh_engine::evaluation::Evaluation;
use mesh_engine::plan::walk::{plan_checked, PlanInput, PlanOptions};
use mesh_engine::plan::{Action, Plan, PlanMode, SavedPlanError};
use mesh_engine::provider::{LocatedFinding, ProviderRegistry};
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
    make_plan_with(ws, flags, mode, refresh, false).await
}

/// [`make_plan`], optionally refresh-only: the plan then proposes no actions and only carries
/// the drift refresh found, so that applying it writes the live values into state.
pub async fn make_plan_with(
    ws: &Workspace,
    flags: &PlanFlags,
    mode: PlanMode,
    refresh: bool,
    refresh_only: bool,
) -> Result<Planned, CommandError> {
    make_checked_plan(ws, flags, mode, refresh, refresh_only)
        .await
        .map(|(planned, _)| planned)
}

/// [`make_plan_with`], also returning what the providers' deployment checks found
/// (`mesh check`).
pub async fn make_checked_plan(
    ws: &Workspace,
    flags: &PlanFlags,
    mode: PlanMode,
    refresh: bool,
    refresh_only: bool,
) -> Result<(Planned, Vec<LocatedFinding>), CommandError> {
    if refresh_only && !refresh {
        return Err(anyhow::anyhow!(
            "--refresh-only cannot be used with --refresh=false: a refresh-only plan is made of \
             what refresh finds"
        )
        .into());
    }
    let root = ws.load_config()?;
    let resolved = crate::variables::resolve(&root, &flags.vars, &flags.var_files, &ws.dir)?;
    if !resolved.warnings.is_empty() {
        crate::ui::print_diagnostics(&resolved.warnings, ws.color);
    }
    let variables = resolved.values;
    let digest = config_digest(&root, &variables);
    let evaluation = Arc::new(Evaluation::new(root.clone(), variables.clone(), true));
    // The state before the providers: whether it holds Azure resources decides whether the
    // local cloud starts (crate::local_cloud::note_state).
    let stored = ws.load_state()?;
    let providers = registry();
    configure_providers(&providers, &evaluation).await?;
    // Operations a crash left in flight: adopt what exists before planning.
    let doc = crate::recovery::recovered(stored, &providers).await;
    let mut prior = prior_state(doc.as_ref());
    // The engine's view is all the plan needs: with thousands of instances the document is a
    // second copy of every value.
    drop(doc);
    let mut drift = Vec::new();
    if refresh && !prior.instances.is_empty() {
        let progress = RefreshLines::new();
        let report = mesh_engine::refresh::refresh_with_progress(
            &mut prior,
            &providers,
            flags.parallelism,
            &progress,
        )
        .await?;
        drift = report.drift;
    }
    let checked = plan_checked(PlanInput {
        evaluation,
        providers: providers.clone(),
        prior,
        options: PlanOptions {
            mode,
            targets: flags.targets.clone(),
            replace: flags.replace.clone(),
        },
        config_digest: digest,
        variables,
    })
    .await?;
    let mut plan = checked.plan;
    let prior = checked.prior;
    plan.record_drift(drift, &root.drift.ignore);
    if refresh_only {
        keep_refresh_only(&mut plan);
    }
    let planned = Planned {
        plan,
        root,
        providers,
        prior,
    };
    Ok((planned, checked.findings))
}

/// Refresh progress on stderr for refreshes that take a while (thousands of instances against
/// a throttled API): a line every few seconds, then how long it took.
struct RefreshLines {
    started: std::time::Instant,
    last_line: std::sync::Mutex<Option<std::time::Instant>>,
}

impl RefreshLines {
    /// Quiet for this long, and between two lines.
    const EVERY: std::time::Duration = std::time::Duration::from_secs(2);

    fn new() -> RefreshLines {
        RefreshLines {
            started: std::time::Instant::now(),
            last_line: std::sync::Mutex::new(None),
        }
    }
}

impl mesh_engine::refresh::RefreshProgress for RefreshLines {
    fn refreshed(&self, done: usize, total: usize) {
        let now = std::time::Instant::now();
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
        let long = last.is_some() || elapsed >= Self::EVERY.as_secs_f64();
        if done == total && long {
            let rate = total as f64 / elapsed.max(1e-9);
            eprintln!("Refreshed {total} instances in {elapsed:.1}s ({rate:.1} a second)");
            return;
        }
        let due = match *last {
            None => elapsed >= Self::EVERY.as_secs_f64(),
            Some(t) => now.duration_since(t) >= Self::EVERY,
        };
        if due {
            eprintln!("Refreshing state... {done}/{total} ({elapsed:.0}s)");
            *last = Some(now);
        }
    }
}

/// Turn a plan into a refresh-only one: every instance that exists keeps its refreshed value
/// (a no-op, which apply records into state), nothing is created, changed or destroyed, and
/// outputs keep their current values.
pub fn keep_refresh_only(plan: &mut Plan) {
    plan.changes.retain_mut(|c| {
        if mesh_engine::address::parse_deposed(&c.address).is_some() {
            return false;
        }
        match c.mode {
            ResourceMode::Data => c.action == Action::NoOp,
            ResourceMode::Managed => {
                if c.before.is_null() {
                    return false;
                }
                c.action = Action::NoOp;
                c.after = c.before.clone();
                c.reason = None;
                c.replace_paths.clear();
                true
            }
        }
    });
    for output in plan.outputs.values_mut() {
        output.after = output.before.clone();
        output.removed = false;
    }
}

/// The exit code of `--detailed-exitcode`: 2 when the plan changes anything or found drift
/// (drift the spec's drift rules ignore does not count).
pub fn detailed_exit_code(plan: &Plan) -> i32 {
    if plan.has_changes() || !plan.drift.is_empty() {
        2
    } else {
        0
    }
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
    let planned =
        make_plan_with(ws, &args.flags, mode, args.flags.refresh, args.refresh_only).await?;
    drop(lock);
    print_plan(ws, &planned.plan, args.format)?;
    if let Some(out) = &args.out {
        save_plan(ws, &planned.plan, out)?;
        if args.format == OutputFormat::Human {
            println!("\nSaved the plan to: {}\n\nTo perform exactly these actions, run:\n    mesh apply {}", out.display(), out.display());
        }
    }
    if args.detailed_exitcode {
        return Ok(detailed_exit_code(&planned.plan));
    }
    Ok(0)
}

/// Print a plan in the chosen format.
pub fn print_plan(ws: &Workspace, plan: &Plan, format: OutputFormat) -> Result<(), CommandError> {
    match format {
        OutputFormat::Human => {
            print!("{}", render_plan_human(plan, ws.color));
            print_plan_warnings(plan);
        }
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render_plan_json(plan)).map_err(anyhow::Error::from)?
        ),
        OutputFormat::Markdown => print!("{}", mesh_engine::render::render_plan_markdown(plan)),
    }
    Ok(())
}

/// Write a plan file (it may hold secrets: owner-only permissions, and encrypted like the state
/// when the spec encrypts state).
pub fn save_plan(ws: &Workspace, plan: &Plan, path: &std::path::Path) -> Result<(), CommandError> {
    let bytes = serde_json::to_vec_pretty(plan).map_err(anyhow::Error::from)?;
    let bytes = mesh_state::crypto::seal_file(ws.encryption()?.as_deref(), bytes)?;
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

/// Read a plan file, checking its format version and that every change is one mesh could have
/// planned (a plan edited by hand or cut short is refused before anything acts on it).
pub fn load_plan(ws: &Workspace, path: &std::path::Path) -> Result<Plan, CommandError> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read plan file {}: {e}", path.display()))?;
    let bytes = mesh_state::crypto::open_file(ws.encryption()?.as_deref(), &bytes, path)?;
    mesh_engine::plan::decode_saved_plan(&bytes).map_err(|e| {
        let problem = match e {
            SavedPlanError::Syntax { .. } => format!("is not a mesh plan file: {e}"),
            _ => format!("is not a usable mesh plan file: {e}"),
        };
        anyhow::anyhow!("{} {problem}", path.display()).into()
    })
}
