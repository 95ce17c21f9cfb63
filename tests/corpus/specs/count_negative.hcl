resource "mesh_data" "a" {
  count = -1
}
