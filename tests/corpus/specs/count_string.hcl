resource "mesh_data" "a" {
  count = "abc"
}
