use std::sync::Arc;
use std::time::Instant;

use mesh_engine::value::PathStep;
use tokio_util::sync::CancellationToken;

use super::*;

const ADDR: &str = "test_resource.x";

/// A full evaluated config: every schema attribute present, null unless set.
fn config(pairs: &[(&str, Value)]) -> Value {
    let mut map: BTreeMap<String, Value> = test_resource_schema()
        .block
        .attributes
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    for (k, v) in pairs {
        map.insert(k.to_string(), v.clone());
    }
    Value::Map(map)
}

fn named(name: &str) -> Value {
    config(&[("name", Value::string(name))])
}

fn with(mut value: Value, key: &str, v: Value) -> Value {
    value.set_or_insert(key, v);
    value
}

fn apply_req(prior: Option<Value>, planned: Value) -> ApplyRequest {
    ApplyRequest {
        resource_type: TEST_RESOURCE.to_string(),
        address: ADDR.to_string(),
        prior,
        planned,
        cancel: CancellationToken::new(),
    }
}

fn read_req(current: Value) -> ReadRequest {
    ReadRequest {
        resource_type: TEST_RESOURCE.to_string(),
        address: ADDR.to_string(),
        current,
    }
}

async fn plan(p: &TestProvider, prior: Option<Value>, config: Value) -> PlannedChange {
    p.plan(PlanRequest {
        resource_type: TEST_RESOURCE.to_string(),
        address: ADDR.to_string(),
        prior,
        config,
    })
    .await
    .unwrap()
}

async fn create(p: &TestProvider, config: Value) -> Value {
    let change = plan(p, None, config).await;
    p.create(apply_req(None, change.planned)).await.unwrap()
}

fn fixture() -> (tempfile::TempDir, TestProvider) {
    let dir = tempfile::tempdir().unwrap();
    let provider = TestProvider::with_store(dir.path().join("objects.json"));
    (dir, provider)
}

fn store_json(p: &TestProvider) -> serde_json::Value {
    match std::fs::read_to_string(p.store_path()) {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(_) => serde_json::json!({}),
    }
}

fn id_of(state: &Value) -> String {
    state.get("id").and_then(Value::as_str).unwrap().to_string()
}

#[tokio::test]
async fn create_read_update_delete_round_trip() {
    let (_dir, p) = fixture();
    let cfg = with(named("a"), "value", Value::Number(1.0));
    let change = plan(&p, None, cfg.clone()).await;
    assert_eq!(change.planned.get("id"), Some(&Value::Unknown));
    assert_eq!(change.planned.get("computed"), Some(&Value::Unknown));
    let state = p.create(apply_req(None, change.planned)).await.unwrap();
    let id = id_of(&state);
    assert!(id.starts_with("test-"));
    assert_eq!(state.get("computed"), Some(&Value::string("computed-a")));
    assert_eq!(store_json(&p)[&id]["value"], serde_json::json!(1));

    // Read returns what is stored.
    let read = p.read(read_req(state.clone())).await.unwrap();
    assert_eq!(read, Some(state.clone()));

    // Unchanged config plans the prior state.
    assert_eq!(
        plan(&p, Some(state.clone()), cfg.clone()).await.planned,
        state
    );

    // Update in place keeps id and computed.
    let cfg2 = with(cfg, "value", Value::string("two"));
    let change = plan(&p, Some(state.clone()), cfg2).await;
    assert!(change.requires_replace.is_empty());
    assert_eq!(change.planned.get("computed"), state.get("computed"));
    let updated = p
        .update(apply_req(Some(state.clone()), change.planned))
        .await
        .unwrap();
    assert_eq!(id_of(&updated), id);
    assert_eq!(store_json(&p)[&id]["value"], serde_json::json!("two"));

    // Editing the store shows up as drift.
    let mut json = store_json(&p);
    json[&id]["value"] = serde_json::json!("drifted");
    std::fs::write(p.store_path(), json.to_string()).unwrap();
    let read = p.read(read_req(updated.clone())).await.unwrap().unwrap();
    assert_eq!(read.get("value"), Some(&Value::string("drifted")));

    // Delete removes it; deleting again and reading succeed.
    p.delete(apply_req(Some(updated.clone()), Value::Null))
        .await
        .unwrap();
    assert_eq!(store_json(&p).get(&id), None);
    p.delete(apply_req(Some(updated.clone()), Value::Null))
        .await
        .unwrap();
    assert_eq!(p.read(read_req(updated)).await.unwrap(), None);
}

#[tokio::test]
async fn name_change_plans_unknown_computed() {
    let (_dir, p) = fixture();
    let state = create(&p, named("a")).await;
    let change = plan(&p, Some(state.clone()), named("b")).await;
    assert!(change.requires_replace.is_empty());
    assert_eq!(change.planned.get("computed"), Some(&Value::Unknown));
    assert_eq!(change.planned.get("id"), state.get("id"));
    let updated = p
        .update(apply_req(Some(state), change.planned))
        .await
        .unwrap();
    assert_eq!(updated.get("computed"), Some(&Value::string("computed-b")));
}

#[tokio::test]
async fn replace_key_forces_replacement() {
    let (_dir, p) = fixture();
    let state = create(&p, with(named("a"), "replace_key", Value::string("k1"))).await;
    let change = plan(
        &p,
        Some(state),
        with(named("a"), "replace_key", Value::string("k2")),
    )
    .await;
    assert_eq!(
        change.requires_replace,
        vec![vec![PathStep::Key("replace_key".to_string())]]
    );
    assert_eq!(change.planned.get("id"), Some(&Value::Unknown));
    assert_eq!(change.planned.get("computed"), Some(&Value::Unknown));
}

#[tokio::test]
async fn fail_on_create_leaves_store_unchanged() {
    let (_dir, p) = fixture();
    let existing = create(&p, named("keep")).await;
    let before = store_json(&p);
    let err = p
        .create(apply_req(
            None,
            with(named("a"), "fail_on", Value::string("create")),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.message, "injected failure on create");
    assert_eq!(store_json(&p), before);

    let cfg = with(
        with(named("a"), "fail_on", Value::string("create")),
        "fail_message",
        Value::string("boom"),
    );
    let err = p.create(apply_req(None, cfg)).await.unwrap_err();
    assert_eq!(err.message, "boom");
    assert_eq!(store_json(&p), before);
    assert!(p.read(read_req(existing)).await.unwrap().is_some());
}

#[tokio::test]
async fn fail_on_update_delete_read() {
    let (_dir, p) = fixture();
    let state = create(&p, named("a")).await;
    let before = store_json(&p);

    let planned = with(
        with(state.clone(), "fail_on", Value::string("update")),
        "value",
        Value::Number(9.0),
    );
    let err = p
        .update(apply_req(Some(state.clone()), planned))
        .await
        .unwrap_err();
    assert_eq!(err.message, "injected failure on update");
    assert_eq!(store_json(&p), before);

    let doomed = with(state.clone(), "fail_on", Value::string("delete"));
    let err = p
        .delete(apply_req(Some(doomed), Value::Null))
        .await
        .unwrap_err();
    assert_eq!(err.message, "injected failure on delete");
    assert_eq!(store_json(&p), before);

    let unreadable = with(state, "fail_on", Value::string("read"));
    let err = p.read(read_req(unreadable)).await.unwrap_err();
    assert_eq!(err.message, "injected failure on read");
}

#[tokio::test]
async fn delay_honours_cancel() {
    let (_dir, p) = fixture();
    let cfg = with(named("slow"), "create_delay_ms", Value::Number(60_000.0));
    let change = plan(&p, None, cfg).await;
    let request = apply_req(None, change.planned);
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let err = p.create(request).await.unwrap_err();
    assert_eq!(err.message, "cancelled");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(store_json(&p), serde_json::json!({}));
}

#[tokio::test]
async fn delay_waits_when_not_cancelled() {
    let (_dir, p) = fixture();
    let state = create(&p, with(named("a"), "delete_delay_ms", Value::Number(50.0))).await;
    let started = Instant::now();
    p.delete(apply_req(Some(state), Value::Null)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[test]
fn validate_rejects_bad_fail_on() {
    let p = TestProvider::new();
    let errors = p.validate(
        TEST_RESOURCE,
        &with(named("a"), "fail_on", Value::string("plan")),
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].attribute,
        Some(vec![PathStep::Key("fail_on".to_string())])
    );
    for ok in ["create", "update", "delete", "read"] {
        assert!(p
            .validate(
                TEST_RESOURCE,
                &with(named("a"), "fail_on", Value::string(ok))
            )
            .is_empty());
    }
    assert!(p
        .validate(TEST_RESOURCE, &with(named("a"), "fail_on", Value::Unknown))
        .is_empty());
    let errors = p.validate(
        TEST_RESOURCE,
        &with(named("a"), "create_delay_ms", Value::Number(-1.0)),
    );
    assert_eq!(errors.len(), 1);
}

#[tokio::test]
async fn secret_stays_sensitive_after_read() {
    let (_dir, p) = fixture();
    let cfg = with(
        named("a"),
        "secret",
        Value::string("hunter2").into_sensitive(),
    );
    let state = create(&p, cfg).await;
    assert_eq!(
        state.get("secret"),
        Some(&Value::string("hunter2").into_sensitive())
    );
    let read = p.read(read_req(state.clone())).await.unwrap().unwrap();
    assert_eq!(read, state);
    let imported = p.import(TEST_RESOURCE, &id_of(&state)).await.unwrap();
    assert_eq!(imported, Some(state));
    assert_eq!(p.import(TEST_RESOURCE, "test-missing").await.unwrap(), None);
}

#[tokio::test]
async fn concurrent_creates_are_all_stored() {
    let (_dir, p) = fixture();
    let p = Arc::new(p);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            create(&p, named(&format!("n{i}"))).await
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store_json(&p).as_object().unwrap().len(), 20);
}

#[tokio::test]
async fn configure_sets_store() {
    let dir = tempfile::tempdir().unwrap();
    let p = TestProvider::new();
    assert!(p.store_path().ends_with(DEFAULT_STORE));
    let path = dir.path().join("sub/store.json");
    let cfg = Value::Map(BTreeMap::from([(
        "store".to_string(),
        Value::string(path.to_string_lossy()),
    )]));
    p.configure(cfg).await.unwrap();
    assert_eq!(p.store_path(), path);
    create(&p, named("a")).await;
    assert!(path.exists());
    let bad = Value::Map(BTreeMap::from([("store".to_string(), Value::Number(1.0))]));
    assert!(p.configure(bad).await.is_err());
}

#[tokio::test]
async fn echo_data_source() {
    let p = TestProvider::new();
    let cfg = Value::Map(BTreeMap::from([
        ("value".to_string(), Value::List(vec![Value::Bool(true)])),
        ("result".to_string(), Value::Null),
    ]));
    let out = p.read_data(TEST_ECHO, cfg).await.unwrap();
    assert_eq!(
        out.get("result"),
        Some(&Value::List(vec![Value::Bool(true)]))
    );
    assert!(p.read_data("test_other", Value::Null).await.is_err());
    let schema = p.schema();
    assert!(schema.data_sources.contains_key(TEST_ECHO));
    assert!(schema.resources[TEST_RESOURCE].block.attributes["replace_key"].force_new);
    assert!(schema.resources[TEST_RESOURCE].block.attributes["secret"].sensitive);
}

#[test]
fn expected_durations_are_the_configured_delays() {
    use mesh_engine::graph::OpKind;
    let p = TestProvider::new();
    let object = Value::Map(BTreeMap::from([
        ("name".to_string(), Value::string("a")),
        ("create_delay_ms".to_string(), Value::Number(1500.0)),
        ("delete_delay_ms".to_string(), Value::Number(20.0)),
    ]));
    let expected = |kind| p.expected_duration(TEST_RESOURCE, kind, &object);
    assert_eq!(expected(OpKind::Create), Some(Duration::from_millis(1500)));
    assert_eq!(expected(OpKind::Delete), Some(Duration::from_millis(20)));
    assert_eq!(
        expected(OpKind::DeleteDeposed),
        Some(Duration::from_millis(20))
    );
    assert_eq!(expected(OpKind::Update), Some(Duration::ZERO));
    assert_eq!(expected(OpKind::Read), None);
    assert_eq!(
        p.expected_duration("test_other", OpKind::Create, &object),
        None
    );
}
