resource "mesh_data" "a" {
  input = file("missing.txt")
}
