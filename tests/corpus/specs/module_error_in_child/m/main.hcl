
resource "mesh_data" "a" {
  inptu = 1
}
