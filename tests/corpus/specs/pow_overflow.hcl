resource "mesh_data" "a" {
  input = pow(10, 1000)
}
