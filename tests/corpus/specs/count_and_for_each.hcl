resource "mesh_data" "a" {
  count    = 1
  for_each = toset(["a"])
}
