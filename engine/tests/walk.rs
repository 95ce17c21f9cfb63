//! The plan walk and apply executor, end to end inside the engine: specs from strings, the test
//! provider against a temp store, state kept in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_engine::apply::{
    apply, ApplyInput, ApplyReport, Interrupt, Progress, ProgressEvent, StateSink, StateUpdate,
};
use mesh_engine::evaluation::Evaluation;
use mesh_engine::plan::walk::{plan, PlanInput, PlanOptions};
use mesh_engine::plan::{Action, Plan, PlanMode};
use mesh_engine::provider::{Provider, ProviderRegistry};
use mesh_engine::state_view::PriorState;
use mesh_engine::value::Value;

/// A spec directory plus in-memory state, applied through the real executor.
struct World {
    dir: tempfile::TempDir,
    state: Arc<MemoryState>,
    providers: ProviderRegistry,
}

#[derive(Default)]
struct MemoryState {
    prior: Mutex<PriorState>,
    saves: Mutex<usize>,
    begins: Mutex<usize>,
}

impl StateSink for MemoryState {
    fn record(&self, updates: Vec<StateUpdate>) -> Result<(), String> {
        if !updates.is_empty()
            && updates
                .iter()
                .all(|u| matches!(u, StateUpdate::Begin { .. }))
        {
            *self.begins.lock().expect("lock") += 1;
            return Ok(());
        }
        let mut prior = self.prior.lock().expect("lock");
        for u in updates {
            match u {
                StateUpdate::Upsert(i) | StateUpdate::Deposed(i) => {
                    prior.instances.insert(i.address.clone(), i);
                }
                StateUpdate::Remove(a) => {
                    prior.instances.remove(&a);
                }
                StateUpdate::Outputs(o) => {
                    prior.outputs = o.into_iter().map(|(k, (v, _))| (k, v)).collect()
                }
                // Operations in flight matter after a crash only; this sink never crashes.
                StateUpdate::Begin { .. } | StateUpdate::Settle(_) => {}
            }
        }
        prior.serial += 1;
        *self.saves.lock().expect("lock") += 1;
        Ok(())
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn event(&self, event: ProgressEvent) {
        let line = match event {
            ProgressEvent::Started { address, kind } => format!("start {kind:?} {address}"),
            ProgressEvent::Completed { address, kind, .. } => format!("done {kind:?} {address}"),
            ProgressEvent::Failed { address, kind, .. } => format!("fail {kind:?} {address}"),
            ProgressEvent::StillRunning { .. } => return,
        };
        self.0.lock().expect("lock").push(line);
    }
}

impl World {
    fn new(files: &[(&str, &str)]) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = World {
            dir,
            state: Arc::new(MemoryState::default()),
            providers: ProviderRegistry::new(),
        };
        w.write(files);
        w
    }

    fn write(&self, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = self.dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
    }

    async fn providers(&mut self) -> ProviderRegistry {
        if self.providers.get("test").is_none() {
            for p in mesh_engine::builtin::providers() {
                self.providers.register(p);
            }
            let test = Arc::new(mesh_provider_test::TestProvider::with_store(
                self.dir.path().join("objects.json"),
            ));
            let store = Value::string(self.dir.path().join("objects.json").display().to_string());
            test.configure(Value::Map(BTreeMap::from([("store".to_string(), store)])))
                .await
                .expect("configures");
            self.providers.register(test);
        }
        self.providers.clone()
    }

    async fn plan(&mut self, options: PlanOptions) -> Result<Plan, String> {
        let root = mesh_engine::config::load_module_tree(self.dir.path(), self.dir.path())
            .map_err(|d| d.to_string())?;
        let providers = self.providers().await;
        let mut prior = self.state.prior.lock().expect("lock").clone();
        mesh_engine::refresh::refresh(&mut prior, &providers, 4)
            .await
            .map_err(|d| d.to_string())?;
        plan(PlanInput {
            evaluation: Arc::new(Evaluation::new(root, BTreeMap::new(), true)),
            providers,
            prior,
            options,
            config_digest: String::new(),
            variables: BTreeMap::new(),
        })
        .await
        .map_err(|d| d.to_string())
    }

    async fn apply_plan(&mut self, plan: Plan, parallelism: usize) -> (ApplyReport, Vec<String>) {
        let root =
            mesh_engine::config::load_module_tree(self.dir.path(), self.dir.path()).expect("loads");
        let recorder = Arc::new(Recorder::default());
        let prior = self.state.prior.lock().expect("lock").clone();
        let report = apply(ApplyInput {
            plan,
            evaluation: Arc::new(Evaluation::new(root, BTreeMap::new(), false)),
            providers: self.providers().await,
            prior,
            parallelism,
            order: Default::default(),
            interrupt: Interrupt::default(),
            sink: self.state.clone(),
            progress: recorder.clone(),
            progress_interval: Duration::from_secs(60),
        })
        .await;
        let events = recorder.0.lock().expect("lock").clone();
        (report, events)
    }

    async fn converge(&mut self) -> (ApplyReport, Vec<String>) {
        let plan = self.plan(PlanOptions::default()).await.expect("plans");
        self.apply_plan(plan, 10).await
    }

    fn value(&self, address: &str) -> Value {
        self.state
            .prior
            .lock()
            .expect("lock")
            .instances
            .get(address)
            .map(|i| i.value.clone())
            .unwrap_or(Value::Null)
    }

    fn addresses(&self) -> Vec<String> {
        self.state
            .prior
            .lock()
            .expect("lock")
            .instances
            .keys()
            .cloned()
            .collect()
    }
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.clone(), c.action))
        .collect()
}

fn position(events: &[String], line: &str) -> usize {
    events
        .iter()
        .position(|e| e == line)
        .unwrap_or_else(|| panic!("{line} not in {events:?}"))
}

#[tokio::test]
async fn unknowns_resolve_during_apply_and_the_next_plan_is_empty() {
    let mut w = World::new(&[(
        "main.hcl",
        r#"
resource "mesh_data" "a" { input = "one" }
resource "mesh_data" "b" { input = "${mesh_data.a.id}-b" }
output "b" { value = mesh_data.b.output }
"#,
    )]);
    let plan = w.plan(PlanOptions::default()).await.expect("plans");
    assert_eq!(
        plan.change("mesh_data.b")
            .expect("b")
            .after
            .to_value()
            .get("input"),
        Some(&Value::Unknown)
    );
    let (report, events) = w.apply_plan(plan, 10).await;
    assert!(report.is_success(), "{report:?}");
    assert!(
        position(&events, "done Create mesh_data.a")
            < position(&events, "start Create mesh_data.b")
    );
    let a_id = w.value("mesh_data.a").get("id").cloned().expect("id");
    let Value::String(a_id) = a_id else {
        panic!("id is a string")
    };
    assert_eq!(
        w.value("mesh_data.b").get("output"),
        Some(&Value::string(format!("{a_id}-b")))
    );
    assert_eq!(
        w.state.prior.lock().expect("lock").outputs.get("b"),
        Some(&Value::string(format!("{a_id}-b")))
    );
    let again = w.plan(PlanOptions::default()).await.expect("plans");
    assert!(!again.has_changes(), "{:?}", actions(&again));
}

#[tokio::test]
async fn state_is_saved_after_every_operation() {
    let mut w = World::new(&[(
        "main.hcl",
        "resource \"mesh_data\" \"x\" {\n  count = 5\n  input = count.index\n}\n",
    )]);
    let (report, _) = w.converge().await;
    assert!(report.is_success());
    // One save for the no-op bookkeeping, one per create, one for outputs; and before each
    // create, the record that it is starting.
    assert_eq!(*w.state.saves.lock().expect("lock"), 7);
    assert_eq!(*w.state.begins.lock().expect("lock"), 5);
}

#[tokio::test]
async fn failure_skips_dependents_and_independent_branches_finish() {
    let mut w = World::new(&[(
        "main.hcl",
        r#"
resource "test_resource" "bad" {
  name         = "bad"
  fail_on      = "create"
  fail_message = "quota exceeded"
}
resource "mesh_data" "after_bad" { input = test_resource.bad.id }
resource "test_resource" "good" {
  name            = "good"
  create_delay_ms = 100
}
"#,
    )]);
    let (report, _) = w.converge().await;
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].message.contains("quota exceeded"));
    assert_eq!(
        report
            .skipped
            .iter()
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>(),
        vec!["mesh_data.after_bad"]
    );
    assert_eq!(w.addresses(), vec!["test_resource.good".to_string()]);
}

#[tokio::test]
async fn parallelism_bounds_concurrent_operations() {
    let spec = "resource \"test_resource\" \"r\" {\n  count = 6\n  name = \"r${count.index}\"\n  create_delay_ms = 150\n}\n";
    let mut w = World::new(&[("main.hcl", spec)]);
    let plan = w.plan(PlanOptions::default()).await.expect("plans");
    let (report, events) = w.apply_plan(plan, 2).await;
    assert!(report.is_success());
    let mut running = 0usize;
    let mut peak = 0usize;
    for e in &events {
        if e.starts_with("start") {
            running += 1;
        } else {
            running -= 1;
        }
        peak = peak.max(running);
    }
    assert_eq!(peak, 2, "{events:?}");
}

#[tokio::test]
async fn create_before_destroy_orders_the_replacement() {
    let spec = |key: &str, cbd: bool| {
        format!("resource \"test_resource\" \"r\" {{\n  name = \"r\"\n  replace_key = \"{key}\"\n  lifecycle {{\n    create_before_destroy = {cbd}\n  }}\n}}\nresource \"mesh_data\" \"user\" {{ input = test_resource.r.id }}\n")
    };
    for cbd in [true, false] {
        let mut w = World::new(&[("main.hcl", &spec("one", cbd))]);
        w.converge().await;
        w.write(&[("main.hcl", &spec("two", cbd))]);
        let plan = w.plan(PlanOptions::default()).await.expect("plans");
        let want = if cbd {
            Action::CreateThenDelete
        } else {
            Action::DeleteThenCreate
        };
        assert_eq!(plan.change("test_resource.r").expect("r").action, want);
        let (report, events) = w.apply_plan(plan, 10).await;
        assert!(report.is_success(), "{report:?}");
        if cbd {
            assert!(
                position(&events, "done Create test_resource.r")
                    < position(&events, "start DeleteDeposed test_resource.r")
            );
            assert!(
                position(&events, "done Update mesh_data.user")
                    < position(&events, "start DeleteDeposed test_resource.r")
            );
        } else {
            assert!(
                position(&events, "done Delete test_resource.r")
                    < position(&events, "start Create test_resource.r")
            );
        }
        let store = std::fs::read_to_string(w.dir.path().join("objects.json")).expect("store");
        assert_eq!(
            store.matches("\"replace_key\": \"two\"").count(),
            1,
            "{store}"
        );
        assert!(
            !store.contains("\"replace_key\": \"one\""),
            "old object deleted: {store}"
        );
    }
}

#[tokio::test]
async fn destroy_runs_in_reverse_dependency_order_and_respects_prevent_destroy() {
    let mut w = World::new(&[(
        "main.hcl",
        "resource \"mesh_data\" \"a\" {}\nresource \"mesh_data\" \"b\" { input = mesh_data.a.id }\nresource \"mesh_data\" \"c\" { input = mesh_data.b.id }\n",
    )]);
    w.converge().await;
    let plan = w
        .plan(PlanOptions {
            mode: PlanMode::Destroy,
            ..Default::default()
        })
        .await
        .expect("plans");
    let (report, events) = w.apply_plan(plan, 10).await;
    assert!(report.is_success());
    assert!(
        position(&events, "done Delete mesh_data.c")
            < position(&events, "start Delete mesh_data.b")
    );
    assert!(
        position(&events, "done Delete mesh_data.b")
            < position(&events, "start Delete mesh_data.a")
    );
    assert!(w.addresses().is_empty());

    w.write(&[(
        "main.hcl",
        "resource \"mesh_data\" \"keep\" {\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n",
    )]);
    w.converge().await;
    let err = w
        .plan(PlanOptions {
            mode: PlanMode::Destroy,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        err.contains("mesh_data.keep") && err.contains("prevent_destroy"),
        "{err}"
    );
}

#[tokio::test]
async fn removed_resources_are_destroyed_using_recorded_dependencies() {
    let mut w = World::new(&[(
        "main.hcl",
        "resource \"mesh_data\" \"a\" {}\nresource \"mesh_data\" \"b\" { input = mesh_data.a.id }\nresource \"mesh_data\" \"keep\" {}\n",
    )]);
    w.converge().await;
    w.write(&[("main.hcl", "resource \"mesh_data\" \"keep\" {}\n")]);
    let plan = w.plan(PlanOptions::default()).await.expect("plans");
    assert_eq!(
        actions(&plan),
        vec![
            ("mesh_data.a".to_string(), Action::Delete),
            ("mesh_data.b".to_string(), Action::Delete)
        ]
    );
    let (_, events) = w.apply_plan(plan, 10).await;
    assert!(
        position(&events, "done Delete mesh_data.b")
            < position(&events, "start Delete mesh_data.a")
    );
}

#[tokio::test]
async fn replace_options_triggers_and_ignore_changes() {
    let spec = |input: &str| {
        format!(
            r#"
resource "mesh_data" "source" {{ input = "{input}" }}
resource "mesh_data" "triggered" {{
  lifecycle {{
    replace_triggered_by = [mesh_data.source]
  }}
}}
resource "mesh_data" "ignoring" {{
  input = "{input}"
  lifecycle {{
    ignore_changes = [input]
  }}
}}
resource "mesh_data" "plain" {{}}
"#
        )
    };
    let mut w = World::new(&[("main.hcl", &spec("v1"))]);
    w.converge().await;
    w.write(&[("main.hcl", &spec("v2"))]);
    let plan = w
        .plan(PlanOptions {
            replace: vec!["mesh_data.plain".into()],
            ..Default::default()
        })
        .await
        .expect("plans");
    assert_eq!(
        actions(&plan),
        vec![
            ("mesh_data.plain".to_string(), Action::DeleteThenCreate),
            ("mesh_data.source".to_string(), Action::Update),
            ("mesh_data.triggered".to_string(), Action::DeleteThenCreate),
        ]
    );
    assert!(plan
        .change("mesh_data.triggered")
        .and_then(|c| c.reason.clone())
        .unwrap_or_default()
        .contains("replace_triggered_by"));
}

#[tokio::test]
async fn targets_include_dependencies_only() {
    let mut w = World::new(&[(
        "main.hcl",
        "resource \"mesh_data\" \"base\" {}\nresource \"mesh_data\" \"app\" { input = mesh_data.base.id }\nresource \"mesh_data\" \"other\" {}\n",
    )]);
    let plan = w
        .plan(PlanOptions {
            targets: vec!["mesh_data.app".into()],
            ..Default::default()
        })
        .await
        .expect("plans");
    assert_eq!(
        actions(&plan),
        vec![
            ("mesh_data.app".to_string(), Action::Create),
            ("mesh_data.base".to_string(), Action::Create)
        ]
    );
    let (report, _) = w.apply_plan(plan, 10).await;
    assert!(report.is_success());
    assert_eq!(
        w.addresses(),
        vec!["mesh_data.app".to_string(), "mesh_data.base".to_string()]
    );
}

#[tokio::test]
async fn modules_with_for_each_nest_and_depend() {
    let mut w = World::new(&[
        (
            "main.hcl",
            r#"
module "net" {
  source   = "./modules/net"
  for_each = { a = "10.0.0.0/16", b = "10.1.0.0/16" }
  cidr     = each.value
}
resource "mesh_data" "peering" { input = [for k, m in module.net : m.subnet] }
output "subnets" { value = { for k, m in module.net : k => m.subnet } }
"#,
        ),
        (
            "modules/net/main.hcl",
            "variable \"cidr\" { type = string }\nresource \"mesh_data\" \"vnet\" { input = cidrsubnet(var.cidr, 8, 1) }\nmodule \"inner\" {\n  source = \"./inner\"\n  parent = mesh_data.vnet.id\n}\noutput \"subnet\" { value = mesh_data.vnet.output }\n",
        ),
        ("modules/net/inner/main.hcl", "variable \"parent\" {}\nresource \"mesh_data\" \"leaf\" { input = var.parent }\n"),
    ]);
    let plan = w.plan(PlanOptions::default()).await.expect("plans");
    let peering = plan.change("mesh_data.peering").expect("peering");
    assert_eq!(
        peering.dependencies,
        vec![
            "module.net[\"a\"].mesh_data.vnet".to_string(),
            "module.net[\"b\"].mesh_data.vnet".to_string()
        ]
    );
    let leaf = plan
        .change("module.net[\"a\"].module.inner.mesh_data.leaf")
        .expect("leaf");
    assert_eq!(
        leaf.dependencies,
        vec!["module.net[\"a\"].mesh_data.vnet".to_string()]
    );
    let (report, _) = w.apply_plan(plan, 10).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        w.value("mesh_data.peering").get("output"),
        Some(&Value::List(vec![
            Value::string("10.0.1.0/24"),
            Value::string("10.1.1.0/24")
        ]))
    );
    assert_eq!(w.addresses().len(), 5);
}

#[tokio::test]
async fn unknown_count_is_an_error_with_location() {
    let mut w = World::new(&[("main.hcl", "resource \"mesh_data\" \"a\" {}\nresource \"mesh_data\" \"b\" {\n  count = length(mesh_data.a.id)\n}\n")]);
    let err = w.plan(PlanOptions::default()).await.unwrap_err();
    assert!(
        err.contains("Invalid count argument") && err.contains("main.hcl line 3"),
        "{err}"
    );
}

#[tokio::test]
async fn data_sources_read_at_plan_or_during_apply() {
    let mut w = World::new(&[(
        "main.hcl",
        "data \"test_echo\" \"now\" { value = \"hello\" }\nresource \"mesh_data\" \"a\" { input = data.test_echo.now.result }\ndata \"test_echo\" \"later\" { value = mesh_data.a.id }\nresource \"mesh_data\" \"b\" { input = data.test_echo.later.result }\n",
    )]);
    let plan = w.plan(PlanOptions::default()).await.expect("plans");
    assert_eq!(
        plan.change("data.test_echo.now").expect("now").action,
        Action::NoOp
    );
    assert_eq!(
        plan.change("data.test_echo.later").expect("later").action,
        Action::Read
    );
    assert_eq!(
        plan.change("mesh_data.a")
            .expect("a")
            .after
            .to_value()
            .get("input"),
        Some(&Value::string("hello"))
    );
    let (report, events) = w.apply_plan(plan, 10).await;
    assert!(report.is_success(), "{report:?}");
    assert!(
        position(&events, "done Read data.test_echo.later")
            < position(&events, "start Create mesh_data.b")
    );
    assert_eq!(
        w.value("mesh_data.b").get("output"),
        w.value("mesh_data.a").get("id")
    );
}

#[tokio::test]
async fn sensitive_schema_attributes_stay_marked_in_plan_and_state() {
    let mut w = World::new(&[(
        "main.hcl",
        "resource \"test_resource\" \"s\" {\n  name   = \"s\"\n  secret = \"hunter2\"\n}\n",
    )]);
    let plan = w.plan(PlanOptions::default()).await.expect("plans");
    let after = plan.change("test_resource.s").expect("s").after.to_value();
    assert!(matches!(after.get("secret"), Some(Value::Sensitive(_))));
    let rendered =
        mesh_engine::render::render_plan_human(&plan, mesh_engine::render::ColorChoice::Never);
    assert!(!rendered.contains("hunter2"), "{rendered}");
    w.apply_plan(plan, 1).await;
    assert!(matches!(
        w.value("test_resource.s").get("secret"),
        Some(Value::Sensitive(_))
    ));
}
