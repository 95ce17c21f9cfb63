//! Bad specs: every error exits non-zero, points at the file and line, never panics (the
//! harness checks "panicked" on every run), and leaves state and lock untouched.

use crate::harness::{assert_points_at, Out, Spec};

/// Plan `text` as main.hcl; assert failure pointing at main.hcl line `line`.
fn bad(text: &str, line: usize) -> Out {
    let spec = Spec::with_main(text);
    let out = spec.fails(&["plan"]);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_points_at(&out, "main.hcl", line);
    out.lacks("panicked");
    assert!(spec.state().is_none(), "a failed plan writes no state");
    assert!(!spec.locked(), "a failed plan leaves no lock");
    out
}

#[test]
fn unknown_attribute_with_did_you_mean() {
    let out = bad("resource \"mesh_data\" \"a\" {\n  inptu = \"x\"\n}\n", 2);
    out.stderr_has("Unsupported argument")
        .stderr_has("\"inptu\"")
        .stderr_has("did you mean \"input\"?");
}

#[test]
fn wrong_type_for_count() {
    let out = bad("resource \"mesh_data\" \"a\" {\n  count = \"abc\"\n}\n", 2);
    out.stderr_has("Invalid count argument").stderr_has("abc");
}

#[test]
fn wrong_type_for_an_attribute() {
    let out = bad(
        "resource \"test_resource\" \"a\" {\n  name = \"a\"\n  create_delay_ms = \"soon\"\n}\n",
        3,
    );
    out.stderr_has("create_delay_ms");
}

#[test]
fn missing_required_attribute() {
    let out = bad("resource \"test_resource\" \"a\" {\n  value = 1\n}\n", 1);
    out.stderr_has("Missing required argument")
        .stderr_has("\"name\"");
}

#[test]
fn unknown_reference() {
    let out = bad("resource \"mesh_data\" \"a\" {\n  input = var.nope\n}\n", 2);
    out.stderr_has("var.nope").stderr_has("not declared");
    let out = bad(
        "resource \"mesh_data\" \"a\" {\n}\nresource \"mesh_data\" \"b\" {\n  input = mesh_data.aa.id\n}\n",
        4,
    );
    out.stderr_has("mesh_data.aa").stderr_has("did you mean");
}

#[test]
fn duplicate_resource_block() {
    let out = bad(
        "resource \"mesh_data\" \"a\" {\n}\n\nresource \"mesh_data\" \"a\" {\n}\n",
        4,
    );
    out.stderr_has("Duplicate resource")
        .stderr_has("main.hcl:1");
}

#[test]
fn duplicate_across_files_names_both() {
    let spec = Spec::with_main("resource \"mesh_data\" \"a\" {\n}\n");
    spec.write("other.hcl", "\nresource \"mesh_data\" \"a\" {\n}\n");
    let out = spec.fails(&["plan"]);
    out.stderr_has("Duplicate resource")
        .stderr_has("main.hcl:1")
        .stderr_has("other.hcl line 2");
}

#[test]
fn invalid_for_each_list_of_numbers() {
    let out = bad(
        "resource \"mesh_data\" \"a\" {\n  for_each = [1, 2]\n}\n",
        2,
    );
    out.stderr_has("Invalid for_each argument");
}

#[test]
fn invalid_for_each_unknown_value() {
    let out = bad(
        "resource \"mesh_data\" \"x\" {\n}\nresource \"mesh_data\" \"a\" {\n  for_each = toset([mesh_data.x.id])\n}\n",
        4,
    );
    out.stderr_has("Invalid for_each argument")
        .stderr_has("known only after apply");
}

#[test]
fn invalid_count_negative_or_unknown() {
    let out = bad("resource \"mesh_data\" \"a\" {\n  count = -1\n}\n", 2);
    out.stderr_has("Invalid count argument").stderr_has("-1");
    bad(
        "resource \"mesh_data\" \"x\" {\n}\nresource \"mesh_data\" \"a\" {\n  count = length(mesh_data.x.id)\n}\n",
        4,
    )
    .stderr_has("count");
}

#[test]
fn cycle_lists_every_node_with_file_and_line() {
    let out = bad(
        r#"resource "mesh_data" "a" {
  input = mesh_data.b.id
}
resource "mesh_data" "b" {
  input = mesh_data.c.id
}
resource "mesh_data" "c" {
  input = mesh_data.a.id
}
resource "mesh_data" "innocent" {
  input = mesh_data.a.id
}
"#,
        1,
    );
    out.stderr_has("Cycle")
        .stderr_has("mesh_data.a (main.hcl:1:1)")
        .stderr_has("mesh_data.b (main.hcl:4:1)")
        .stderr_has("mesh_data.c (main.hcl:7:1)")
        .lacks("mesh_data.innocent (");
}

#[test]
fn cycle_through_locals() {
    let out = bad(
        "locals {\n  x = local.y\n  y = local.x\n}\nresource \"mesh_data\" \"a\" {\n  input = local.x\n}\n",
        2,
    );
    out.stderr_has("Cycle")
        .stderr_has("local.x")
        .stderr_has("local.y");
}

#[test]
fn bad_variable_value() {
    let spec = Spec::with_main(
        "variable \"n\" {\n  type    = number\n  default = 1\n}\nresource \"mesh_data\" \"a\" {\n  input = var.n\n}\n",
    );
    let out = spec.fails(&["plan", "-var", "n=abc"]);
    out.stderr_has("abc").stderr_has("-var");
    let out = spec.fails(&["plan", "-var", "n=true"]);
    out.stderr_has("var.n").stderr_has("number");
    assert_points_at(&out, "main.hcl", 1);
    assert!(spec.state().is_none());
}

#[test]
fn bad_variable_default() {
    let out = bad(
        "variable \"n\" {\n  type    = number\n  default = \"abc\"\n}\n",
        1,
    );
    out.stderr_has("var.n");
}

#[test]
fn syntax_errors() {
    bad("resource \"mesh_data\" \"a\" {\n  input = \"x\n}\n", 2).stderr_has("Invalid HCL syntax");
    bad("resource \"mesh_data\" \"a\" {\n  input = \n}\n", 2).stderr_has("Invalid HCL syntax");
    bad("\n\nresource \"mesh_data\" \"a\" {\n", 3).stderr_has("Invalid HCL syntax");
}

#[test]
fn unknown_resource_type() {
    let out = bad("resource \"mesh_datum\" \"a\" {\n}\n", 1);
    out.stderr_has("Unknown resource type")
        .stderr_has("mesh_datum")
        .stderr_has("did you mean \"mesh_data\"?");
}

#[test]
fn unknown_function() {
    let out = bad(
        "resource \"mesh_data\" \"a\" {\n  input = uppercase(\"x\")\n}\n",
        2,
    );
    out.stderr_has("uppercase");
}

#[test]
fn function_called_with_wrong_arguments() {
    bad(
        "resource \"mesh_data\" \"a\" {\n  input = upper(1, 2)\n}\n",
        2,
    )
    .stderr_has("upper");
    bad(
        "resource \"mesh_data\" \"a\" {\n  input = cidrsubnet(\"nope\", 8, 1)\n}\n",
        2,
    )
    .stderr_has("cidrsubnet");
}

#[test]
fn unknown_top_level_block_and_attribute() {
    bad("resourse \"mesh_data\" \"a\" {\n}\n", 1).stderr_has("resourse");
    bad("\nx = 1\n", 2).stderr_has("\"x\"");
}

#[test]
fn unknown_lifecycle_argument() {
    bad(
        "resource \"mesh_data\" \"a\" {\n  lifecycle {\n    create_before_destory = true\n  }\n}\n",
        3,
    )
    .stderr_has("create_before_destory");
}

#[test]
fn errors_in_a_module_name_the_module_file() {
    let spec = Spec::with_main("module \"m\" {\n  source = \"./m\"\n}\n");
    spec.write(
        "m/main.hcl",
        "\nresource \"mesh_data\" \"a\" {\n  inptu = 1\n}\n",
    );
    let out = spec.fails(&["plan"]);
    assert_points_at(&out, "m/main.hcl", 3);
}

#[test]
fn several_errors_are_all_reported() {
    let out = bad(
        "resource \"mesh_data\" \"a\" {\n  inptu = 1\n}\nresource \"test_resource\" \"b\" {\n  value = 1\n}\n",
        2,
    );
    out.stderr_has("inptu").stderr_has("\"name\"");
    assert_points_at(&out, "main.hcl", 4);
}

#[test]
fn a_failed_plan_or_apply_leaves_state_and_lock_alone() {
    let good = "resource \"test_resource\" \"a\" {\n  name = \"a\"\n}\n";
    let spec = Spec::with_main(good);
    spec.apply(&[]);
    let state = spec.state_bytes().expect("state");
    let store = spec.store();
    let broken = [
        "resource \"test_resource\" \"a\" {\n  name = \"a\"\n  inptu = 1\n}\n",
        "resource \"test_resource\" \"a\" {\n  name = var.nope\n}\n",
        "resource \"test_resource\" \"a\" {\n  name = \"a\"\n",
    ];
    for text in broken {
        spec.write("main.hcl", text);
        for args in [
            &["plan"][..],
            &["apply", "-auto-approve"],
            &["destroy", "-auto-approve"],
            &["plan", "-out", "p.json"],
        ] {
            let out = spec.fails(args);
            out.stderr_has("main.hcl line");
            assert_eq!(
                spec.state_bytes().as_ref(),
                Some(&state),
                "{args:?} on {text}"
            );
            assert!(!spec.locked(), "{args:?} left the lock behind");
            assert!(!spec.exists("p.json"), "a failed plan saves no plan file");
        }
    }
    assert_eq!(spec.store(), store, "nothing changed remotely");
}
