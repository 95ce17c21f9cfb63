resource "mesh_data" "a" {
  input = base64decode("@@@")
}
