resource "mesh_data" "a" {
  input = range(100000000)
}
