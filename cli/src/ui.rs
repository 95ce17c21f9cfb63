//! Terminal output: colors (only on a TTY, never with NO_COLOR), apply progress lines in
//! Terraform's words, diagnostics, and the "yes" confirmation.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use mesh_engine::apply::{Progress, ProgressEvent};
use mesh_engine::diagnostics::Diagnostics;
use mesh_engine::graph::OpKind;
use mesh_engine::render::ColorChoice;

/// Whether to color stdout.
pub fn color_choice(no_color_flag: bool) -> ColorChoice {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if no_color_flag || no_color_env || !std::io::stdout().is_terminal() {
        ColorChoice::Never
    } else {
        ColorChoice::Always
    }
}

/// Bold/red/green text when coloring.
pub struct Paint(pub ColorChoice);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        match self.0 {
            ColorChoice::Always => format!("\x1b[{code}m{text}\x1b[0m"),
            ColorChoice::Never => text.to_string(),
        }
    }

    /// Bold green.
    pub fn green(&self, text: &str) -> String {
        self.wrap("1;32", text)
    }

    /// Bold red.
    pub fn red(&self, text: &str) -> String {
        self.wrap("1;31", text)
    }

    /// Bold yellow.
    pub fn yellow(&self, text: &str) -> String {
        self.wrap("1;33", text)
    }
}

/// Print diagnostics to stderr (errors) — warnings too.
pub fn print_diagnostics(diags: &Diagnostics, color: ColorChoice) {
    let paint = Paint(if std::io::stderr().is_terminal() {
        color
    } else {
        ColorChoice::Never
    });
    for d in &diags.0 {
        let text = d.to_string();
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let first = if d.is_error() {
            paint.red(first)
        } else {
            paint.yellow(first)
        };
        eprintln!("\n{first}\n{rest}");
    }
}

/// Prints apply progress to stdout, Terraform style.
pub struct ConsoleProgress;

fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress for ConsoleProgress {
    fn event(&self, event: ProgressEvent) {
        let line = match event {
            ProgressEvent::Started { address, kind } => {
                format!("{address}: {}...", kind.progressive())
            }
            ProgressEvent::StillRunning {
                address,
                kind,
                elapsed: e,
            } => {
                format!(
                    "{address}: Still {}... [{} elapsed]",
                    kind.progressive().to_lowercase(),
                    elapsed(e)
                )
            }
            ProgressEvent::Completed {
                address,
                kind,
                elapsed: e,
                id,
            } => {
                let id = id
                    .filter(|_| kind != OpKind::Delete)
                    .map(|i| format!(" [id={i}]"))
                    .unwrap_or_default();
                format!(
                    "{address}: {} complete after {}{id}",
                    kind.noun(),
                    elapsed(e)
                )
            }
            ProgressEvent::Failed { address, kind, .. } => {
                format!("{address}: {} failed", kind.noun())
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Ask for "yes". Refuses without a terminal, naming `skip_flag` (e.g. `--auto-approve`), the
/// flag that proceeds without asking.
pub fn confirm(question: &str, detail: &str, skip_flag: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question} needs confirmation, but standard input is not a terminal; re-run with {skip_flag} to proceed without asking");
    }
    print!(
        "\n{question}\n  {detail}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
