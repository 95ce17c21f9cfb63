resource "mesh_data" "a" {
  input = each.key
}
