locals {
  x = local.y
  y = local.x
}
resource "mesh_data" "a" {
  input = local.x
}
