resource "mesh_data" "a" {
  input = "café"
}
