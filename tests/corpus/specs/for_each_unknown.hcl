resource "mesh_data" "x" {
}
resource "mesh_data" "a" {
  for_each = toset([mesh_data.x.id])
}
