resource "mesh_data" {
}
