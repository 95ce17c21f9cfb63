resource "mesh_data" "a" {
  input = [for x in 5 : x]
}
