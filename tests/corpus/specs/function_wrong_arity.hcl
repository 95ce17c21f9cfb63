resource "mesh_data" "a" {
  input = upper("a", "b")
}
