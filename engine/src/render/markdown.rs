//! The Markdown plan: a pull-request comment (`mesh plan --format markdown`).
//!
//! Layout, in this order: the hidden marker [`MARKDOWN_MARKER`], a one-line verdict, a summary
//! table per resource type, a `### Drift` section, a `### Changes` section with one collapsible
//! `<details>` per resource instance (and one for the outputs), and, when the comment had to be
//! shortened, a closing line saying what was cut.
//!
//! Attribute diffs are those of the human plan (rendered without color, so every sensitive
//! value is `(sensitive value)`), with the action symbol moved to the first column so GitHub's
//! `diff` highlighting colors them: `+` added, `-` removed, `!` changed or replaced.

use std::collections::BTreeMap;

use super::{human, ColorChoice};
use crate::config::ResourceMode;
use crate::plan::{
    Action, DriftKind, MarkedValue, OutputChange, Plan, ResourceChange, ResourceDrift, StateRef,
};

/// The first line of every Markdown plan: an HTML comment GitHub does not display, by which a
/// bot finds its own earlier comment to update it instead of adding another.
pub const MARKDOWN_MARKER: &str = "<!-- mesh-plan -->";

/// GitHub's limit on the length of a comment, in characters.
const GITHUB_LIMIT: usize = 65_536;

/// The length the comment is kept under, leaving room below [`GITHUB_LIMIT`].
pub(super) const MAX_CHARS: usize = 65_000;
const _: () = assert!(MAX_CHARS < GITHUB_LIMIT);

/// Room kept for the closing line that says what was cut.
const NOTE_RESERVE: usize = 300;

/// One piece of the comment.
enum Part {
    /// Plain Markdown, always kept.
    Text(String),
    /// A collapsible section whose body may be omitted, or the whole section left out.
    Details(Details),
}

struct Details {
    /// The `<summary>` contents (HTML).
    summary: String,
    /// The body (Markdown): a fenced diff.
    body: String,
    state: Shown,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    Full,
    Omitted,
    Dropped,
}

impl Details {
    fn render(&self) -> String {
        let body = match self.state {
            Shown::Full => self.body.clone(),
            Shown::Omitted => format!(
                "(diff omitted: {} characters; run `mesh plan` to see it)\n",
                self.body.chars().count()
            ),
            Shown::Dropped => return String::new(),
        };
        format!(
            "<details><summary>{}</summary>\n\n{body}\n</details>\n\n",
            self.summary
        )
    }
}

impl Part {
    fn render(&self) -> String {
        match self {
            Part::Text(t) => t.clone(),
            Part::Details(d) => d.render(),
        }
    }
}

/// Counts of one resource type (or of the whole plan).
#[derive(Default, Clone, Copy)]
struct Counts {
    add: usize,
    change: usize,
    replace: usize,
    destroy: usize,
}

impl Counts {
    fn count(&mut self, action: Action) {
        match action {
            Action::Create => self.add += 1,
            Action::Update => self.change += 1,
            Action::DeleteThenCreate | Action::CreateThenDelete => self.replace += 1,
            Action::Delete => self.destroy += 1,
            Action::NoOp | Action::Read => {}
        }
    }

    fn is_zero(&self) -> bool {
        self.add + self.change + self.replace + self.destroy == 0
    }
}

/// The plan as a GitHub pull-request comment (`mesh plan --format markdown`).
///
/// The first line is always [`MARKDOWN_MARKER`]; then the verdict (`**mesh plan: N to add, N to
/// change, N to replace, N to destroy** · drift on N objects`, or `**mesh plan: no changes**`),
/// a table of add/change/replace/destroy counts per managed resource type, a `### Drift`
/// section with one `<details>` per object changed or deleted outside mesh, and a `### Changes`
/// section with one `<details>` per resource instance, in address order, and one for the
/// changed outputs. Sensitive values are `(sensitive value)`. The same plan always gives the
/// same text. The comment stays under 65,000 characters: the bodies of the largest `<details>`
/// are replaced by `(diff omitted: N characters; run `mesh plan` to see it)` until it fits, and
/// a last line says how many diffs were cut.
pub fn render_plan_markdown(plan: &Plan) -> String {
    render(plan)
}

/// The whole Markdown plan.
fn render(plan: &Plan) -> String {
    let mut changes: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    changes.sort_by(|x, y| x.address.cmp(&y.address));
    let mut drift: Vec<&ResourceDrift> = plan.drift.iter().collect();
    drift.sort_by(|x, y| x.address.cmp(&y.address));

    let mut total = Counts::default();
    let mut by_type: BTreeMap<&str, Counts> = BTreeMap::new();
    for rc in changes.iter().filter(|c| c.mode == ResourceMode::Managed) {
        total.count(rc.action);
        by_type
            .entry(rc.resource_type.as_str())
            .or_default()
            .count(rc.action);
    }

    let verdict = if plan.has_changes() {
        format!(
            "mesh plan: {} to add, {} to change, {} to replace, {} to destroy",
            total.add, total.change, total.replace, total.destroy
        )
    } else {
        "mesh plan: no changes".to_string()
    };
    let drift_text = match drift.len() {
        0 => "no drift".to_string(),
        1 => "drift on 1 object".to_string(),
        n => format!("drift on {n} objects"),
    };
    let mut head = format!("{MARKDOWN_MARKER}\n**{verdict}** · {drift_text}");
    let ignored_objects = plan.ignored_drift_addresses().len();
    if ignored_objects > 0 {
        let noun = if ignored_objects == 1 {
            "object"
        } else {
            "objects"
        };
        head.push_str(&format!(" · drift ignored on {ignored_objects} {noun}"));
    }
    head.push('\n');
    by_type.retain(|_, c| !c.is_zero());
    if !by_type.is_empty() {
        head.push_str("\n| resource type | add | change | replace | destroy |\n");
        head.push_str("| --- | ---: | ---: | ---: | ---: |\n");
        for (ty, c) in &by_type {
            head.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                table_cell(ty),
                c.add,
                c.change,
                c.replace,
                c.destroy
            ));
        }
    }
    head.push('\n');

    let mut parts = vec![Part::Text(head)];
    let ignored = super::ignored_drift_sentences(plan);
    if !drift.is_empty() || !ignored.is_empty() {
        parts.push(Part::Text("### Drift\n\n".into()));
    }
    if !drift.is_empty() {
        parts.push(Part::Text(
            "Objects changed outside mesh since the last apply:\n\n".into(),
        ));
        for d in &drift {
            let what = match d.kind {
                DriftKind::Changed => "changed outside mesh",
                DriftKind::Deleted => "was deleted outside mesh",
            };
            parts.push(details(
                format!("<code>{}</code> {what}", html(&d.address)),
                drift_diff(d),
            ));
        }
    }
    if !ignored.is_empty() {
        let list: String = ignored
            .iter()
            .map(|sentence| format!("- {}\n", html(sentence)))
            .collect();
        parts.push(Part::Text(format!("{list}\n")));
    }
    let outputs = outputs_diff(plan);
    if !changes.is_empty() || outputs.is_some() {
        parts.push(Part::Text("### Changes\n\n".into()));
        for rc in &changes {
            let what = match rc.action {
                Action::Create => "will be created",
                Action::Update => "will be updated in place",
                Action::DeleteThenCreate | Action::CreateThenDelete => "will be replaced",
                Action::Delete => "will be destroyed",
                Action::Read => "will be read",
                Action::NoOp => "has no changes",
            };
            parts.push(details(
                format!("<code>{}</code> {what}", html(&rc.address)),
                resource_diff(rc),
            ));
        }
        if let Some((n, body)) = outputs {
            let noun = if n == 1 { "output" } else { "outputs" };
            parts.push(details(format!("Changes to outputs ({n} {noun})"), body));
        }
    }

    fit(&mut parts);
    let mut out: String = parts.iter().map(Part::render).collect();
    let omitted = count_state(&parts, Shown::Omitted);
    let dropped = count_state(&parts, Shown::Dropped);
    if omitted + dropped > 0 {
        let all = count_details(&parts);
        let mut note = format!(
            "_{} of {all} diffs cut to stay under GitHub's 65,536-character comment limit",
            omitted + dropped
        );
        if dropped > 0 {
            note.push_str(&format!(
                " ({dropped} left out entirely, from the end of the list)"
            ));
        }
        note.push_str("; run `mesh plan` to see them._\n");
        out.push_str(&note);
    }
    out.truncate(out.trim_end_matches('\n').len());
    out.push('\n');
    out
}

fn details(summary: String, body: String) -> Part {
    Part::Details(Details {
        summary,
        body,
        state: Shown::Full,
    })
}

fn count_state(parts: &[Part], state: Shown) -> usize {
    parts
        .iter()
        .filter(|p| matches!(p, Part::Details(d) if d.state == state))
        .count()
}

fn count_details(parts: &[Part]) -> usize {
    parts
        .iter()
        .filter(|p| matches!(p, Part::Details(_)))
        .count()
}

/// Omit the bodies of the largest details (ties: the earliest first) until the comment fits;
/// if it still does not, leave out whole details from the end.
fn fit(parts: &mut [Part]) {
    let budget = MAX_CHARS - NOTE_RESERVE;
    let len = |p: &Part| p.render().chars().count();
    let mut total: usize = parts.iter().map(len).sum();
    if total <= budget {
        return;
    }
    let mut order: Vec<(usize, usize)> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            Part::Details(d) => Some((i, d.body.chars().count())),
            Part::Text(_) => None,
        })
        .collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (i, _) in order {
        if total <= budget {
            return;
        }
        let before = len(&parts[i]);
        if let Part::Details(d) = &mut parts[i] {
            d.state = Shown::Omitted;
        }
        let after = len(&parts[i]);
        // Omitting never lengthens a diff worth cutting; keep it whole if it would.
        if after >= before {
            if let Part::Details(d) = &mut parts[i] {
                d.state = Shown::Full;
            }
            continue;
        }
        total = total - before + after;
    }
    for i in (0..parts.len()).rev() {
        if total <= budget {
            return;
        }
        let before = len(&parts[i]);
        if let Part::Details(d) = &mut parts[i] {
            d.state = Shown::Dropped;
            total -= before;
        }
    }
}

/// A plan holding only the given changes and outputs, for the human renderer.
fn sub_plan(
    plan_mode: crate::plan::PlanMode,
    changes: Vec<ResourceChange>,
    outputs: BTreeMap<String, OutputChange>,
) -> Plan {
    Plan {
        format_version: crate::plan::PLAN_FORMAT_VERSION,
        mesh_version: String::new(),
        mode: plan_mode,
        prior_state: StateRef::default(),
        config_digest: String::new(),
        variables: BTreeMap::new(),
        changes,
        outputs,
        targets: Vec::new(),
        warnings: Vec::new(),
        drift: Vec::new(),
        ignored_drift: Vec::new(),
    }
}

/// The attribute diff of one resource change, as a fenced `diff` block.
fn resource_diff(rc: &ResourceChange) -> String {
    let text = human::render(
        &sub_plan(
            crate::plan::PlanMode::Normal,
            vec![rc.clone()],
            BTreeMap::new(),
        ),
        ColorChoice::Never,
    );
    let block = text
        .split_once("following actions:\n\n")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.rsplit_once("\nPlan: ").map(|(block, _)| block))
        .unwrap_or(&text);
    // The first line repeats what the summary says ("# ADDRESS will be created").
    let mut lines: Vec<&str> = block.trim_end_matches('\n').lines().collect();
    if lines.first().is_some_and(|l| l.starts_with("  # ")) {
        lines.remove(0);
    }
    fence(&diff_lines(&lines))
}

/// The diff of one drifted object: what mesh recorded against what the provider reports now.
fn drift_diff(d: &ResourceDrift) -> String {
    let (module_and_type, _) = d
        .address
        .find(&format!("{}.", d.resource_type))
        .map(|i| d.address.split_at(i + d.resource_type.len() + 1))
        .unwrap_or(("", &d.address));
    let rest = &d.address[module_and_type.len()..];
    let name = rest.split('[').next().unwrap_or(rest);
    let data = module_and_type.ends_with(&format!("data.{}.", d.resource_type));
    let rc = ResourceChange {
        address: d.address.clone(),
        module: String::new(),
        mode: if data {
            ResourceMode::Data
        } else {
            ResourceMode::Managed
        },
        resource_type: d.resource_type.clone(),
        name: name.to_string(),
        provider: d.provider.clone(),
        action: match d.kind {
            DriftKind::Changed => Action::Update,
            DriftKind::Deleted => Action::Delete,
        },
        reason: None,
        before: d.before.clone(),
        after: match d.kind {
            DriftKind::Changed => d.after.clone(),
            DriftKind::Deleted => MarkedValue::null(),
        },
        replace_paths: Vec::new(),
        dependencies: Vec::new(),
        prior_dependencies: Vec::new(),
        create_before_destroy: false,
    };
    resource_diff(&rc)
}

/// The changed outputs, as a count and a fenced `diff` block; None when none changed.
fn outputs_diff(plan: &Plan) -> Option<(usize, String)> {
    let changed: BTreeMap<String, OutputChange> = plan
        .outputs
        .iter()
        .filter(|(_, o)| o.removed || o.before != o.after)
        .map(|(k, o)| (k.clone(), o.clone()))
        .collect();
    if changed.is_empty() {
        return None;
    }
    let n = changed.len();
    let text = human::render(
        &sub_plan(plan.mode, Vec::new(), changed),
        ColorChoice::Never,
    );
    let (_, rest) = text.split_once("Changes to Outputs:\n")?;
    let lines: Vec<&str> = rest.lines().take_while(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        return None;
    }
    Some((n, fence(&diff_lines(&lines))))
}

/// Move each line's action symbol to the first column, for GitHub's `diff` highlighting.
///
/// The human plan puts a line's symbol at column `2 + 4 × depth` and a resource's symbol in the
/// first three columns; anything else (heredoc text, comments) is context. The symbol's own
/// column becomes a space so the layout stays aligned.
fn diff_lines(lines: &[&str]) -> String {
    let mut out = String::new();
    for line in lines {
        let header = line
            .get(3..)
            .is_some_and(|r| r.starts_with(" resource \"") || r.starts_with(" data \""));
        let converted = if header {
            match line.get(..3).map(str::trim) {
                Some("-/+") | Some("+/-") => format!("!{line}"),
                Some("<=") => format!(" {line}"),
                Some(sym) => symbol_first(line, 2, sym),
                None => format!(" {line}"),
            }
        } else {
            let col = line.len() - line.trim_start_matches(' ').len();
            let rest = &line[col..];
            let sym = ["+", "-", "~"]
                .into_iter()
                .find(|s| rest.starts_with(&format!("{s} ")) || rest == *s);
            match sym {
                Some(sym) if col % 4 == 2 => symbol_first(line, col, sym),
                _ => format!(" {line}"),
            }
        };
        out.push_str(converted.trim_end());
        out.push('\n');
    }
    out
}

/// `line` with the one-character symbol at byte `col` moved to the front (`~` becomes `!`).
fn symbol_first(line: &str, col: usize, sym: &str) -> String {
    let first = if sym == "~" { "!" } else { sym };
    format!("{first}{} {}", &line[..col], &line[col + sym.len()..])
}

/// A fenced `diff` block, with a fence longer than any run of backticks inside.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let ticks = "`".repeat((longest + 1).max(3));
    format!("{ticks}diff\n{body}{ticks}\n")
}

/// Text safe inside HTML (`<summary>`).
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Text safe inside a table cell in inline code.
fn table_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::{PlanMode, PLAN_FORMAT_VERSION};
    use crate::value::{PathStep, Value};

    const SECRET: &str = "hunter2-top-secret";

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn obj(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn mv(v: &Value) -> MarkedValue {
        MarkedValue::from_value(v)
    }

    fn change(address: &str, action: Action, before: Value, after: Value) -> ResourceChange {
        let (resource_type, name) = address.split_once('.').expect("type.name");
        ResourceChange {
            address: address.into(),
            module: String::new(),
            mode: ResourceMode::Managed,
            resource_type: resource_type.into(),
            name: name.split('[').next().unwrap_or(name).into(),
            provider: "test".into(),
            action,
            reason: None,
            before: mv(&before),
            after: mv(&after),
            replace_paths: Vec::new(),
            dependencies: Vec::new(),
            prior_dependencies: Vec::new(),
            create_before_destroy: false,
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            mesh_version: "0.1.0".into(),
            mode: PlanMode::Normal,
            prior_state: StateRef::default(),
            config_digest: "digest".into(),
            variables: BTreeMap::new(),
            changes,
            outputs: BTreeMap::new(),
            targets: Vec::new(),
            warnings: Vec::new(),
            drift: Vec::new(),
            ignored_drift: Vec::new(),
        }
    }

    fn fixture() -> Plan {
        let created = change(
            "test_resource.web",
            Action::Create,
            Value::Null,
            obj(&[
                ("name", s("web")),
                ("id", Value::Unknown),
                ("password", s(SECRET).into_sensitive()),
                ("tags", obj(&[("env", s("prod"))])),
            ]),
        );
        let updated = change(
            "test_resource.api",
            Action::Update,
            obj(&[
                ("id", s("a-1")),
                ("size", Value::Number(2.0)),
                ("token", s("old-token-secret").into_sensitive()),
            ]),
            obj(&[
                ("id", s("a-1")),
                ("size", Value::Number(3.0)),
                ("token", s(SECRET).into_sensitive()),
            ]),
        );
        let mut replaced = change(
            "test_echo.zone",
            Action::DeleteThenCreate,
            obj(&[("id", s("z-1")), ("region", s("eu"))]),
            obj(&[("id", Value::Unknown), ("region", s("us"))]),
        );
        replaced.replace_paths = vec![vec![PathStep::Key("region".into())]];
        let mut deleted = change(
            "test_resource.old[0]",
            Action::Delete,
            obj(&[("id", s("o-1")), ("name", s("old"))]),
            Value::Null,
        );
        deleted.reason = Some("test_resource.old[0] is not in configuration".into());
        let noop = change(
            "test_resource.same",
            Action::NoOp,
            obj(&[("id", s("s"))]),
            obj(&[("id", s("s"))]),
        );
        let mut p = plan(vec![created, updated, replaced, deleted, noop]);
        p.drift = vec![
            ResourceDrift {
                address: "test_resource.api".into(),
                resource_type: "test_resource".into(),
                provider: "test".into(),
                kind: DriftKind::Changed,
                before: mv(&obj(&[
                    ("id", s("a-1")),
                    ("size", Value::Number(1.0)),
                    ("token", s("drift-secret").into_sensitive()),
                ])),
                after: mv(&obj(&[
                    ("id", s("a-1")),
                    ("size", Value::Number(2.0)),
                    ("token", s(SECRET).into_sensitive()),
                ])),
            },
            ResourceDrift {
                address: "test_echo.gone".into(),
                resource_type: "test_echo".into(),
                provider: "test".into(),
                kind: DriftKind::Deleted,
                before: mv(&obj(&[("id", s("g-1")), ("value", s("x"))])),
                after: MarkedValue::null(),
            },
        ];
        p.outputs = BTreeMap::from([
            (
                "endpoint".into(),
                OutputChange {
                    before: MarkedValue::null(),
                    after: mv(&s("https://web")),
                    sensitive: false,
                    removed: false,
                },
            ),
            (
                "db_password".into(),
                OutputChange {
                    before: mv(&s("old-pw-secret")),
                    after: mv(&s(SECRET)),
                    sensitive: true,
                    removed: false,
                },
            ),
        ]);
        p
    }

    #[test]
    fn markdown_plan() {
        let text = render(&fixture());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn secrets_never_appear() {
        let text = render(&fixture());
        for secret in [SECRET, "old-token-secret", "drift-secret", "old-pw-secret"] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        assert!(text.contains("(sensitive value)"), "{text}");
    }

    #[test]
    fn deterministic() {
        let mut shuffled = fixture();
        shuffled.changes.reverse();
        shuffled.drift.reverse();
        assert_eq!(render(&fixture()), render(&shuffled));
    }

    #[test]
    fn no_changes() {
        let p = plan(vec![change(
            "test_resource.same",
            Action::NoOp,
            obj(&[("id", s("s"))]),
            obj(&[("id", s("s"))]),
        )]);
        let text = render(&p);
        assert_eq!(
            text,
            "<!-- mesh-plan -->\n**mesh plan: no changes** · no drift\n"
        );
    }

    #[test]
    fn size_limit_collapses_largest_details() {
        let big = |i: usize, len: usize| {
            change(
                &format!("test_resource.r{i:03}"),
                Action::Create,
                Value::Null,
                obj(&[("blob", s(&"x".repeat(len))), ("id", s(&format!("id-{i}")))]),
            )
        };
        // One huge diff, many middling ones and a few small ones: well over the limit.
        let mut changes = vec![big(0, 40_000)];
        changes.extend((1..120).map(|i| big(i, 600 + i)));
        changes.extend((120..125).map(|i| big(i, 10)));
        let text = render(&plan(changes));
        let chars = text.chars().count();
        assert!(chars <= MAX_CHARS, "{chars} characters");
        assert!(chars <= GITHUB_LIMIT);
        assert!(text.starts_with(MARKDOWN_MARKER));
        // The largest went first, the smallest survive.
        assert!(text.contains("(diff omitted: 40"), "largest not cut");
        assert!(text.contains("\"id-124\""), "smallest cut");
        let omitted = text.matches("(diff omitted: ").count();
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("_{omitted} of 125 diffs cut")),
            "{last}"
        );
        // Every resource is still listed.
        assert_eq!(text.matches("<details>").count(), 125);
    }

    #[test]
    fn size_limit_drops_details_when_summaries_alone_are_too_long() {
        let changes = (0..1500)
            .map(|i| {
                change(
                    &format!("test_resource.resource_with_a_long_name_{i:04}"),
                    Action::Create,
                    Value::Null,
                    obj(&[("id", s("x"))]),
                )
            })
            .collect();
        let text = render(&plan(changes));
        assert!(text.chars().count() <= MAX_CHARS);
        let last = text.lines().last().unwrap_or_default();
        assert!(last.contains("left out entirely"), "{last}");
    }
}
