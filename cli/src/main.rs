//! The `mesh` binary: parses the command line, moves to the spec directory, runs a command,
//! prints errors as diagnostics and exits with the command's code.

// Diagnostics and state errors are rich by design and travel on the cold path only.
#![allow(clippy::result_large_err)]

mod args;
mod backend_config;
mod commands;
mod encryption_config;
mod group_commit;
mod local_cloud;
mod logging;
mod recovery;
mod signals;
mod state_bridge;
mod ui;
mod variables;
mod workspace;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{CommandFactory, Parser};

use args::{Cli, Command};
use workspace::{CommandError, CommandResult, Workspace};

/// The exit code of a process killed by SIGPIPE (128 + 13), as shells report it: what
/// `mesh show | head -1` exits with once `head` has closed the pipe.
const BROKEN_PIPE_EXIT: i32 = 141;

/// Set by the panic hook when a print failed because stdout or stderr was closed.
static OUTPUT_CLOSED: AtomicBool = AtomicBool::new(false);

fn main() {
    quiet_broken_pipes();
    // A print to a closed pipe panics (`println!`); the hook has already recorded it and said
    // nothing. Unwinding runs destructors (a held state lock is released) up to here, where
    // mesh exits as a program killed by SIGPIPE would. Other panics keep the default report.
    let code = match std::panic::catch_unwind(run_main) {
        Ok(_) | Err(_) if OUTPUT_CLOSED.load(Ordering::SeqCst) => BROKEN_PIPE_EXIT,
        Ok(code) => code,
        Err(payload) => std::panic::resume_unwind(payload),
    };
    logging::command_finished(code);
    std::process::exit(code);
}

/// Install a panic hook that recognises the standard library's "failed printing to stdout"
/// (or stderr) panic for a closed pipe and records it without printing anything; every other
/// panic goes to the default hook.
fn quiet_broken_pipes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_broken_pipe_panic(message) {
            OUTPUT_CLOSED.store(true, Ordering::SeqCst);
            return;
        }
        default(info);
    }));
}

/// `failed printing to stdout: Broken pipe (os error 32)`, as `print!`/`eprint!` panic.
fn is_broken_pipe_panic(message: &str) -> bool {
    let broken_pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe).to_string();
    (message.starts_with("failed printing to stdout")
        || message.starts_with("failed printing to stderr"))
        && (message.contains("os error 32") || message.contains(&broken_pipe))
}

fn run_main() -> i32 {
    // Before `-C`: a relative MESH_LOG_PATH is relative to where mesh was started.
    logging::init();
    let cli = Cli::parse_from(args::normalize_terraform_flags(std::env::args()));
    logging::command_started(&cli.command);
    let color = ui::color_choice(cli.no_color);
    if let Some(dir) = &cli.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("Error: cannot change to directory {}: {e}", dir.display());
            return 1;
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(cli, color)) {
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
    }
}

async fn run(cli: Cli, color: mesh_engine::render::ColorChoice) -> CommandResult {
    if let Command::Local(c) = &cli.command {
        // Before the interrupt handler: Ctrl-C stops `mesh local serve` cleanly.
        return commands::local::run(c).await;
    }
    signals::install();
    if let Command::Completions(c) = &cli.command {
        // clap_complete panics with its own message when a write fails: generate first.
        let mut script = Vec::new();
        clap_complete::generate(c.shell, &mut Cli::command(), "mesh", &mut script);
        return match std::io::stdout().lock().write_all(&script) {
            Ok(()) => Ok(0),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(BROKEN_PIPE_EXIT),
            Err(e) => Err(anyhow::anyhow!("cannot write the completion script: {e}").into()),
        };
    }
    let ws = Workspace::current(color)?;
    let result = match &cli.command {
        Command::Validate => commands::source::validate(&ws).await,
        Command::Fmt(a) => commands::source::fmt(&ws, a),
        Command::Plan(a) => commands::plan::run(&ws, a).await,
        Command::Check(a) => commands::check::run(&ws, a).await,
        Command::Apply(a) => commands::apply::run_apply(&ws, a).await,
        Command::Destroy(a) => commands::apply::run_destroy(&ws, a).await,
        Command::Drift(a) => commands::drift::run(&ws, a).await,
        Command::Graph(a) => commands::graph::run(&ws, a).await,
        Command::State(c) => commands::state::run(&ws, c),
        Command::Output(a) => commands::output::run(&ws, a),
        Command::Status(a) => commands::status::run(&ws, a).await,
        Command::ForceUnlock(a) => commands::state::force_unlock(&ws, a),
        Command::Show(a) => commands::state::show(&ws, a),
        Command::Schema(a) => commands::schema::run(&ws, a),
        Command::Completions(_) | Command::Local(_) => Ok(0),
    };
    // The embedded local cloud, if the command started one, lives until here.
    local_cloud::shutdown().await;
    result
}

#[cfg(test)]
mod tests {
    use super::is_broken_pipe_panic;

    #[test]
    fn recognises_only_the_closed_pipe_print_panic() {
        assert!(is_broken_pipe_panic(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(is_broken_pipe_panic(
            "failed printing to stderr: Broken pipe (os error 32)"
        ));
        assert!(!is_broken_pipe_panic(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
        assert!(!is_broken_pipe_panic("index out of bounds: Broken pipe"));
    }
}
