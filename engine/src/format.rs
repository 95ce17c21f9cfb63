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
mod tests {
    use super::*;

    /// Formats `input`, checks that the safety net did not kick in (unless the input was already
    /// canonical), that the result is stable, and that it parses to the same structure.
    fn fmt(input: &str) -> String {
        let out = format_source(input).unwrap_or_else(|e| panic!("{e} in:\n{input}"));
        assert_eq!(
            out,
            reformat(input),
            "safety net rejected the layout of:\n{input}"
        );
        assert_eq!(
            format_source(&out).unwrap(),
            out,
            "not idempotent for:\n{input}"
        );
        assert!(same_structure(parse(input).unwrap(), parse(&out).unwrap()));
        out
    }

    #[test]
    fn reindents_nested_blocks() {
        let input = "resource \"a\" \"b\" {\n        name = \"x\"\nnested {\n\t\tinner {\n   deep = 1\n        }\n}\n   }\n";
        let expected = "resource \"a\" \"b\" {\n  name = \"x\"\n  nested {\n    inner {\n      deep = 1\n    }\n  }\n}\n";
        assert_eq!(fmt(input), expected);
    }

    #[test]
    fn aligns_equals_in_runs_and_resets_after_blank_line_or_block() {
        let input = "\
resource \"a\" \"b\" {
  name = \"x\"
  longer_name = 1
  id    =   2

  short = 3
  much_longer = 4
  block {
    k = 1
  }
  after = 5
  tags = {
    a = 1
    bbb = 2
  }
  z = 6
}
";
        let expected = "\
resource \"a\" \"b\" {
  name        = \"x\"
  longer_name = 1
  id          = 2

  short       = 3
  much_longer = 4
  block {
    k = 1
  }
  after = 5
  tags = {
    a   = 1
    bbb = 2
  }
  z = 6
}
";
        assert_eq!(fmt(input), expected);
    }

    #[test]
    fn comment_lines_end_alignment_runs_and_all_comments_survive() {
        let input = "\
# top comment
// another
/* block
   comment   */
resource \"a\" \"b\" { # trailing on header
  # inside
  a = 1 # trailing
  bbbb = 2 // trailing too
  # between
  cc = 3 /* inline */
  /* multi
     line */
  dd = 4
}
";
        let expected = "\
# top comment
// another
/* block
   comment   */
resource \"a\" \"b\" { # trailing on header
  # inside
  a    = 1 # trailing
  bbbb = 2 // trailing too
  # between
  cc = 3 /* inline */
  /* multi
     line */
  dd = 4
}
";
        let out = fmt(input);
        assert_eq!(out, expected);
        for comment in [
            "# top comment",
            "// another",
            "/* block\n   comment   */",
            "# trailing on header",
            "# inside",
            "# trailing",
            "// trailing too",
            "# between",
            "/* inline */",
            "/* multi\n     line */",
        ] {
            assert!(out.contains(comment), "lost comment {comment:?}");
        }
    }

    #[test]
    fn heredoc_bodies_are_verbatim() {
        let body = "   keep   this  \n\t tabs}{ ]\n  ${var.x}\n  EOFX is not the end\n";
        let input = format!(
            "resource \"a\" \"b\" {{\n        script = <<EOF\n{body}EOF\n    other = <<-EOT\n        indented  \n      EOT\n        n = 1\n}}\n"
        );
        let expected = format!(
            "resource \"a\" \"b\" {{\n  script = <<EOF\n{body}EOF\n  other = <<-EOT\n        indented  \n      EOT\n  n = 1\n}}\n"
        );
        let out = fmt(&input);
        assert_eq!(out, expected);
        assert!(out.contains(body));
    }

    #[test]
    fn heredoc_inside_brackets_and_closed_mid_line() {
        let input = "x = [\n<<EOF\n  a\nEOF\n,\n\"b\"]\ny = f(<<EOT\n  z\n  EOT)\n";
        let expected = "x = [\n  <<EOF\n  a\nEOF\n  ,\n  \"b\"]\ny = f(<<EOT\n  z\n  EOT)\n";
        assert_eq!(fmt(input), expected);
    }

    #[test]
    fn reindents_multiline_objects_and_lists() {
        let input = "\
locals {
names = [
\"a\",
        \"b\",
]
obj = {
  key = {
          inner = [1,
   2]
      }
      \"quoted key\" = true
  }
  call = merge(a, {
x = 1
      }, b)
  pairs = [{
  n = 1
  }, {
  n = 2
  }]
}
";
        let expected = "\
locals {
  names = [
    \"a\",
    \"b\",
  ]
  obj = {
    key = {
      inner = [1,
        2]
    }
    \"quoted key\" = true
  }
  call = merge(a, {
    x = 1
  }, b)
  pairs = [{
    n = 1
  }, {
    n = 2
  }]
}
";
        assert_eq!(fmt(input), expected);
    }

    #[test]
    fn normalizes_headers_equals_blank_lines_and_trailing_whitespace() {
        let input = "\n\n\nresource    \"a\"\t\"b\"{   \n  a=1   \n\n\n\n  b   =   [   1,2 ]\n  m={\n  }\n}   \n\n\n";
        let expected = "resource \"a\" \"b\" {\n  a = 1\n\n  b = [   1,2 ]\n  m = {\n  }\n}\n";
        assert_eq!(fmt(input), expected);
    }

    #[test]
    fn crlf_and_missing_final_newline() {
        assert_eq!(fmt("a = 1\r\nbb = 2"), "a  = 1\nbb = 2\n");
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n  \n"), "");
        assert_eq!(fmt("# only a comment"), "# only a comment\n");
    }

    #[test]
    fn strings_with_braces_and_comment_markers_do_not_confuse_layout() {
        let input = "a {\nx = \"{ # not a comment\"\n  yy = \"${ {b = 1}.b } // ] }\"\nz = \"%{ if true }[%{ endif }\"\n}\n";
        let expected = "a {\n  x  = \"{ # not a comment\"\n  yy = \"${ {b = 1}.b } // ] }\"\n  z  = \"%{ if true }[%{ endif }\"\n}\n";
        assert_eq!(fmt(input), expected);
    }

    #[test]
    fn already_formatted_input_is_unchanged() {
        let input = "\
terraform {
  required = true
}

# The main thing.
resource \"test_thing\" \"main\" {
  name        = \"main\"
  count       = 2
  description = <<-EOT
    Something.
  EOT

  tags = {
    env  = \"prod\"
    team = \"core\"
  }

  dynamic \"rule\" {
    for_each = [for r in var.rules : r if r.enabled]
    content {
      port = rule.value.port # the port
    }
  }
}

output \"x\" {
  value = one([
    for k, v in local.m : v
  ])
}
";
        assert_eq!(fmt(input), input);
    }

    #[test]
    fn idempotent_on_several_inputs() {
        let inputs = [
            "a=1\nbbb   =2\n\n\n\nc {\nd=3\n}\n",
            "x = [{\na = 1\n},\n{\nb = 2\n}]\n",
            "y = (\n1 +\n2\n)\n  # c\n",
            "m = {\n  \"k\": 1,\n  other = 2\n}\n",
            "b \"l\" {\n   v = <<EOF\n  x\nEOF\n}\n",
            "c = [\n  1, # one\n  2, /* two */\n]\n",
        ];
        for input in inputs {
            let once = fmt(input);
            assert_eq!(format_source(&once).unwrap(), once, "input:\n{input}");
        }
    }

    #[test]
    fn syntax_error_reports_line_and_column() {
        let err = format_source("a = 1\nb = = 2\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 5));
        assert!(!err.message.is_empty());
        assert!(err.to_string().starts_with("2:5: "), "{err}");

        let err = format_source("resource \"a\" \"b\" {\n  x = 1\n").unwrap_err();
        // An unclosed block is reported at the end of the input.
        assert!((2..=3).contains(&err.line), "{err}");
    }

    #[test]
    fn structure_comparison_catches_real_changes() {
        let same = |a: &str, b: &str| same_structure(parse(a).unwrap(), parse(b).unwrap());
        assert!(same("a = [1,\n2]\n", "a = [\n  1,\n  2\n]\n"));
        assert!(same("a = f(1,\n  2 )\n", "a = f(1,\n2)\n"));
        assert!(!same("a = 1\n", "a = 2\n"));
        assert!(!same("a = \"x  y\"\n", "a = \"x y\"\n"));
        assert!(!same("a = <<EOF\n  x\nEOF\n", "a = <<EOF\nx\nEOF\n"));
        assert!(!preserves_meaning(
            "a = 1\n",
            parse("a = 1\n").unwrap(),
            "a = 1 # c\n"
        ));
    }

    #[test]
    fn falls_back_to_input_when_layout_would_be_unsafe() {
        // A quoted string interpolation spanning lines is kept as written.
        let input = "a = \"${\n  1 + 2}\"\n";
        let out = format_source(input).unwrap();
        assert_eq!(format_source(&out).unwrap(), out);
        assert!(same_structure(parse(input).unwrap(), parse(&out).unwrap()));
    }

    const TRICKY: &[&str] = &[
        "a = [for x in var.list : upper(x)\nif x != \"\"]\n",
        "b = {\n  for k, v in var.map :\n  k => v...\n}\n",
        "c = var.enabled ? (\n  var.x\n  ) : null\n",
        "d = var.list[*].id\ne = var.obj.attr[0][\"key\"]\n",
        "f = \"esc \\\" quote ${var.a} $${literal} %%{literal} # not // comment /* no */\"\n",
        "g = <<EOT\n%{ for x in var.xs ~}\n  item ${x} }\n%{ endfor ~}\n${ \"}\" }\nEOT\n",
        "h = <<-EOT\n    EOTX\n    ${jsonencode({\n      a = 1\n    })}\n    EOT\n",
        "i = <<EOF\nEOF\nj = 1\n",
        "blk {}\none \"l\" { a = 1 }\n",
        "k = [\n  # comment in list\n  1, // one\n  /* two */ 2,\n]\n",
        "l = {\n  a = 1, b = 2\n  c = 3,\n}\n",
        "m = \"unicode é ✓\"\nname = 1\n",
        "n = -1\no = !true\np = 1 + 2 * 3 - 4 / 5 % 6\nq = a && b || c\n",
        "r = provider::test::fn(1)\n",
        "s = f(\n  a,\n  b...\n)\n",
        "t = [\n  [\n    1,\n  ],\n  [\n    2,\n  ],\n]\n",
        "u = {\n  nested = {\n    deeper = {\n      x = \"y\"\n    }\n  }\n}\n",
        "v = <<EOF\nline ${ var.x } EOF\n  EOF2\nEOF\n",
        "w = [\"${a}\", \"b\"] # tail\n",
        "x = 1.5e-3\ny = 0\n",
        "/* lead */ z = 1\n",
        "outer {\n  inner \"a\" \"b\" {\n    x = <<EOT\nfoo\nEOT\n    yy = 2\n  }\n}\n",
    ];

    #[test]
    fn tricky_inputs_are_laid_out_safely_and_stably() {
        for input in TRICKY {
            // `fmt` asserts the safety net was not needed, stability and structural equality.
            let out = fmt(input);
            let comments = |s: &str| {
                tokenize(s)
                    .iter()
                    .filter(|t| matches!(t.kind, Kind::LineComment | Kind::BlockComment))
                    .map(|t| text(s, t).trim_end().to_string())
                    .collect::<Vec<_>>()
            };
            assert_eq!(comments(input), comments(&out), "input:\n{input}");
        }
    }

    /// Scramble indentation, spaces around `=`, blank lines and trailing whitespace of canonical
    /// text (outside heredocs): formatting must restore the canonical text exactly.
    #[test]
    fn scrambled_whitespace_is_restored() {
        let canonical = "\
# header comment
variable \"names\" {
  type    = list(string)
  default = [\"a\", \"b\"]
}

resource \"test_thing\" \"main\" {
  count  = length(var.names)
  name   = var.names[count.index] # per name
  script = <<-EOT
    echo ${var.names[0]}
      indented more
  EOT

  settings = {
    mode    = \"fast\"
    retries = 3
    nested = {
      deep = [
        1,
        2,
      ]
    }
  }

  lifecycle {
    ignore_changes = [tags]
  }
}
";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..50 {
            let mut scrambled = String::new();
            let mut in_heredoc = false;
            for line in canonical.lines() {
                if in_heredoc {
                    scrambled.push_str(line);
                    scrambled.push('\n');
                    in_heredoc = line.trim() != "EOT";
                    continue;
                }
                in_heredoc = line.ends_with("<<-EOT");
                let body = line.trim_start();
                for _ in 0..next(5) {
                    scrambled.push(if next(2) == 0 { ' ' } else { '\t' });
                }
                match body.split_once(" = ").filter(|_| !body.starts_with('#')) {
                    Some((name, value)) => {
                        scrambled.push_str(name.trim_end());
                        scrambled.push_str(&" ".repeat(next(3) as usize));
                        scrambled.push('=');
                        scrambled.push_str(&" ".repeat(next(3) as usize));
                        scrambled.push_str(value);
                    }
                    None => scrambled.push_str(body),
                }
                if next(3) == 0 && !in_heredoc {
                    scrambled.push_str(" \t");
                }
                scrambled.push('\n');
                if body.is_empty() {
                    for _ in 0..next(3) {
                        scrambled.push('\n');
                    }
                }
            }
            assert_eq!(fmt(&scrambled), canonical, "scrambled input:\n{scrambled}");
        }
    }
}
