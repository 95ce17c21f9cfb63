resource "mesh_data" "a" {
  input = "yes" ? 1 : 2
}
