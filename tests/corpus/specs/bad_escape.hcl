resource "mesh_data" "a" {
  input = "\q"
}
