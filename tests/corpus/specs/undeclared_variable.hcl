resource "mesh_data" "a" {
  input = var.nope
}
