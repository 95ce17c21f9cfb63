//! Commands about the spec itself: graph, validate, fmt, completions, schema, version.

use crate::harness::Spec;

const SPEC: &str = r#"
resource "mesh_data" "a" {
  input = "a"
}
resource "test_resource" "b" {
  name  = "b"
  value = mesh_data.a.id
}
resource "mesh_data" "c" {
  input = [test_resource.b.name, mesh_data.a.output]
}
"#;

#[test]
fn graph_dot_and_mermaid_contain_the_edges() {
    let spec = Spec::with_main(SPEC);
    let dot = spec.ok(&["graph"]);
    dot.stdout_has("digraph")
        .stdout_has("\"test_resource.b\" -> \"mesh_data.a\";")
        .stdout_has("\"mesh_data.c\" -> \"test_resource.b\";")
        .stdout_has("\"mesh_data.c\" -> \"mesh_data.a\";")
        .lacks("\"mesh_data.a\" ->");
    assert_eq!(spec.ok(&["graph", "--format", "dot"]).stdout, dot.stdout);

    let mermaid = spec.ok(&["graph", "--format", "mermaid"]);
    mermaid.stdout_has("flowchart");
    // Node ids are n0, n1, ...: resolve them through their labels.
    let id_of = |label: &str| -> String {
        let line = mermaid
            .lines()
            .into_iter()
            .find(|l| l.contains(&format!("[\"{label}\"]")))
            .unwrap_or_else(|| panic!("no node {label}\n{}", mermaid.stdout))
            .trim()
            .to_string();
        line.split('[').next().unwrap().to_string()
    };
    let (a, b, c) = (
        id_of("mesh_data.a"),
        id_of("test_resource.b"),
        id_of("mesh_data.c"),
    );
    for (from, to) in [(&b, &a), (&c, &b), (&c, &a)] {
        mermaid.stdout_has(&format!("{from} --> {to}"));
    }
    assert!(spec.state().is_none(), "graph does not write state");
}

#[test]
fn validate_succeeds_and_fails() {
    let spec = Spec::with_main(SPEC);
    spec.ok(&["validate"]).stdout_has("Success!");
    assert!(spec.state().is_none());

    spec.write(
        "main.hcl",
        &SPEC.replace("mesh_data.a.id", "mesh_data.zz.id"),
    );
    let out = spec.fails(&["validate"]);
    out.stderr_has("mesh_data.zz").stderr_has("main.hcl line 7");

    spec.write("main.hcl", "resource \"mesh_datum\" \"a\" {\n}\n");
    spec.fails(&["validate"])
        .stderr_has("Unknown resource type")
        .stderr_has("main.hcl line 1");
}

#[test]
fn validate_checks_resource_arguments() {
    let spec = Spec::with_main("resource \"mesh_data\" \"a\" {\n  inptu = \"x\"\n}\n");
    let out = spec.fails(&["validate"]);
    out.stderr_has("inptu").stderr_has("main.hcl line 2");
    let spec = Spec::with_main("resource \"test_resource\" \"a\" {\n}\n");
    spec.fails(&["validate"]).stderr_has("name");
}

#[test]
fn fmt_check_then_fmt() {
    let spec = Spec::with_main(
        "resource \"mesh_data\" \"a\" {\ninput=\"x\"\n  triggers_replace   =  1\n}\n",
    );
    spec.write(
        "modules/m/main.hcl",
        "variable \"v\" {\n      type = string\n}\n",
    );
    spec.write(
        "ok.hcl",
        "resource \"mesh_data\" \"b\" {\n  input = \"y\"\n}\n",
    );
    let original = spec.read("main.hcl");

    let check = spec.run(&["fmt", "--check"]);
    assert_eq!(check.code, 3, "{}", check.dump());
    check
        .stdout_has("main.hcl")
        .stdout_has("modules/m/main.hcl")
        .lacks("ok.hcl");
    assert_eq!(spec.read("main.hcl"), original, "--check writes nothing");

    spec.ok(&["fmt"]).stdout_has("main.hcl");
    assert_eq!(
        spec.read("main.hcl"),
        "resource \"mesh_data\" \"a\" {\n  input            = \"x\"\n  triggers_replace = 1\n}\n"
    );
    assert_eq!(
        spec.read("modules/m/main.hcl"),
        "variable \"v\" {\n  type = string\n}\n"
    );
    let again = spec.ok(&["fmt", "--check"]);
    assert_eq!(again.stdout.trim(), "");
    // Idempotent.
    spec.ok(&["fmt"]);
    assert_eq!(spec.ok(&["fmt", "--check"]).code, 0);
}

#[test]
fn fmt_of_one_file_and_of_a_syntax_error() {
    let spec = Spec::with_main("resource \"mesh_data\" \"a\" {\ninput=\"x\"\n}\n");
    spec.write(
        "other.hcl",
        "resource \"mesh_data\" \"b\" {\ninput=\"y\"\n}\n",
    );
    let out = spec.run(&[
        "fmt",
        "--check",
        &spec.join("other.hcl").display().to_string(),
    ]);
    assert_eq!(out.code, 3, "{}", out.dump());
    out.lacks("main.hcl");

    spec.write(
        "broken.hcl",
        "resource \"mesh_data\" \"c\" {\n  input = \n}\n",
    );
    let out = spec.fails(&["fmt"]);
    out.stderr_has("broken.hcl:2");
    assert_eq!(
        spec.read("broken.hcl"),
        "resource \"mesh_data\" \"c\" {\n  input = \n}\n"
    );
}

#[test]
fn completions_mention_mesh() {
    let spec = Spec::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = spec.ok(&["completions", shell]);
        out.stdout_has("mesh");
        assert!(out.stdout.len() > 100, "{shell}: {}", out.stdout);
    }
    spec.ok(&["completions", "bash"]).stdout_has("force-unlock");
    let out = spec.run(&["completions", "tcsh"]);
    assert_eq!(out.code, 2, "{}", out.dump());
}

#[test]
fn schema_describes_the_test_provider() {
    let spec = Spec::new();
    spec.ok(&["schema", "test_resource"])
        .stdout_has("replace_key")
        .stdout_has("create_delay_ms");
    let json = spec.ok(&["schema", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(doc.to_string().contains("mesh_data"), "{doc}");
    assert!(doc.to_string().contains("test_echo"), "{doc}");
}

#[test]
fn help_version_and_unknown_commands() {
    let spec = Spec::new();
    let help = spec.ok(&["--help"]);
    help.stdout_has("force-unlock");
    assert_eq!(
        help.lines()[0],
        "Declarative multi-region AKS clusters joined into a multi-cluster Istio mesh: plan, apply, destroy",
        "{}",
        help.dump()
    );
    help.lacks("The mesh command-line tool.");
    spec.ok(&["--version"]).stdout_has("mesh");
    let out = spec.run(&["frobnicate"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    out.stderr_has("frobnicate");
    let out = spec.run(&["plan", "--no-such-flag"]);
    assert_eq!(out.code, 2, "{}", out.dump());
}

#[test]
fn a_directory_without_spec_files_is_an_error() {
    let spec = Spec::new();
    spec.fails(&["plan"]).stderr_has("No spec files");
    let out = Spec::new();
    let missing = out.join("does-not-exist").display().to_string();
    let result = std::process::Command::new(crate::harness::MESH)
        .args(["-C", &missing, "plan"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&result.stderr).contains("does-not-exist"));
}
