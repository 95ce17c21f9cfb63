resource "mesh_data" "a" {
  input = 1 / 0
}
