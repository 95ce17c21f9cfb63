resource "mesh_data" "a" {
  input = "abc"[*].x
}
