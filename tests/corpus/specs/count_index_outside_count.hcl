resource "mesh_data" "a" {
  input = count.index
}
