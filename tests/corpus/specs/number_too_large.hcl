resource "mesh_data" "a" {
  input = 1e400
}
