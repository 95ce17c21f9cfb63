resource "mesh_data" "a" {
}
resource "mesh_data" "a" {
}
