//! The debug log channel, for the people who debug mesh: `MESH_LOG` chooses what is logged and
//! `MESH_LOG_PATH` where (as Terraform's `TF_LOG` and `TF_LOG_PATH`).
//!
//! Unset, nothing is installed and mesh's output is exactly what it is without this module:
//! logging is a channel beside the user's output, never part of it. Events themselves come
//! from the library crates (`tracing::debug!` and friends); they name addresses, paths, sizes,
//! statuses and durations, never values, bodies or headers, so a log can be attached to a bug
//! report.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

use crate::args::{Command, StateCommand};

/// The variable that turns logging on: a level or a filter directive string.
pub(crate) const LOG_VAR: &str = "MESH_LOG";
/// The variable naming a file to append the log to instead of stderr.
pub(crate) const LOG_PATH_VAR: &str = "MESH_LOG_PATH";

/// The prefix of every target of mesh's own crates: the binary (`mesh`) and the libraries
/// (`mesh_engine`, `mesh_state`, `mesh_provider_azure`, ...). Filter directives match targets
/// by prefix, so one directive covers them all.
const OWN_TARGETS: &str = "mesh";

/// What dependencies log at unless a directive names them. Their debug and trace output is
/// not ours to vet: hyper, h2 and kube's HTTP tracing can print request headers (a bearer
/// token, a kubeconfig's client credentials) and rustls its handshake secrets' metadata. So a
/// bare level raises mesh's crates only, and a dependency is raised only when named.
const DEPENDENCY_LEVEL: &str = "warn";

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// When the process started, for the duration on the closing line.
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Install the log subscriber that `MESH_LOG` and `MESH_LOG_PATH` ask for. Unset (or `off`):
/// nothing is installed. A value that cannot be used is a one-line warning on stderr, never a
/// failure: a typo in a debugging aid must not stop the command.
pub(crate) fn init() {
    STARTED.get_or_init(Instant::now);
    let Some(value) = std::env::var_os(LOG_VAR) else {
        return;
    };
    let value = value.to_string_lossy();
    let filter = match filter_for(&value) {
        Ok(Some(filter)) => filter,
        Ok(None) => return,
        Err(why) => return warn(&format!("{LOG_VAR}={value:?} is ignored: {why}")),
    };
    let writer = match std::env::var_os(LOG_PATH_VAR).filter(|p| !p.is_empty()) {
        None => BoxMakeWriter::new(std::io::stderr),
        Some(path) => match open_log_file(Path::new(&path)) {
            Ok(file) => BoxMakeWriter::new(Arc::new(file)),
            Err(e) => {
                let path = Path::new(&path).display().to_string();
                return warn(&format!(
                    "cannot open {LOG_PATH_VAR} {path:?}: {e}; logging is off"
                ));
            }
        },
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    if let Err(e) = installed {
        warn(&format!("cannot start logging: {e}"));
    }
}

/// Print one warning line about the log settings on stderr.
fn warn(message: &str) {
    eprintln!("Warning: {}", message.replace('\n', " "));
}

/// The filter for a `MESH_LOG` value: `None` for nothing at all (empty or `off`).
///
/// Each comma-separated item is a level (case-insensitive), which applies to mesh's own crates,
/// or an `EnvFilter` directive naming a target (`kube=debug`, `mesh_state=trace`). A bare word
/// that is not a level is refused rather than taken as a target at every level: `verbose` or
/// `degub` is far more likely a typo than a crate name.
fn filter_for(value: &str) -> Result<Option<EnvFilter>, String> {
    let Some(directives) = directives_for(value)? else {
        return Ok(None);
    };
    EnvFilter::builder()
        .parse(&directives)
        .map(Some)
        .map_err(|e| {
            format!(
                "not a level ({}) nor a filter directive: {e}",
                LEVELS.join(", ")
            )
        })
}

/// The directive string for a `MESH_LOG` value (see [`filter_for`]), with dependencies at
/// [`DEPENDENCY_LEVEL`] first so that later, more specific directives override it.
fn directives_for(value: &str) -> Result<Option<String>, String> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .collect();
    if items.is_empty() || (items.len() == 1 && items[0].eq_ignore_ascii_case("off")) {
        return Ok(None);
    }
    let mut directives = vec![DEPENDENCY_LEVEL.to_string()];
    for item in items {
        directives.push(directive_for(item)?);
    }
    Ok(Some(directives.join(",")))
}

/// One item of `MESH_LOG` as a directive: a bare level is for mesh's crates only.
fn directive_for(item: &str) -> Result<String, String> {
    let lower = item.to_ascii_lowercase();
    if LEVELS.contains(&lower.as_str()) {
        return Ok(format!("{OWN_TARGETS}={lower}"));
    }
    let bare_word = item
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare_word {
        return Err(format!(
            "{item:?} is not a level ({}); name a target as TARGET=LEVEL",
            LEVELS.join(", ")
        ));
    }
    Ok(item.to_string())
}

/// Open (or create, mode `0600`: a log names the user's resources) the log file for appending.
/// Appending lets several mesh processes share one file: each event is one write.
fn open_log_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Log the start of a command: its name and mesh's version, never its arguments (a `-var`
/// may carry a password).
pub(crate) fn command_started(command: &Command) {
    tracing::info!(
        command = command_name(command),
        version = env!("CARGO_PKG_VERSION"),
        "command started"
    );
}

/// Log the end of the process with its exit code and how long it ran.
pub(crate) fn command_finished(exit_code: i32) {
    let elapsed = STARTED.get().map(Instant::elapsed).unwrap_or_default();
    tracing::info!(
        exit_code,
        duration_ms = elapsed.as_millis() as u64,
        "command finished"
    );
}

/// The command's name as typed (`apply`, `state rm`, `local serve`).
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Validate => "validate",
        Command::Fmt(_) => "fmt",
        Command::Plan(_) => "plan",
        Command::Check(_) => "check",
        Command::Apply(_) => "apply",
        Command::Drift(_) => "drift",
        Command::Destroy(_) => "destroy",
        Command::Graph(_) => "graph",
        Command::State(c) => state_command_name(c),
        Command::Output(_) => "output",
        Command::Status(_) => "status",
        Command::ForceUnlock(_) => "force-unlock",
        Command::Show(_) => "show",
        Command::Schema(_) => "schema",
        Command::Completions(_) => "completions",
        Command::Local(_) => "local",
    }
}

fn state_command_name(command: &StateCommand) -> &'static str {
    match command {
        StateCommand::List { .. } => "state list",
        StateCommand::Show { .. } => "state show",
        StateCommand::Rm { .. } => "state rm",
        StateCommand::Mv { .. } => "state mv",
        StateCommand::Pull { .. } => "state pull",
        StateCommand::Push { .. } => "state push",
        StateCommand::History => "state history",
        StateCommand::Migrate { .. } => "state migrate",
        StateCommand::Rekey => "state rekey",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_is_for_mesh_only_and_dependencies_stay_at_warn() {
        assert_eq!(
            directives_for("trace").unwrap().as_deref(),
            Some("warn,mesh=trace")
        );
        assert_eq!(
            directives_for(" DEBUG ").unwrap().as_deref(),
            Some("warn,mesh=debug")
        );
        assert_eq!(
            directives_for("Info,kube=debug").unwrap().as_deref(),
            Some("warn,mesh=info,kube=debug")
        );
        assert_eq!(
            directives_for("mesh_state=trace").unwrap().as_deref(),
            Some("warn,mesh_state=trace")
        );
    }

    #[test]
    fn empty_and_off_log_nothing() {
        for value in ["", " ", ",", "off", "OFF"] {
            assert_eq!(directives_for(value).unwrap(), None, "{value:?}");
            assert!(filter_for(value).unwrap().is_none(), "{value:?}");
        }
    }

    #[test]
    fn typos_and_bad_directives_are_refused() {
        for value in [
            "verbose",
            "degub",
            "mesh=verbose",
            "debug,kube=loud",
            "[unclosed=debug",
        ] {
            assert!(filter_for(value).is_err(), "{value:?} must be refused");
        }
        for value in [
            "trace",
            "warn",
            "mesh=debug,kube=debug",
            "mesh_provider_azure=trace",
        ] {
            assert!(filter_for(value).is_ok(), "{value:?} must be accepted");
        }
    }

    #[test]
    fn the_log_file_is_private_and_appended_to() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mesh.log");
        writeln!(open_log_file(&path).expect("create"), "one").expect("write");
        writeln!(open_log_file(&path).expect("reopen"), "two").expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "one\ntwo\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
