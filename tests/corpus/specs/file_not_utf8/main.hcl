resource "mesh_data" "a" {
  input = file("blob.bin")
}
