/* never closed
resource "mesh_data" "a" {
}
