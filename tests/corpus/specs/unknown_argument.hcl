resource "mesh_data" "a" {
  inptu = "x"
}
