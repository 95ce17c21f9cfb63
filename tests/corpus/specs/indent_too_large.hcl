resource "mesh_data" "a" {
  input = indent(9000000000000000, "a\nb")
}
