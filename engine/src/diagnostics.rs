//! Diagnostics: errors and warnings about what a user wrote, with file, line and column.
//!
//! Validation accumulates diagnostics instead of stopping at the first one, so a user sees every
//! mistake of a run at once. A [`Diagnostic`] carries the source line it points at, so it can be
//! rendered without going back to the file.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One spec file held in memory, with an index of where its lines start.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user should see it (relative to the working directory when possible).
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Index a file's text.
    pub fn new(path: impl Into<PathBuf>, text: String) -> Arc<SourceFile> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Arc::new(SourceFile {
            path: path.into(),
            text,
            line_starts,
        })
    }

    /// The location of a byte offset.
    pub fn location(&self, offset: usize) -> SourceLocation {
        let offset = offset.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_index];
        let line_end = self
            .line_starts
            .get(line_index + 1)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        let column = self.text[line_start..offset].chars().count() + 1;
        SourceLocation {
            file: self.path.clone(),
            line: line_index + 1,
            column,
            snippet: self.text[line_start..line_end].trim_end().to_string(),
        }
    }

    /// The location of the start of a span, or of the file's start when there is no span.
    pub fn location_of(&self, span: Option<Range<usize>>) -> SourceLocation {
        self.location(span.map(|s| s.start).unwrap_or(0))
    }
}

/// A place in a spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The text of that line, for display.
    pub snippet: String,
}

impl SourceLocation {
    /// A location without a snippet, for things that are not in a spec file (e.g. `-var`).
    pub fn synthetic(what: &str) -> SourceLocation {
        SourceLocation {
            file: PathBuf::from(what),
            line: 1,
            column: 1,
            snippet: String::new(),
        }
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Stops the operation.
    Error,
    /// Reported, but the operation goes on.
    Warning,
}

/// A message about the spec, pointing at where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A short title, e.g. "Unsupported argument".
    pub summary: String,
    /// What is wrong and what was expected.
    pub detail: String,
    /// Where, when it is about something the user wrote.
    pub location: Option<SourceLocation>,
    /// How to fix it, when we know.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at a location.
    pub fn error(
        summary: impl Into<String>,
        detail: impl Into<String>,
        location: Option<SourceLocation>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            location,
            help: None,
        }
    }

    /// A warning at a location.
    pub fn warning(
        summary: impl Into<String>,
        detail: impl Into<String>,
        location: Option<SourceLocation>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary, detail, location)
        }
    }

    /// Add a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// Terraform-like rendering: title, location with the source line, detail, help.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        writeln!(f, "{kind}: {}", self.summary)?;
        if let Some(loc) = &self.location {
            writeln!(f)?;
            writeln!(
                f,
                "  on {} line {}, column {}:",
                loc.file.display(),
                loc.line,
                loc.column
            )?;
            if !loc.snippet.is_empty() {
                writeln!(f, "  {:>4}: {}", loc.line, loc.snippet)?;
            }
        }
        if !self.detail.is_empty() {
            writeln!(f)?;
            writeln!(f, "{}", self.detail)?;
        }
        if let Some(help) = &self.help {
            writeln!(f)?;
            writeln!(f, "help: {help}")?;
        }
        Ok(())
    }
}

/// An accumulated set of diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Add one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Add many.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }

    /// True when any is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ok when there are no errors, else the diagnostics themselves.
    pub fn into_result(self) -> Result<Diagnostics, Diagnostics> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(self)
        }
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// A path relative to `base` when it is inside it, for display.
pub fn display_path(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// "did you mean" for a misspelt name among candidates.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean \"{c}\"?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based_with_snippet() {
        let file = SourceFile::new("main.hcl", "a = 1\n  b = 2\n".to_string());
        let loc = file.location(8);
        assert_eq!((loc.line, loc.column), (2, 3));
        assert_eq!(loc.snippet, "  b = 2");
        assert_eq!(loc.to_string(), "main.hcl:2:3");
    }

    #[test]
    fn rendering_names_file_line_and_help() {
        let file = SourceFile::new("main.hcl", "x = y\n".to_string());
        let d = Diagnostic::error("Bad", "it is bad", Some(file.location(4))).with_help("fix it");
        let text = d.to_string();
        assert!(text.contains("on main.hcl line 1, column 5"), "{text}");
        assert!(text.contains("help: fix it"));
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("inptu", ["input", "output"]).as_deref(),
            Some("did you mean \"input\"?")
        );
        assert_eq!(did_you_mean("zzz", ["input"]), None);
    }
}
