resource "mesh_datum" "a" {
}
