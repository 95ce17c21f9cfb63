resource "mesh_data" "a" {
  input = "inf" + 1
}
