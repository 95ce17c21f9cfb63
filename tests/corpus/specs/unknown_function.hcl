resource "mesh_data" "a" {
  input = uppercase("x")
}
