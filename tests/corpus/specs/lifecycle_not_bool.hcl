resource "mesh_data" "a" {
  lifecycle {
    prevent_destroy = "yes"
  }
}
