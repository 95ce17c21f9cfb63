resource "mesh_data" "a" {
  input = format("%.99999999f", 1)
}
