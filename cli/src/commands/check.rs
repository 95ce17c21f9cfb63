//! `mesh check`: plan (refreshing from state like `mesh plan`), then print only what the
//! providers' deployment checks found — the mesh rules — grouped by rule family, each
//! finding with the resources it names (address, file:line) and its fix.
//!
//! Exit 0 when there is no error finding (warnings and infos allowed), 1 otherwise. Infos say
//! what a rule could not decide yet (values known only after apply); plans do not show them.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use mesh_engine::diagnostics::SourceLocation;
use mesh_engine::plan::PlanMode;
use mesh_engine::provider::{FindingSeverity, LocatedFinding};
use serde_json::{json, Value as Json};

use super::plan::make_checked_plan;
use crate::args::{CheckArgs, CheckFormat};
use crate::ui::Paint;
use crate::workspace::{CommandResult, Workspace};

/// The version of `mesh check --format json`.
pub const CHECK_FORMAT_VERSION: &str = "1.0";

/// Rule families in the order reports list them; others follow by name.
const FAMILY_ORDER: [&str; 6] = [
    "trust",
    "identity",
    "discovery",
    "networks",
    "services",
    "injection",
];

/// `mesh check`.
pub async fn run(ws: &Workspace, args: &CheckArgs) -> CommandResult {
    let lock = ws.lock(
        "check",
        crate::args::parse_duration(&args.flags.lock_timeout).map_err(anyhow::Error::msg)?,
    )?;
    let (_, mut findings) =
        make_checked_plan(ws, &args.flags, PlanMode::Normal, args.flags.refresh, false).await?;
    drop(lock);
    findings.sort_by_key(|f| {
        (
            family_rank(f),
            f.finding.severity,
            f.finding.address.clone(),
            f.finding.message.clone(),
        )
    });
    match args.format {
        CheckFormat::Human => print!("{}", render_human(&findings, &ws.dir, Paint(ws.color))),
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render_json(&findings, &ws.dir))
                .map_err(anyhow::Error::from)?
        ),
    }
    let errors = count(&findings, FindingSeverity::Error);
    Ok(if errors > 0 { 1 } else { 0 })
}

fn family(finding: &LocatedFinding) -> &str {
    finding.finding.rule.as_deref().unwrap_or("other")
}

fn family_rank(finding: &LocatedFinding) -> (usize, String) {
    let name = family(finding);
    let rank = FAMILY_ORDER
        .iter()
        .position(|f| *f == name)
        .unwrap_or(FAMILY_ORDER.len());
    (rank, name.to_string())
}

fn count(findings: &[LocatedFinding], severity: FindingSeverity) -> usize {
    findings
        .iter()
        .filter(|f| f.finding.severity == severity)
        .count()
}

/// `file:line` of a location, the file relative to the spec directory.
fn shown_location(location: &SourceLocation, base: &Path) -> String {
    format!(
        "{}:{}",
        relative(&location.file, base).display(),
        location.line
    )
}

/// `path` relative to `base`, with `..` where it lies outside (`../modules/x/main.hcl`).
fn relative(path: &Path, base: &Path) -> PathBuf {
    let path_parts: Vec<Component> = path.components().collect();
    let base_parts: Vec<Component> = base.components().collect();
    let common = path_parts
        .iter()
        .zip(&base_parts)
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..base_parts.len() {
        out.push("..");
    }
    for part in &path_parts[common..] {
        out.push(part.as_os_str());
    }
    out
}

fn summary(findings: &[LocatedFinding]) -> String {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    format!(
        "{}, {}, {}",
        plural(count(findings, FindingSeverity::Error), "error"),
        plural(count(findings, FindingSeverity::Warning), "warning"),
        plural(count(findings, FindingSeverity::Info), "info")
    )
}

/// The human report.
fn render_human(findings: &[LocatedFinding], base: &Path, paint: Paint) -> String {
    if findings.is_empty() {
        return "mesh check: no findings. Trust, identity, discovery, networks, services and \
                injection rules pass.\n"
            .to_string();
    }
    let mut out = format!("mesh check: {}\n", summary(findings));
    let mut current = "";
    for located in findings {
        let name = family(located);
        if name != current {
            out.push_str(&format!("\n{name}\n"));
            current = name;
        }
        let finding = &located.finding;
        let label = match finding.severity {
            FindingSeverity::Error => paint.red("error"),
            FindingSeverity::Warning => paint.yellow("warning"),
            FindingSeverity::Info => "info".to_string(),
        };
        out.push_str(&format!("  {label}: {}\n", finding.message));
        let at = match &finding.attribute {
            Some(a) => format!("{}.{a}", finding.address),
            None => finding.address.clone(),
        };
        out.push_str(&format!(
            "    at {at}{}\n",
            where_declared(located, &finding.address, base)
        ));
        for related in &finding.related {
            out.push_str(&format!(
                "    see {related}{}\n",
                where_declared(located, related, base)
            ));
        }
        if let Some(fix) = &finding.fix {
            out.push_str(&format!("    fix: {fix}\n"));
        }
    }
    out
}

fn where_declared(located: &LocatedFinding, address: &str, base: &Path) -> String {
    located
        .locations
        .get(address)
        .map(|l| format!(" ({})", shown_location(l, base)))
        .unwrap_or_default()
}

/// The JSON report (`format_version` 1.0).
fn render_json(findings: &[LocatedFinding], base: &Path) -> Json {
    let location = |located: &LocatedFinding, address: &str| -> Json {
        match located.locations.get(address) {
            Some(l) => json!({
                "file": relative(&l.file, base).display().to_string(),
                "line": l.line,
                "column": l.column,
            }),
            None => Json::Null,
        }
    };
    let items: Vec<Json> = findings
        .iter()
        .map(|located| {
            let f = &located.finding;
            json!({
                "rule": family(located),
                "severity": f.severity.as_str(),
                "address": f.address,
                "attribute": f.attribute,
                "location": location(located, &f.address),
                "message": f.message,
                "fix": f.fix,
                "related": f.related.iter().map(|r| json!({
                    "address": r,
                    "location": location(located, r),
                })).collect::<Vec<_>>(),
                "provider": located.provider,
            })
        })
        .collect();
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for located in findings {
        *by_rule.entry(family(located)).or_default() += 1;
    }
    json!({
        "format_version": CHECK_FORMAT_VERSION,
        "summary": {
            "errors": count(findings, FindingSeverity::Error),
            "warnings": count(findings, FindingSeverity::Warning),
            "infos": count(findings, FindingSeverity::Info),
            "by_rule": by_rule,
        },
        "findings": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_engine::provider::PlanFinding;

    fn located(rule: &str, severity: FindingSeverity, address: &str) -> LocatedFinding {
        let mut locations = BTreeMap::new();
        locations.insert(
            address.to_string(),
            SourceLocation {
                file: PathBuf::from("/specs/modules/istio-cluster/main.hcl"),
                line: 12,
                column: 1,
                snippet: String::new(),
            },
        );
        LocatedFinding {
            provider: "istio".into(),
            finding: PlanFinding {
                address: address.into(),
                message: "something is wrong".into(),
                severity,
                rule: Some(rule.into()),
                related: vec!["pki_root_ca.mesh".into()],
                fix: Some("do this".into()),
                ..PlanFinding::default()
            },
            locations,
        }
    }

    #[test]
    fn paths_outside_the_spec_directory_are_shown_with_dots() {
        assert_eq!(
            relative(
                Path::new("/specs/modules/istio-cluster/main.hcl"),
                Path::new("/specs/multi-network")
            ),
            PathBuf::from("../modules/istio-cluster/main.hcl")
        );
        assert_eq!(
            relative(
                Path::new("/specs/multi-network/main.hcl"),
                Path::new("/specs/multi-network")
            ),
            PathBuf::from("main.hcl")
        );
    }

    #[test]
    fn the_human_report_groups_by_family_with_locations_and_fixes() {
        let findings = vec![
            located("trust", FindingSeverity::Error, "a.b"),
            located("discovery", FindingSeverity::Warning, "c.d"),
        ];
        let text = render_human(
            &findings,
            Path::new("/specs/multi-network"),
            Paint(mesh_engine::render::ColorChoice::Never),
        );
        assert!(
            text.starts_with("mesh check: 1 error, 1 warning, 0 infos\n"),
            "{text}"
        );
        assert!(text.contains("\ntrust\n  error: something is wrong\n    at a.b (../modules/istio-cluster/main.hcl:12)\n    see pki_root_ca.mesh\n    fix: do this\n"), "{text}");
        assert!(text.contains("\ndiscovery\n  warning:"), "{text}");
    }

    #[test]
    fn the_json_report_counts_and_locates() {
        let findings = vec![located("trust", FindingSeverity::Error, "a.b")];
        let json = render_json(&findings, Path::new("/specs/multi-network"));
        assert_eq!(json["summary"]["errors"], 1);
        assert_eq!(json["findings"][0]["rule"], "trust");
        assert_eq!(
            json["findings"][0]["location"]["file"],
            "../modules/istio-cluster/main.hcl"
        );
        assert_eq!(json["findings"][0]["related"][0]["location"], Json::Null);
    }
}
