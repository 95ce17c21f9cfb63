//! The `mesh` binary: parses the command line, moves to the spec directory, runs a command,
//! prints errors as diagnostics and exits with the command's code.

// Diagnostics and state errors are rich by design and travel on the cold path only.
#![allow(clippy::result_large_err)]

mod args;
mod commands;
mod signals;
mod state_bridge;
mod ui;
mod variables;
mod workspace;

use clap::{CommandFactory, Parser};

use args::{Cli, Command};
use workspace::{CommandError, CommandResult, Workspace};

fn main() {
    let cli = Cli::parse_from(args::normalize_terraform_flags(std::env::args()));
    let color = ui::color_choice(cli.no_color);
    if let Some(dir) = &cli.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("Error: cannot change to directory {}: {e}", dir.display());
            std::process::exit(1);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(run(cli, color)) {
        Ok(code) => code,
        Err(CommandError::Diagnostics(d)) => {
            ui::print_diagnostics(&d, color);
            1
        }
        Err(CommandError::Other(e)) => {
            let paint = ui::Paint(color);
            eprintln!("\n{} {e:#}", paint.red("Error:"));
            1
        }
    };
    std::process::exit(code);
}

async fn run(cli: Cli, color: mesh_engine::render::ColorChoice) -> CommandResult {
    signals::install();
    if let Command::Completions(c) = &cli.command {
        clap_complete::generate(c.shell, &mut Cli::command(), "mesh", &mut std::io::stdout());
        return Ok(0);
    }
    let ws = Workspace::current(color)?;
    match &cli.command {
        Command::Validate => commands::source::validate(&ws).await,
        Command::Fmt(a) => commands::source::fmt(&ws, a),
        Command::Plan(a) => commands::plan::run(&ws, a).await,
        Command::Apply(a) => commands::apply::run_apply(&ws, a).await,
        Command::Destroy(a) => commands::apply::run_destroy(&ws, a).await,
        Command::Graph(a) => commands::graph::run(&ws, a).await,
        Command::State(c) => commands::state::run(&ws, c),
        Command::Output(a) => commands::output::run(&ws, a),
        Command::ForceUnlock(a) => commands::state::force_unlock(&ws, &a.id),
        Command::Show(a) => commands::state::show(&ws, a),
        Command::Schema(a) => commands::schema::run(&ws, a),
        Command::Completions(_) => Ok(0),
    }
}
