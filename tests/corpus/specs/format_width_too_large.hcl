resource "mesh_data" "a" {
  input = format("%999999999d", 1)
}
