//! `mesh apply` and `mesh destroy`: plan (or load a saved plan), confirm, execute with state
//! saved after every operation, report.

use std::sync::Arc;
use std::time::Duration;

use mesh_engine::apply::{apply, ApplyInput, ApplyReport, Interrupt, StateSink, StateUpdate};
use mesh_engine::evaluation::Evaluation;
use mesh_engine::plan::{Plan, PlanMode};
use mesh_engine::render::{render_plan_human, render_value};
use mesh_state::StateDocument;

use super::plan::{load_plan, make_plan, make_plan_with, print_plan_warnings, Planned};
use crate::args::{parse_duration, ApplyArgs, DestroyArgs, PlanFlags};
use crate::signals;
use crate::state_bridge::{prior_state, BackendStateSink};
use crate::ui::{confirm, ConsoleProgress, Paint};
use crate::workspace::{
    config_digest, configure_providers, registry, CommandError, CommandResult, Workspace,
};

/// `mesh apply`.
pub async fn run_apply(ws: &Workspace, args: &ApplyArgs) -> CommandResult {
    if args.plan_file.is_some() {
        refuse_planning_flags(&args.flags)?;
        if args.refresh_only {
            return Err(anyhow::anyhow!(
                "--refresh-only cannot be used with a saved plan: the plan already fixes what \
                 it does. Make a refresh-only plan (mesh plan --refresh-only --out FILE), or run \
                 mesh apply --refresh-only without a plan file."
            )
            .into());
        }
    }
    let timeout = parse_duration(&args.flags.lock_timeout).map_err(anyhow::Error::msg)?;
    let lock = ws.lock("apply", timeout)?;
    let planned = match &args.plan_file {
        Some(path) => saved_plan(ws, path).await?,
        None => {
            make_plan_with(
                ws,
                &args.flags,
                PlanMode::Normal,
                args.flags.refresh,
                args.refresh_only,
            )
            .await?
        }
    };
    let interactive = args.plan_file.is_none() && !args.auto_approve;
    let verb = if args.refresh_only {
        "refresh-only"
    } else {
        "apply"
    };
    let code = execute(ws, planned, &args.flags, interactive, verb).await;
    lock.release()?;
    code
}

/// A saved plan is applied exactly as it was made: flags that would change what it does are an
/// error rather than silently ignored.
fn refuse_planning_flags(flags: &PlanFlags) -> Result<(), CommandError> {
    let mut names: Vec<&str> = Vec::new();
    let mut fixed: Vec<&str> = Vec::new();
    for (given, flag, what) in [
        (!flags.vars.is_empty(), "-var", "the variable values"),
        (
            !flags.var_files.is_empty(),
            "-var-file",
            "the variable values",
        ),
        (
            !flags.targets.is_empty(),
            "-target",
            "which resources it changes",
        ),
        (
            !flags.replace.is_empty(),
            "-replace",
            "which resources it replaces",
        ),
    ] {
        if given {
            names.push(flag);
            if !fixed.contains(&what) {
                fixed.push(what);
            }
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    Err(anyhow::anyhow!(
        "{} cannot be used with a saved plan: the plan already fixes {}. Make a new plan with \
         these options (mesh plan ... --out FILE), or run mesh apply without a plan file.",
        join_and(&names),
        join_and(&fixed)
    )
    .into())
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// `mesh destroy`.
pub async fn run_destroy(ws: &Workspace, args: &DestroyArgs) -> CommandResult {
    let timeout = parse_duration(&args.flags.lock_timeout).map_err(anyhow::Error::msg)?;
    let lock = ws.lock("destroy", timeout)?;
    let planned = make_plan(ws, &args.flags, PlanMode::Destroy, args.flags.refresh).await?;
    let code = execute(ws, planned, &args.flags, !args.auto_approve, "destroy").await;
    lock.release()?;
    code
}

/// Load a saved plan and check that it still applies: same state, same configuration.
async fn saved_plan(ws: &Workspace, path: &std::path::Path) -> Result<Planned, CommandError> {
    let plan = load_plan(ws, path)?;
    let doc = ws.load_state()?;
    let current_lineage = doc.as_ref().map(|d| d.lineage.clone());
    let current_serial = doc.as_ref().map(|d| d.serial).unwrap_or(0);
    if plan.prior_state.lineage.is_some() && plan.prior_state.lineage != current_lineage {
        return Err(anyhow::anyhow!("Saved plan is stale: it was made for a different state (lineage {}); run mesh plan -out {} again", plan.prior_state.lineage.clone().unwrap_or_default(), path.display()).into());
    }
    if plan.prior_state.serial != current_serial {
        return Err(anyhow::anyhow!(
            "Saved plan is stale: the state has changed since the plan was made (serial {} then, {} now); run mesh plan -out {} again",
            plan.prior_state.serial,
            current_serial,
            path.display()
        )
        .into());
    }
    let root = ws.load_config()?;
    let variables = plan.variable_values();
    if config_digest(&root, &variables) != plan.config_digest {
        return Err(anyhow::anyhow!("Saved plan is stale: the spec files changed since the plan was made; run mesh plan -out {} again", path.display()).into());
    }
    let providers = registry();
    let evaluation = Evaluation::new(root.clone(), variables, true);
    configure_providers(&providers, &evaluation).await?;
    let prior = prior_state(doc.as_ref());
    Ok(Planned {
        plan,
        root,
        providers,
        prior,
    })
}

async fn execute(
    ws: &Workspace,
    planned: Planned,
    flags: &PlanFlags,
    interactive: bool,
    verb: &str,
) -> CommandResult {
    let Planned {
        plan,
        root,
        providers,
        prior,
    } = planned;
    print!("{}", render_plan_human(&plan, ws.color));
    print_plan_warnings(&plan);
    let paint = Paint(ws.color);
    let drifted = plan.drifted_addresses().len();
    if interactive && verb == "refresh-only" && drifted > 0 {
        if !confirm(
            "Would you like to update the mesh state to reflect these detected changes?",
            "mesh will write these changes to the state without modifying any real remote objects.",
            "--auto-approve",
        )? {
            println!("\nApply cancelled.");
            return Ok(1);
        }
    } else if interactive && plan.has_changes() {
        let (question, detail) = if plan.mode == PlanMode::Destroy {
            ("Do you really want to destroy all resources?", "mesh will destroy all your managed infrastructure, as shown above.\n  There is no undo.")
        } else {
            (
                "Do you want to perform these actions?",
                "mesh will perform the actions described above.",
            )
        };
        if !confirm(question, detail, "--auto-approve")? {
            println!(
                "\n{} cancelled.",
                if verb == "destroy" {
                    "Destroy"
                } else {
                    "Apply"
                }
            );
            return Ok(1);
        }
    }
    println!();
    let doc = ws.load_state()?.unwrap_or_else(StateDocument::new);
    let recovered = crate::recovery::interrupted(&doc, &providers).await;
    let sink = Arc::new(BackendStateSink::new(ws.backend()?, doc));
    // What a crash left in flight, as the plan saw it: written before anything else.
    if let Err(e) = sink.record(recovered) {
        eprintln!("\n{}\n\n{e}", paint.red("Error: saving state failed"));
        return Ok(1);
    }
    // Objects deleted outside mesh are gone: forget them (the plan creates them again when the
    // configuration still has them).
    // Those a drift rule ignores too: the rules change reports, not what apply does.
    let vanished: Vec<StateUpdate> = plan
        .vanished()
        .into_iter()
        .map(StateUpdate::Remove)
        .collect();
    if !vanished.is_empty() {
        if let Err(e) = sink.record(vanished) {
            eprintln!("\n{}\n\n{e}", paint.red("Error: saving state failed"));
            return Ok(1);
        }
    }
    let interrupt = Interrupt::default();
    signals::applying(interrupt.clone());
    let aborted = interrupt.abort.clone();
    let evaluation = Arc::new(Evaluation::new(root, plan.variable_values(), false));
    let report = apply(ApplyInput {
        plan: plan.clone(),
        evaluation,
        providers,
        prior,
        parallelism: flags.parallelism,
        order: flags.scheduler.into(),
        interrupt,
        sink: sink.clone(),
        progress: Arc::new(ConsoleProgress),
        progress_interval: progress_interval(),
    })
    .await;
    // Fold the journal into one snapshot while the lock is still held.
    let compacted = sink.compact();
    print_report(&report, &plan, verb, &paint);
    if let Err(e) = compacted {
        eprintln!("\n{}\n\n{e}\n(Every completed operation is in the state journal; the next command replays it.)", paint.red("Error: writing the state snapshot failed"));
        return Ok(1);
    }
    if aborted.is_cancelled() {
        // Interrupted twice: state is saved; the lock goes when the command returns.
        return Ok(130);
    }
    if report.is_success() {
        if verb == "refresh-only" {
            let n = drifted;
            println!(
                "Accepted {n} {} changed outside of mesh into the state.",
                if n == 1 { "object" } else { "objects" }
            );
        }
        print_outputs(&sink.document(), &plan);
        Ok(0)
    } else {
        Ok(1)
    }
}

/// "Still creating..." every 10 s (MESH_PROGRESS_INTERVAL overrides, for tests and demos).
fn progress_interval() -> Duration {
    std::env::var("MESH_PROGRESS_INTERVAL")
        .ok()
        .and_then(|v| parse_duration(&v).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(10))
}

fn print_report(report: &ApplyReport, plan: &Plan, verb: &str, paint: &Paint) {
    for failure in &report.failed {
        eprintln!(
            "\n{}\n\n{}",
            paint.red(&format!(
                "Error: {} failed for {}",
                failure.kind.noun(),
                failure.address
            )),
            failure.message
        );
    }
    for e in &report.state_errors {
        eprintln!("\n{}\n\n{e}", paint.red("Error: saving state failed"));
    }
    if !report.skipped.is_empty() {
        eprintln!("\nNot done:");
        for (address, kind, why) in &report.skipped {
            eprintln!(
                "  {address} ({}): skipped because {why}",
                kind.noun().to_lowercase()
            );
        }
    }
    if report.interrupted {
        eprintln!("\nInterrupted: mesh stopped scheduling new operations; state was saved after every completed one.");
    }
    if !report.failed.is_empty() || report.interrupted {
        let done: Vec<String> = report
            .succeeded
            .iter()
            .map(|(a, k)| format!("{a} ({})", k.noun().to_lowercase()))
            .collect();
        if !done.is_empty() {
            eprintln!("\nCompleted before stopping:\n  {}", done.join("\n  "));
        }
        return;
    }
    if plan.mode == PlanMode::Destroy || verb == "destroy" {
        println!(
            "\n{}",
            paint.green(&format!(
                "Destroy complete! Resources: {} destroyed.",
                report.destroyed
            ))
        );
    } else {
        println!(
            "\n{}",
            paint.green(&format!(
                "Apply complete! Resources: {} added, {} changed, {} destroyed.",
                report.added, report.changed, report.destroyed
            ))
        );
    }
}

fn print_outputs(doc: &StateDocument, plan: &Plan) {
    if doc.outputs.is_empty() || plan.mode == PlanMode::Destroy {
        return;
    }
    println!("\nOutputs:\n");
    for (name, output) in &doc.outputs {
        let value = mesh_engine::value::Value::from_json(&output.value);
        let value = if output.sensitive {
            value.into_sensitive()
        } else {
            value
        };
        println!("{name} = {}", render_value(&value, false));
    }
}
