//! The deployment-wide check of the plan walk: a provider sees every planned managed resource
//! of every provider, with configurations whose values known only after apply are
//! placeholders naming their origin — through module variables, outputs and templates — and
//! its findings become plan warnings (infos do not) while `plan_checked` returns them all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mesh_engine::evaluation::Evaluation;
use mesh_engine::plan::walk::{plan_checked, PlanInput, PlanOptions};
use mesh_engine::provider::{
    ApplyRequest, AttrType, AttributeSchema, BlockSchema, Deployment, FindingSeverity, PlanFinding,
    Presence, Provider, ProviderError, ProviderRegistry, ProviderSchema, ReadRequest,
    ResourceSchema,
};
use mesh_engine::state_view::PriorState;
use mesh_engine::value::Value;

/// A provider of `probe_thing` (an `input` of any type and a computed `output`) whose
/// deployment check reports where each input comes from.
#[derive(Default)]
struct Probe {
    seen: Mutex<Vec<String>>,
}

#[async_trait]
impl Provider for Probe {
    fn name(&self) -> &str {
        "probe"
    }

    fn schema(&self) -> ProviderSchema {
        let block = BlockSchema::default()
            .attribute(
                "input",
                AttributeSchema::new(AttrType::Any, Presence::Optional, "Anything."),
            )
            .attribute(
                "output",
                AttributeSchema::new(AttrType::String, Presence::Computed, "Made at apply."),
            );
        let mut schema = ProviderSchema::default();
        schema.resources.insert(
            "probe_thing".into(),
            ResourceSchema {
                version: 0,
                description: "A probe.".into(),
                block,
            },
        );
        schema
    }

    async fn create(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        Ok(request.planned)
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        Ok(Some(request.current))
    }

    async fn update(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        Ok(request.planned)
    }

    async fn delete(&self, _request: ApplyRequest) -> Result<(), ProviderError> {
        Ok(())
    }

    fn checks_deployment(&self, _resource_types: &std::collections::BTreeSet<String>) -> bool {
        true
    }

    fn check_deployment(&self, deployment: &Deployment) -> Vec<PlanFinding> {
        let mut findings = Vec::new();
        for resource in &deployment.resources {
            let input = resource.config.get("input").cloned().unwrap_or(Value::Null);
            let origins: Vec<String> = match input.unmark().0 {
                Value::String(text) => deployment
                    .origins_in(text)
                    .iter()
                    .map(|o| format!("{} {}", o.address, o.attribute))
                    .collect(),
                Value::Map(map) => map
                    .values()
                    .filter_map(|v| deployment.origin(v))
                    .map(|o| format!("{} {}", o.address, o.attribute))
                    .collect(),
                _ => Vec::new(),
            };
            let line = format!("{}: {}", resource.address, origins.join(", "));
            self.seen.lock().expect("lock").push(line.clone());
            let severity = if origins.is_empty() {
                FindingSeverity::Info
            } else {
                FindingSeverity::Warning
            };
            findings.push(PlanFinding {
                address: resource.address.clone(),
                message: line,
                severity,
                rule: Some("probe".into()),
                related: vec!["probe_thing.a".into()],
                ..PlanFinding::default()
            });
        }
        findings
    }
}

const MAIN: &str = r#"
resource "probe_thing" "a" {}

module "pass" {
  source = "./pass"
  thing  = probe_thing.a
}

resource "probe_thing" "b" {
  input = module.pass.thing.output
}

resource "probe_thing" "c" {
  input = "address: ${probe_thing.a.output}:15443"
}

resource "probe_thing" "d" {
  input = { whole = probe_thing.a.output, known = "x" }
}
"#;

const PASS: &str = r#"
variable "thing" {
  type      = any
  sensitive = true
}

output "thing" {
  value     = var.thing
  sensitive = true
}
"#;

#[tokio::test]
async fn checks_see_where_unknown_values_come_from_and_findings_become_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.hcl"), MAIN).expect("write");
    std::fs::create_dir_all(dir.path().join("pass")).expect("mkdir");
    std::fs::write(dir.path().join("pass/main.hcl"), PASS).expect("write");
    let root = mesh_engine::config::load_module_tree(dir.path(), dir.path()).expect("loads");
    let probe = Arc::new(Probe::default());
    let mut providers = ProviderRegistry::new();
    providers.register(probe.clone());
    let checked = plan_checked(PlanInput {
        evaluation: Arc::new(Evaluation::new(root, BTreeMap::new(), true)),
        providers,
        prior: PriorState::default(),
        options: PlanOptions::default(),
        config_digest: String::new(),
        variables: BTreeMap::new(),
    })
    .await
    .expect("plans");
    let mut seen = probe.seen.lock().expect("lock").clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            "probe_thing.a: ",
            "probe_thing.b: probe_thing.a output",
            "probe_thing.c: probe_thing.a output",
            "probe_thing.d: probe_thing.a output",
        ]
    );
    assert_eq!(checked.findings.len(), 4);
    let b = checked
        .findings
        .iter()
        .find(|f| f.finding.address == "probe_thing.b")
        .expect("b's finding");
    assert_eq!(b.provider, "probe");
    assert_eq!(b.locations["probe_thing.b"].line, 9);
    assert_eq!(b.locations["probe_thing.a"].line, 2);
    let warnings = &checked.plan.warnings;
    assert_eq!(
        warnings.len(),
        3,
        "infos are not plan warnings: {warnings:?}"
    );
    assert!(
        warnings.iter().all(|w| w.contains("Mesh check (probe)")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("probe_thing.b: probe_thing.b: probe_thing.a output")),
        "{warnings:?}"
    );
    let b_planned = checked
        .plan
        .changes
        .iter()
        .find(|c| c.address == "probe_thing.b")
        .expect("b is planned");
    assert!(
        b_planned
            .after
            .to_value()
            .get("input")
            .is_some_and(Value::is_unknown),
        "placeholders never reach the plan"
    );
}
