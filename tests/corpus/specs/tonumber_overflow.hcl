resource "mesh_data" "a" {
  input = tonumber("1e400")
}
