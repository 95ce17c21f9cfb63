//! `mesh graph`: the resource dependency graph as DOT or Mermaid.

use mesh_engine::graph::{render_dependency_graph, GraphFormat};
use mesh_engine::plan::PlanMode;

use super::plan::make_plan;
use crate::args::{GraphArgs, GraphFormatArg};
use crate::workspace::{CommandResult, Workspace};

/// `mesh graph`.
pub async fn run(ws: &Workspace, args: &GraphArgs) -> CommandResult {
    let planned = make_plan(ws, &args.flags, PlanMode::Normal, false).await?;
    let format = match args.format {
        GraphFormatArg::Dot => GraphFormat::Dot,
        GraphFormatArg::Mermaid => GraphFormat::Mermaid,
    };
    print!("{}", render_dependency_graph(&planned.plan, format));
    Ok(0)
}
