resource "mesh_data" "a" {
}
