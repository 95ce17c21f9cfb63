resource "mesh_data" "a" {
  input = module.nope.x
}
