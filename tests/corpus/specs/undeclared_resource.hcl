resource "mesh_data" "a" {
  input = mesh_data.zz.id
}
