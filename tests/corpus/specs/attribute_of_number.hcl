resource "mesh_data" "a" {
  input = (5).name
}
