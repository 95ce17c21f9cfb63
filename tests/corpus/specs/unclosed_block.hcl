resource "mesh_data" "a" {
  input = "x"
