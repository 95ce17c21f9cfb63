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
