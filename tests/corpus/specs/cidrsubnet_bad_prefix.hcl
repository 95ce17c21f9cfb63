resource "mesh_data" "a" {
  input = cidrsubnet("nope", 8, 1)
}
