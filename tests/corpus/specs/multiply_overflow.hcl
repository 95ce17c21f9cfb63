resource "mesh_data" "a" {
  input = 1e308 * 10
}
