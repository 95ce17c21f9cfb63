resource "mesh_data" "a" {
  input = local.nope
}
