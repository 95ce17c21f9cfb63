resource "mesh_data" "a" {
  input = "${upper("x")"
}
