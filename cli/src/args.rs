//! The command line, as clap definitions. Terraform's single-dash long flags (`-var`, `-out`,
//! `-target`, ...) are accepted too: [`normalize_terraform_flags`] rewrites them first.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Declarative multi-region AKS clusters joined into a multi-cluster Istio mesh: plan, apply, destroy.
#[derive(Debug, Parser)]
#[command(name = "mesh", version, propagate_version = true)]
pub struct Cli {
    /// Run as if started in DIR (the spec directory).
    #[arg(short = 'C', long = "chdir", global = true, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// Never use colors (also when NO_COLOR is set or output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec for errors without touching state or providers' remote APIs.
    Validate,
    /// Rewrite spec files in the canonical style.
    Fmt(FmtArgs),
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Check the multi-cluster mesh the spec describes (trust, identity, discovery, networks,
    /// services, injection) before anything is applied; exit 1 on errors.
    Check(CheckArgs),
    /// Make the changes: from a fresh plan, or exactly a saved plan file.
    Apply(ApplyArgs),
    /// Report changes made outside mesh (a refresh-only plan); exit 2 when there are any.
    Drift(DriftArgs),
    /// Destroy everything this state manages.
    Destroy(DestroyArgs),
    /// Print the resource dependency graph.
    Graph(GraphArgs),
    /// Inspect and edit state.
    #[command(subcommand)]
    State(StateCommand),
    /// Print root outputs.
    Output(OutputArgs),
    /// Show each cluster's mesh from the live clusters: remote clusters and whether they are
    /// synced, revisions, namespaces per revision, gateways; exit 2 when something is not ready.
    Status(crate::commands::status::StatusArgs),
    /// Remove a lock left behind by a crashed run.
    ForceUnlock(ForceUnlockArgs),
    /// Show the state, or a saved plan.
    Show(ShowArgs),
    /// Print provider schemas.
    Schema(SchemaArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Run or inspect the local cloud (Azure's APIs on this machine).
    #[command(subcommand)]
    Local(crate::commands::local::LocalCommand),
}

/// `mesh fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Do not write; exit 3 when a file is not formatted.
    #[arg(long)]
    pub check: bool,
    /// Files or directories (default: the spec directory).
    pub paths: Vec<PathBuf>,
}

/// Output format of plans and `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Human,
    /// The documented JSON schema.
    Json,
    /// A pull-request comment (plans only; docs/markdown-plans.md).
    Markdown,
}

/// Variables and targeting, shared by plan, apply and destroy.
#[derive(Debug, Args, Clone, Default)]
pub struct PlanFlags {
    /// Set a root variable: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from an HCL or JSON file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// Limit to these resources and what they depend on (repeatable).
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<String>,
    /// Force replacement of this instance (repeatable).
    #[arg(long = "replace", value_name = "ADDRESS")]
    pub replace: Vec<String>,
    /// Refresh state from providers before planning.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// At most this many operations at once.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
    /// Which ready operations start first when they cannot all start at once (hidden: for
    /// benchmarks that compare the orders).
    #[arg(long, hide = true, env = "MESH_SCHEDULER", value_enum, default_value_t = SchedulerArg::CriticalPath)]
    pub scheduler: SchedulerArg,
    /// Wait this long for the state lock (e.g. 30s, 2m).
    #[arg(long = "lock-timeout", default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: String,
}

/// The apply scheduler's order (`--scheduler`, `MESH_SCHEDULER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SchedulerArg {
    /// The longest remaining expected path first.
    #[default]
    CriticalPath,
    /// In the order operations became ready.
    Fifo,
}

impl From<SchedulerArg> for mesh_engine::apply::SchedulingOrder {
    fn from(arg: SchedulerArg) -> Self {
        match arg {
            SchedulerArg::CriticalPath => mesh_engine::apply::SchedulingOrder::CriticalPath,
            SchedulerArg::Fifo => mesh_engine::apply::SchedulingOrder::Fifo,
        }
    }
}

/// `mesh plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Variables and targeting.
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Plan to destroy everything.
    #[arg(long, conflicts_with = "refresh_only")]
    pub destroy: bool,
    /// Only report changes made outside mesh; propose no actions.
    #[arg(long = "refresh-only")]
    pub refresh_only: bool,
    /// Exit 0 when there are no changes and no drift, 1 on error, 2 when there are changes or
    /// drift.
    #[arg(long = "detailed-exitcode")]
    pub detailed_exitcode: bool,
    /// Save the plan to FILE for `mesh apply FILE`.
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// Output format of `mesh check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// For people: findings grouped by rule family.
    Human,
    /// JSON (docs/cli.md).
    Json,
}

/// `mesh check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Variables (targeting does not apply: every rule looks at the whole deployment).
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
}

/// `mesh apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A saved plan to execute exactly.
    pub plan_file: Option<PathBuf>,
    /// Variables and targeting (not with a plan file).
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Do not ask for confirmation.
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
    /// Only accept changes made outside mesh into the state; change no real infrastructure.
    #[arg(long = "refresh-only")]
    pub refresh_only: bool,
}

/// `mesh drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Variables and targeting.
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// `mesh destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Variables and targeting.
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Do not ask for confirmation.
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
}

/// Graph output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormatArg {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// `mesh graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormatArg::Dot)]
    pub format: GraphFormatArg,
    /// Variables.
    #[command(flatten)]
    pub flags: PlanFlags,
}

/// `mesh state ...`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List instance addresses in state.
    List {
        /// Only addresses under these.
        addresses: Vec<String>,
    },
    /// Show one instance's attributes.
    Show {
        /// Instance address.
        address: String,
    },
    /// Forget instances (the objects themselves are not destroyed).
    Rm {
        /// Addresses (a resource or module address removes everything under it).
        #[arg(required = true)]
        addresses: Vec<String>,
    },
    /// Rename an instance, resource or module in state.
    Mv {
        /// Current address.
        from: String,
        /// New address.
        to: String,
    },
    /// Print the stored state as JSON (sensitive values included, like the state itself).
    Pull {
        /// A past version from `mesh state history` instead of the current state.
        #[arg(long, value_name = "ID")]
        snapshot: Option<String>,
    },
    /// Replace the stored state with a state file (same lineage, not older, unless --force).
    Push {
        /// The state file (JSON, as `mesh state pull` prints it); `-` reads stdin.
        file: PathBuf,
        /// Replace even a different or newer state.
        #[arg(long)]
        force: bool,
    },
    /// List the past versions the backend keeps (blob snapshots, or the local backup).
    History,
    /// Encrypt the state and its kept versions again with the current key (after changing the
    /// passphrase, or turning encryption on).
    Rekey,
    /// Copy the state between the local file .mesh/state.json and the spec's backend.
    Migrate {
        /// Where the state goes: `backend` (from the local file) or `local` (from the backend).
        #[arg(long, value_enum)]
        to: MigrateTarget,
        /// Overwrite a different or newer state at the destination.
        #[arg(long)]
        force: bool,
    },
}

/// The destination of `mesh state migrate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrateTarget {
    /// The backend the spec's `mesh { backend ... }` block configures.
    Backend,
    /// The local state file `.mesh/state.json`.
    Local,
}

/// `mesh output`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One output; all when omitted.
    pub name: Option<String>,
    /// As JSON (sensitive values included, as in Terraform).
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// A string output without quotes, for scripts.
    #[arg(long)]
    pub raw: bool,
}

/// `mesh force-unlock`.
#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock ID printed by the error.
    pub id: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

/// `mesh show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A saved plan; the state when omitted.
    pub plan_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// Schema output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaFormat {
    /// For people.
    Human,
    /// JSON.
    Json,
    /// Markdown reference pages.
    Markdown,
}

/// `mesh schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// One resource or data source type.
    pub resource_type: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SchemaFormat::Human)]
    pub format: SchemaFormat,
    /// Write the markdown reference into this directory (one file per type).
    #[arg(long, value_name = "DIR")]
    pub docs_dir: Option<PathBuf>,
}

/// `mesh completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

const TERRAFORM_STYLE_FLAGS: &[&str] = &[
    "var",
    "var-file",
    "target",
    "replace",
    "refresh",
    "refresh-only",
    "detailed-exitcode",
    "parallelism",
    "lock-timeout",
    "destroy",
    "out",
    "auto-approve",
    "format",
    "chdir",
    "check",
    "json",
    "raw",
    "no-color",
    "force",
    "snapshot",
    "to",
];

/// Accept Terraform's `-var`, `-out=FILE`, ... by rewriting them to `--var`, `--out=FILE`.
pub fn normalize_terraform_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|arg| {
            let Some(rest) = arg.strip_prefix('-') else {
                return arg;
            };
            if rest.starts_with('-') {
                return arg;
            }
            let name = rest.split('=').next().unwrap_or(rest);
            if TERRAFORM_STYLE_FLAGS.contains(&name) {
                format!("-{arg}")
            } else {
                arg
            }
        })
        .collect()
}

/// Parse `30s`, `2m`, `1h`, `500ms` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(
        t.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len()),
    );
    let n: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration \"{text}\": expected e.g. 30s, 2m, 500ms"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration \"{text}\": unknown unit \"{unit}\""
            ))
        }
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_flags_are_accepted() {
        let args = normalize_terraform_flags(
            [
                "mesh", "plan", "-var", "a=1", "-out=p", "-C", "x", "--target", "t",
            ]
            .map(String::from),
        );
        assert_eq!(
            args,
            ["mesh", "plan", "--var", "a=1", "--out=p", "-C", "x", "--target", "t"]
        );
    }

    #[test]
    fn about_is_the_one_line_summary() {
        use clap::CommandFactory;
        let about = Cli::command().get_about().map(|a| a.to_string());
        assert_eq!(
            about.as_deref(),
            Some("Declarative multi-region AKS clusters joined into a multi-cluster Istio mesh: plan, apply, destroy")
        );
        assert!(Cli::command().get_long_about().is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("2m"),
            Ok(std::time::Duration::from_secs(120))
        );
        assert_eq!(
            parse_duration("500ms"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert!(parse_duration("soon").is_err());
    }
}
