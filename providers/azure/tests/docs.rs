//! docs/azure.md lists every resource type with the ARM type and pinned api-version it maps
//! to; this fails when a type is added or re-pinned without updating the table.

use std::path::Path;

#[test]
fn docs_azure_lists_every_type_with_its_api_version() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/azure.md"))
            .expect("docs/azure.md");
    let mut missing = Vec::new();
    for (name, ty) in mesh_provider_azure::resources::all() {
        let row = format!("| `{name}` | {} | {} |", ty.arm_type(), ty.api_version());
        if !doc.contains(&row) {
            missing.push(row);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/azure.md lacks these table rows:\n{}",
        missing.join("\n")
    );
}
