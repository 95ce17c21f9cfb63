resource "mesh_data" "a" {
  input = length(5)
}
