resource "mesh_data" "a" {
  lifecycle {
    ignore_changes = "input"
  }
}
