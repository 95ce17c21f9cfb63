use super::*;

fn address(text: &str) -> InstanceAddress {
    InstanceAddress::parse(text).unwrap_or_else(|| panic!("{text} is an address"))
}

fn matches(pattern: &str, text: &str) -> bool {
    AddressPattern::parse(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .matches(&address(text))
}

fn path(steps: &[&str]) -> Vec<PathStep> {
    steps
        .iter()
        .map(|s| match s.parse() {
            Ok(i) => PathStep::Index(i),
            Err(_) => PathStep::Key(s.to_string()),
        })
        .collect()
}

#[test]
fn a_pattern_without_a_key_matches_every_instance() {
    assert!(matches("test_resource.pool", "test_resource.pool"));
    assert!(matches("test_resource.pool", "test_resource.pool[3]"));
    assert!(matches("test_resource.pool", "test_resource.pool[\"eu\"]"));
    assert!(matches(
        "test_resource.pool[*]",
        "test_resource.pool[\"eu\"]"
    ));
    assert!(!matches("test_resource.pool", "test_resource.pools"));
}

#[test]
fn an_exact_key_matches_only_that_instance() {
    assert!(matches("test_resource.pool[1]", "test_resource.pool[1]"));
    assert!(!matches("test_resource.pool[1]", "test_resource.pool[2]"));
    assert!(matches(
        "test_resource.pool[\"a.b]\"]",
        "test_resource.pool[\"a.b]\"]"
    ));
    assert!(!matches(
        "test_resource.pool[\"a\"]",
        "test_resource.pool[0]"
    ));
}

#[test]
fn wildcards_match_within_names() {
    assert!(matches(
        "kubernetes_manifest.*",
        "kubernetes_manifest.crd[\"x\"]"
    ));
    assert!(matches("kubernetes_*.*", "kubernetes_manifest.crd"));
    assert!(matches("*.*", "test_resource.a"));
    assert!(matches(
        "test_resource.node_*_pool",
        "test_resource.node_user_pool"
    ));
    assert!(matches("test_resource.*pool*", "test_resource.pool"));
    assert!(!matches("kubernetes_*.*", "azure_thing.crd"));
    assert!(!matches("test_resource.a*b", "test_resource.ab_c"));
}

#[test]
fn module_paths_are_absolute() {
    let p = "module.region[*].azure_kubernetes_node_pool.user";
    assert!(matches(
        p,
        "module.region[\"eastus\"].azure_kubernetes_node_pool.user"
    ));
    assert!(matches(
        p,
        "module.region.azure_kubernetes_node_pool.user[0]"
    ));
    assert!(!matches(p, "azure_kubernetes_node_pool.user"));
    assert!(!matches(
        p,
        "module.region[\"eastus\"].module.inner.azure_kubernetes_node_pool.user"
    ));
    assert!(!matches("test_resource.a", "module.m.test_resource.a"));
    assert!(matches(
        "module.*.test_resource.a",
        "module.m[0].test_resource.a"
    ));
    assert!(!matches(
        "module.region[\"westus\"].test_resource.a",
        "module.region[\"eastus\"].test_resource.a"
    ));
}

#[test]
fn a_module_pattern_matches_everything_inside() {
    assert!(matches(
        "module.monitoring",
        "module.monitoring.test_resource.a"
    ));
    assert!(matches(
        "module.monitoring",
        "module.monitoring[1].module.inner.test_resource.a[2]"
    ));
    assert!(!matches("module.monitoring", "test_resource.a"));
    assert!(!matches(
        "module.monitoring",
        "module.other.test_resource.a"
    ));
}

#[test]
fn data_sources_never_match() {
    let p = AddressPattern::parse("*.*").expect("pattern");
    assert!(!p.matches(&address("data.test_echo.e")));
}

#[test]
fn bad_address_patterns_say_what_is_wrong() {
    for (text, expected) in [
        ("", "ends where a name was expected"),
        ("test_resource", "names no resource"),
        ("data.test_echo.e", "never drift"),
        ("test_resource.a.b", "unexpected \".b\""),
        ("test_resource.a[x]", "not a valid key"),
        ("test_resource.a[\"x]", "invalid quoted key"),
        ("test_resource.a[0", "missing ']'"),
        ("module.m/x.test_resource.a", "unexpected \"/x"),
        ("test resource.a", "unexpected \" resource.a\""),
        ("test_resource.", "ends where a name was expected"),
        ("module..a.b", "found '.'"),
    ] {
        let err = AddressPattern::parse(text).expect_err(text);
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn attribute_patterns_cover_what_is_below_them() {
    let p = AttributePattern::parse("value.labels").expect("path");
    assert_eq!(p.len(), 2);
    assert!(p.covers(&path(&["value", "labels"])));
    assert!(p.covers(&path(&["value", "labels", "team"])));
    assert!(!p.covers(&path(&["value"])));
    assert!(!p.covers(&path(&["value", "size"])));
}

#[test]
fn attribute_patterns_take_brackets_and_wildcards() {
    let p = AttributePattern::parse("metadata.annotations[\"example.com/owner\"]").expect("path");
    assert!(p.covers(&path(&["metadata", "annotations", "example.com/owner"])));
    assert!(!p.covers(&path(&["metadata", "annotations", "other"])));

    let p = AttributePattern::parse("spec.containers[*].image").expect("path");
    assert!(p.covers(&path(&["spec", "containers", "0", "image"])));
    assert!(!p.covers(&path(&["spec", "containers", "0", "name"])));

    let p = AttributePattern::parse("value.*.size").expect("path");
    assert!(p.covers(&path(&["value", "a", "size"])));
    assert!(p.covers(&path(&["value", "3", "size"])));

    let p = AttributePattern::parse("ports[1]").expect("path");
    assert!(p.covers(&path(&["ports", "1"])));
    assert!(!p.covers(&path(&["ports", "0"])));
    assert!(!AttributePattern::parse("items[0]")
        .expect("path")
        .covers(&[PathStep::Key("items".into()), PathStep::Key("0".into())]));
}

#[test]
fn bad_attribute_patterns_say_what_is_wrong() {
    for (text, expected) in [
        ("", "ends where a name was expected"),
        ("a..b", "found '.'"),
        ("a.", "ends where a name was expected"),
        ("node*", "not part of a name"),
        ("a b", "unexpected \" b\""),
        ("a[b]", "not a valid key"),
        (".a", "found '.'"),
    ] {
        let err = AttributePattern::parse(text).expect_err(text);
        assert!(err.contains(expected), "{text}: {err}");
    }
}
