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
