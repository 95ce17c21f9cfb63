resource "mesh_data" "a" {
  input = [1, 2, 3][5]
}
