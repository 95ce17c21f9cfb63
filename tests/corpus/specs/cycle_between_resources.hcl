resource "mesh_data" "a" {
  input = mesh_data.b.id
}
resource "mesh_data" "b" {
  input = mesh_data.a.id
}
