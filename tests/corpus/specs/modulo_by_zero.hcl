resource "mesh_data" "a" {
  input = 5 % 0
}
