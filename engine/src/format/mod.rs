//! Canonical formatting of spec files, the engine behind `mesh fmt` (in the style of
//! `terraform fmt`).
//!
//! The formatter is deliberately conservative: it only ever changes whitespace outside string
//! literals and heredocs (inside comments, only trailing whitespace is dropped). It works line by line over a small tokenizer that knows
//! about quoted templates, heredocs, comments and brackets:
//!
//! * every line is indented by two spaces per open bracket level (blocks, objects, tuples and
//!   parentheses alike; brackets opened together on one line count as one level);
//! * in a run of consecutive single-line `name = value` lines at the same level, the `=` signs are
//!   aligned; any other line (a blank line, a comment line, a block, a multi-line value) ends the
//!   run, and an attribute whose value opens a multi-line expression gets one space around `=`
//!   (as in `terraform fmt`, a `name = <<EOT` line still aligns with the lines above it);
//! * block headers are written `type "label" "label" {`;
//! * runs of blank lines collapse to one, leading and trailing blank lines are dropped, trailing
//!   whitespace is removed and the file ends with exactly one newline;
//! * heredoc bodies (including their closing marker line) are copied byte for byte, and every
//!   comment stays where it was.
//!
//! Spacing inside expressions is left as written. Before a result is returned it is checked: the
//! output must contain the same non-whitespace characters in the same order, must parse to the
//! same structure, and must format to itself. Should any check fail, the input is returned
//! unchanged rather than risk altering its meaning.

use hcl_edit::expr::{Array, FuncArgs, Object};
use hcl_edit::structure::Body;
use hcl_edit::visit_mut::{visit_array_mut, visit_func_args_mut, visit_object_mut, VisitMut};

/// Why a file could not be formatted: a syntax error with 1-based line and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct FormatError {
    /// 1-based line of the syntax error.
    pub line: usize,
    /// 1-based column (in characters) of the syntax error.
    pub column: usize,
    /// What the parser expected or found.
    pub message: String,
}

/// Format HCL source canonically. Idempotent: `format(format(x)) == format(x)`.
///
/// # Errors
///
/// Returns a [`FormatError`] carrying the position of the problem when `source` is not valid HCL.
pub fn format_source(source: &str) -> Result<String, FormatError> {
    let original = parse(source)?;
    let formatted = reformat(source);
    if formatted == source {
        return Ok(formatted);
    }
    if preserves_meaning(source, original, &formatted) && reformat(&formatted) == formatted {
        Ok(formatted)
    } else {
        // Something about this input defeated the formatter; never risk changing its meaning.
        Ok(source.to_string())
    }
}

fn parse(source: &str) -> Result<Body, FormatError> {
    hcl_edit::parser::parse_body(source).map_err(|err| FormatError {
        line: err.location().line(),
        column: err.location().column(),
        message: err.message().to_string(),
    })
}

/// Whether `formatted` is a faithful re-layout of `source`: no non-whitespace character was added,
/// dropped or moved, and both parse to the same structure once layout-only details are ignored.
fn preserves_meaning(source: &str, original: Body, formatted: &str) -> bool {
    let visible = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    if visible(source) != visible(formatted) {
        return false;
    }
    match hcl_edit::parser::parse_body(formatted) {
        Ok(reparsed) => same_structure(original, reparsed),
        Err(_) => false,
    }
}

/// Structural equality of two bodies ignoring whitespace and comments. `hcl_edit`'s equality
/// already ignores decor, except for the raw text before the closing bracket of tuples, objects
/// and call arguments, which is cleared here first.
fn same_structure(mut a: Body, mut b: Body) -> bool {
    struct ClearTrailing;
    impl VisitMut for ClearTrailing {
        fn visit_array_mut(&mut self, node: &mut Array) {
            node.set_trailing("");
            visit_array_mut(self, node);
        }
        fn visit_object_mut(&mut self, node: &mut Object) {
            node.set_trailing("");
            visit_object_mut(self, node);
        }
        fn visit_func_args_mut(&mut self, node: &mut FuncArgs) {
            node.set_trailing("");
            visit_func_args_mut(self, node);
        }
    }
    ClearTrailing.visit_body_mut(&mut a);
    ClearTrailing.visit_body_mut(&mut b);
    a == b
}

// ---------------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Identifier, keyword or number.
    Word,
    /// A quoted template, `"..."`, including any interpolations.
    Str,
    /// `<<EOF` or `<<-EOF`.
    HeredocOpen,
    /// Everything from the line after a heredoc opener up to and including its closing marker.
    HeredocBody,
    /// `# ...` or `// ...`, without the newline.
    LineComment,
    /// `/* ... */`.
    BlockComment,
    /// `{`, `[` or `(`.
    Open,
    /// `}`, `]` or `)`.
    Close,
    /// A lone `=`.
    Eq,
    /// Any other operator or punctuation.
    Other,
    /// A line break.
    Newline,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b >= 0x80
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    /// Delimiters of heredocs opened on the current line, whose bodies start after its newline.
    pending_heredocs: Vec<&'a str>,
}

fn tokenize(src: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
        pending_heredocs: Vec::new(),
    };
    lexer.run();
    lexer.tokens
}

impl<'a> Lexer<'a> {
    fn at(&self, i: usize) -> u8 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: Kind, end: usize) {
        self.tokens.push(Token {
            kind,
            start: self.pos,
            end,
        });
        self.pos = end;
    }

    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            let c = self.at(self.pos);
            let next = self.at(self.pos + 1);
            match c {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.push(Kind::Newline, self.pos + 1);
                    for delim in std::mem::take(&mut self.pending_heredocs) {
                        let end = self.heredoc_body_end(self.pos, delim);
                        self.push(Kind::HeredocBody, end);
                    }
                }
                b'#' => self.push(Kind::LineComment, self.line_end(self.pos)),
                b'/' if next == b'/' => self.push(Kind::LineComment, self.line_end(self.pos)),
                b'/' if next == b'*' => {
                    let end = self.src[self.pos + 2..]
                        .find("*/")
                        .map_or(self.bytes.len(), |i| self.pos + 2 + i + 2);
                    self.push(Kind::BlockComment, end);
                }
                b'"' => {
                    let end = self.quoted_end(self.pos);
                    self.push(Kind::Str, end);
                }
                b'<' if next == b'<' => match self.heredoc_opener(self.pos) {
                    Some((end, delim)) => {
                        self.pending_heredocs.push(delim);
                        self.push(Kind::HeredocOpen, end);
                    }
                    None => self.push(Kind::Other, self.pos + 1),
                },
                b'=' if next == b'=' || next == b'>' => self.push(Kind::Other, self.pos + 2),
                b'=' => self.push(Kind::Eq, self.pos + 1),
                b'!' | b'<' | b'>' if next == b'=' => self.push(Kind::Other, self.pos + 2),
                b'{' | b'[' | b'(' => self.push(Kind::Open, self.pos + 1),
                b'}' | b']' | b')' => self.push(Kind::Close, self.pos + 1),
                c if is_word_byte(c) => {
                    let mut end = self.pos + 1;
                    while end < self.bytes.len() && is_word_byte(self.bytes[end]) {
                        end += 1;
                    }
                    self.push(Kind::Word, end);
                }
                _ => self.push(Kind::Other, self.pos + 1),
            }
        }
    }

    /// Offset of the next `\n` at or after `from` (or the end of input).
    fn line_end(&self, from: usize) -> usize {
        self.src[from..]
            .find('\n')
            .map_or(self.bytes.len(), |i| from + i)
    }

    /// `<<EOF` / `<<-EOF` immediately followed by a line break: its end and delimiter.
    fn heredoc_opener(&self, start: usize) -> Option<(usize, &'a str)> {
        let mut p = start + 2;
        if self.at(p) == b'-' {
            p += 1;
        }
        let ident_start = p;
        if !is_ident_start(self.at(p)) {
            return None;
        }
        while p < self.bytes.len() && is_word_byte(self.bytes[p]) {
            p += 1;
        }
        let line_break = self.at(p) == b'\n' || (self.at(p) == b'\r' && self.at(p + 1) == b'\n');
        line_break.then(|| (p, &self.src[ident_start..p]))
    }

    /// End of a heredoc body starting at `start`: just past the closing delimiter, which must be
    /// the first thing on its line apart from spaces and tabs (mirroring `hcl_edit`'s parser).
    fn heredoc_body_end(&self, start: usize, delim: &str) -> usize {
        let len = self.bytes.len();
        let mut p = start;
        let mut line_start = true;
        while p < len {
            if line_start {
                let mut q = p;
                while matches!(self.at(q), b' ' | b'\t') {
                    q += 1;
                }
                if self.src[q..].starts_with(delim) && !is_word_byte(self.at(q + delim.len())) {
                    return q + delim.len();
                }
                line_start = false;
            }
            let c = self.at(p);
            let next = self.at(p + 1);
            if c == b'\n' {
                p += 1;
                line_start = true;
            } else if (c == b'$' || c == b'%') && next == c && self.at(p + 2) == b'{' {
                p += 3;
            } else if (c == b'$' || c == b'%') && next == b'{' {
                p = self.template_sequence_end(p + 2);
            } else {
                p += 1;
            }
        }
        len
    }

    /// End (exclusive) of the quoted template whose opening quote is at `start`. A literal line
    /// break (invalid inside quotes) ends it early to limit the damage of a misreading.
    fn quoted_end(&self, start: usize) -> usize {
        let len = self.bytes.len();
        let mut p = start + 1;
        while p < len {
            let c = self.at(p);
            let next = self.at(p + 1);
            match c {
                b'\\' => p += 2,
                b'"' => return p + 1,
                b'\n' => return p,
                b'$' | b'%' if next == c && self.at(p + 2) == b'{' => p += 3,
                b'$' | b'%' if next == b'{' => p = self.template_sequence_end(p + 2),
                _ => p += 1,
            }
        }
        len
    }

    /// End (exclusive) of an interpolation or directive whose body starts at `start`, just after
    /// `${` or `%{`.
    fn template_sequence_end(&self, start: usize) -> usize {
        let len = self.bytes.len();
        let mut depth = 1usize;
        let mut p = start;
        while p < len {
            let c = self.at(p);
            let next = self.at(p + 1);
            match c {
                b'"' => p = self.quoted_end(p),
                b'{' => {
                    depth += 1;
                    p += 1;
                }
                b'}' => {
                    depth -= 1;
                    p += 1;
                    if depth == 0 {
                        return p;
                    }
                }
                b'#' => p = self.line_end(p),
                b'/' if next == b'/' => p = self.line_end(p),
                b'/' if next == b'*' => {
                    p = self.src[p + 2..].find("*/").map_or(len, |i| p + 2 + i + 2);
                }
                _ => p += 1,
            }
        }
        len
    }
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

/// What a line is, as far as layout is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Blank,
    /// `name = value`; `single` when the whole value sits on this line, so the line can join an
    /// alignment run. `name_width` is the name's width in characters.
    Assign {
        name_width: usize,
        single: bool,
    },
    /// `type "label" ... {`: the first `labels + 1` gaps are normalized to one space.
    Header {
        labels: usize,
    },
    /// Starts with the body of a heredoc, which is copied verbatim.
    Verbatim,
    Other,
}

struct Line {
    tokens: Vec<Token>,
    role: Role,
    /// Indentation level (two spaces each).
    level: usize,
    /// Spaces between the name and `=` on assignment lines, once runs are aligned.
    pad: usize,
}

/// Re-lay out `src` without any safety checks.
fn reformat(src: &str) -> String {
    let tokens = tokenize(src);
    let mut lines = split_lines(src, &tokens);
    assign_levels(&mut lines);
    align_runs(&mut lines);
    render(src, &lines)
}

fn split_lines(src: &str, tokens: &[Token]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut current = Vec::new();
    for token in tokens {
        if token.kind == Kind::Newline {
            lines.push(std::mem::take(&mut current));
        } else {
            current.push(*token);
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
        .into_iter()
        .map(|tokens| Line {
            role: classify(src, &tokens),
            tokens,
            level: 0,
            pad: 0,
        })
        .collect()
}

fn text<'a>(src: &'a str, token: &Token) -> &'a str {
    &src[token.start..token.end]
}

/// A token that continues onto the next physical line.
fn spans_lines(src: &str, token: &Token) -> bool {
    matches!(token.kind, Kind::Str | Kind::BlockComment) && text(src, token).contains('\n')
}

fn classify(src: &str, tokens: &[Token]) -> Role {
    let Some(first) = tokens.first() else {
        return Role::Blank;
    };
    if first.kind == Kind::HeredocBody {
        return Role::Verbatim;
    }
    let is_ident = |t: &Token| t.kind == Kind::Word && is_ident_start(src.as_bytes()[t.start]);
    let is_label = |t: &Token| is_ident(t) || (t.kind == Kind::Str && !spans_lines(src, t));

    if tokens.len() >= 2 && is_label(first) && tokens[1].kind == Kind::Eq {
        let mut net = 0i64;
        for token in &tokens[2..] {
            match token.kind {
                Kind::Open => net += 1,
                Kind::Close => net -= 1,
                _ => {}
            }
        }
        let single = net == 0 && !tokens.iter().any(|t| spans_lines(src, t));
        return Role::Assign {
            name_width: text(src, first).chars().count(),
            single,
        };
    }

    if is_ident(first) {
        let labels = tokens[1..].iter().take_while(|t| is_label(t)).count();
        if let Some(brace) = tokens.get(labels + 1) {
            if brace.kind == Kind::Open && text(src, brace) == "{" {
                return Role::Header { labels };
            }
        }
    }
    Role::Other
}

/// Indentation: every open bracket records the level of its contents. A line starting with
/// closing brackets sits one level left of the outermost bracket it closes; any other line sits
/// at the level of the innermost open bracket. Brackets opened on a line all get that line's
/// level plus one, so `[{` on one line indents its contents once.
fn assign_levels(lines: &mut [Line]) {
    let mut stack: Vec<usize> = Vec::new();
    for line in lines.iter_mut() {
        if line.role == Role::Blank {
            continue;
        }
        let mut rest = &line.tokens[..];
        let mut closed = None;
        if line.role != Role::Verbatim {
            while let Some((first, tail)) = rest.split_first() {
                if first.kind != Kind::Close {
                    break;
                }
                if let Some(level) = stack.pop() {
                    closed = Some(level);
                }
                rest = tail;
            }
        }
        line.level = match closed {
            Some(level) => level.saturating_sub(1),
            None => stack.last().copied().unwrap_or(0),
        };
        for token in rest {
            match token.kind {
                Kind::Open => stack.push(line.level + 1),
                Kind::Close => {
                    stack.pop();
                }
                _ => {}
            }
        }
    }
}

/// Align `=` across runs of consecutive single-line assignments at the same level.
fn align_runs(lines: &mut [Line]) {
    let mut i = 0;
    while i < lines.len() {
        let Role::Assign { single: true, .. } = lines[i].role else {
            i += 1;
            continue;
        };
        let level = lines[i].level;
        let mut end = i;
        let mut widest = 0;
        while end < lines.len() && lines[end].level == level {
            match lines[end].role {
                Role::Assign {
                    name_width,
                    single: true,
                } => widest = widest.max(name_width),
                _ => break,
            }
            end += 1;
        }
        for line in &mut lines[i..end] {
            if let Role::Assign { name_width, .. } = line.role {
                line.pad = widest - name_width;
            }
        }
        i = end;
    }
}

fn render(src: &str, lines: &[Line]) -> String {
    let mut out = String::with_capacity(src.len() + src.len() / 8);
    let mut blank_pending = false;
    for line in lines {
        if line.role == Role::Blank {
            // Leading blank lines are dropped; trailing ones never get flushed.
            blank_pending = !out.is_empty();
            continue;
        }
        if blank_pending {
            out.push('\n');
            blank_pending = false;
        }
        if line.role != Role::Verbatim {
            for _ in 0..line.level {
                out.push_str("  ");
            }
        }
        for (i, token) in line.tokens.iter().enumerate() {
            if i > 0 {
                let original = &src[line.tokens[i - 1].end..token.start];
                match (line.role, i) {
                    (Role::Assign { .. }, 1) => {
                        out.push(' ');
                        for _ in 0..line.pad {
                            out.push(' ');
                        }
                    }
                    (Role::Assign { .. }, 2) => out.push(' '),
                    (Role::Header { labels }, i) if i <= labels + 1 => out.push(' '),
                    _ => out.push_str(original),
                }
            }
            push_token(&mut out, text(src, token), token.kind);
        }
        out.push('\n');
    }
    out
}

fn push_token(out: &mut String, text: &str, kind: Kind) {
    match kind {
        Kind::LineComment => out.push_str(text.trim_end()),
        Kind::BlockComment => {
            // Drop trailing whitespace on every line of the comment but the last.
            let mut parts = text.split('\n').peekable();
            while let Some(part) = parts.next() {
                if parts.peek().is_some() {
                    out.push_str(part.trim_end());
                    out.push('\n');
                } else {
                    out.push_str(part);
                }
            }
        }
        _ => out.push_str(text),
    }
}

#[cfg(test)]
mod tests;
