//! `mesh drift`: a refresh-only plan that exits 2 when something changed outside mesh.

use mesh_engine::plan::PlanMode;

use super::plan::{make_plan_with, print_plan};
use crate::args::DriftArgs;
use crate::workspace::{CommandResult, Workspace};

/// `mesh drift`: exit 0 when state matches the real objects, 2 when it does not, 1 on error.
pub async fn run(ws: &Workspace, args: &DriftArgs) -> CommandResult {
    let lock = ws.lock(
        "drift",
        crate::args::parse_duration(&args.flags.lock_timeout).map_err(anyhow::Error::msg)?,
    )?;
    let planned =
        make_plan_with(ws, &args.flags, PlanMode::Normal, args.flags.refresh, true).await?;
    drop(lock);
    print_plan(ws, &planned.plan, args.format)?;
    Ok(if planned.plan.drift.is_empty() { 0 } else { 2 })
}
