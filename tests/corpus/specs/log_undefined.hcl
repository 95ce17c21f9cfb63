resource "mesh_data" "a" {
  input = log(0, 0)
}
