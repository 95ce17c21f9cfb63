resource "mesh_data" "a" {
  input = cidrsubnet("10.0.0.0/30", 8, 1)
}
