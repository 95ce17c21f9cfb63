resource "mesh_data" "a" {
  depends_on = mesh_data.b
}
resource "mesh_data" "b" {
}
