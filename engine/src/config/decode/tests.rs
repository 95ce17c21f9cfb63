use super::*;

fn load(files: &[(&str, &str)]) -> Result<Arc<Module>, Diagnostics> {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    load_module_tree(dir.path(), dir.path())
}

#[test]
fn merges_files_and_loads_modules() {
    let m = load(&[
            ("a.hcl", "variable \"x\" { default = 1 }\nmodule \"net\" {\n  source = \"./net\"\n  cidr = \"10.0.0.0/16\"\n}\n"),
            ("b.hcl", "resource \"mesh_data\" \"a\" {\n  input = var.x\n  lifecycle { prevent_destroy = true }\n}\n"),
            ("net/main.hcl", "variable \"cidr\" {}\noutput \"id\" { value = var.cidr }\n"),
        ])
        .expect("loads");
    assert!(m.variables.contains_key("x"));
    assert!(m.resources["mesh_data.a"].lifecycle.prevent_destroy);
    assert!(m.module_calls["net"].module.outputs.contains_key("id"));
}

#[test]
fn reports_every_problem_with_location() {
    let err = load(&[
        (
            "a.hcl",
            "variable \"x\" {}\nvariable \"x\" {}\nresourc \"mesh_data\" \"a\" {}\n",
        ),
        ("b.hcl", "module \"m\" {\n  source = \"./missing\"\n}\n"),
    ])
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Duplicate variable"), "{text}");
    assert!(text.contains("a.hcl line 2"), "{text}");
    assert!(text.contains("did you mean \"resource\"?"), "{text}");
    assert!(text.contains("Module source not found"), "{text}");
}

#[test]
fn syntax_errors_have_line_and_column() {
    let err = load(&[("a.hcl", "resource \"x\" \"y\" {\n  a = \n}\n")]).unwrap_err();
    assert!(err.to_string().contains("a.hcl line"), "{err}");
}

const POOL: &str = "resource \"test_resource\" \"pool\" {\n  name = \"p\"\n}\n";

#[test]
fn drift_blocks_add_up_in_declaration_order() {
    let m = load(&[
        ("a.hcl", POOL),
        (
            "b.hcl",
            "drift {\n  ignore {\n    resources  = [\"module.region[*].test_resource.pool\", \"kubernetes_manifest.*\"]\n    attributes = [\"node_count\", \"manifest.metadata.annotations\"]\n    reason     = \"the cluster autoscaler owns node counts\"\n  }\n  ignore {\n    resources = [\"test_resource.scratch\"]\n  }\n}\n",
        ),
        (
            "c.hcl",
            "drift {\n  ignore {\n    attributes = [\"tags[\\\"owner\\\"]\"]\n  }\n}\n",
        ),
    ])
    .expect("loads");
    let rules = &m.drift.ignore;
    assert_eq!(rules.len(), 3);
    assert_eq!(m.drift.blocks.len(), 2);
    let patterns: Vec<&str> = rules[0]
        .resources
        .as_ref()
        .expect("resources")
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(
        patterns,
        [
            "module.region[*].test_resource.pool",
            "kubernetes_manifest.*"
        ]
    );
    assert_eq!(
        rules[0].reason.as_deref(),
        Some("the cluster autoscaler owns node counts")
    );
    assert!(rules[1].attributes.is_none());
    assert!(rules[1].ignores_deletion());
    assert!(rules[2].resources.is_none());
    assert_eq!(rules[2].short_location(), "c.hcl:2");
}

#[test]
fn bad_drift_rules_are_all_reported_with_locations() {
    let err = load(&[(
        "main.hcl",
        "drift {\n  ignore {\n    resources = [\"data.test_echo.e\", var.x]\n    attributes = \"node_count\"\n    reason = \"\"\n    because = \"x\"\n  }\n  ignore {}\n  ignore {\n    resources = []\n  }\n  exclude {}\n  setting = 1\n}\ndrift \"named\" {}\n",
    )])
    .unwrap_err();
    let text = err.to_string();
    for needle in [
        "Invalid pattern in \"resources\"",
        "never drift",
        "main.hcl line 3",
        "must be a literal string",
        "\"attributes\" must be a list of literal strings",
        "main.hcl line 4",
        "\"reason\" is empty",
        "an argument named \"because\" is not expected in a ignore block",
        "an ignore block needs \"resources\", \"attributes\" or both",
        "main.hcl line 8",
        "\"resources\" is empty",
        "a block of type \"exclude\" is not expected in a drift block",
        "an argument named \"setting\" is not expected in a drift block",
        "a drift block takes 0 label(s), got 1",
    ] {
        assert!(text.contains(needle), "lacks {needle:?}:\n{text}");
    }
}

#[test]
fn a_drift_block_in_a_child_module_is_an_error_naming_file_and_line() {
    let err = load(&[
        (
            "main.hcl",
            "module \"net\" {\n  source = \"./net\"\n}\n",
        ),
        (
            "net/main.hcl",
            "resource \"test_resource\" \"a\" {\n  name = \"a\"\n}\n\ndrift {\n  ignore {\n    attributes = [\"value\"]\n  }\n}\n",
        ),
    ])
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Drift rules outside the root module"),
        "{text}"
    );
    assert!(text.contains("net/main.hcl line 5"), "{text}");
    assert!(text.contains("module \"net\""), "{text}");
    assert!(text.contains("module.net.TYPE.NAME"), "{text}");
}

#[test]
fn a_module_loop_points_at_the_call_that_closes_it() {
    let err = load(&[
        ("main.hcl", "module \"m\" {\n  source = \"./m\"\n}\n"),
        (
            "m/main.hcl",
            "\nmodule \"again\" {\n  source = \"../m\"\n}\n",
        ),
    ])
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Module calls itself"), "{text}");
    assert!(text.contains("m/main.hcl line 2"), "{text}");
}

#[test]
fn a_spec_file_that_is_not_utf8_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.hcl"), b"\nx = \"caf\xe9\"\n").expect("write");
    let err = load_module_tree(dir.path(), dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Invalid UTF-8"), "{text}");
    assert!(text.contains("main.hcl line 2, column 9"), "{text}");
}
