locals {
  s = join("", [for i in range(5000) : "a"])
}
resource "mesh_data" "a" {
  input = replace(local.s, "", local.s)
}
