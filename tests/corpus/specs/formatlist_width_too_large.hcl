resource "mesh_data" "a" {
  input = formatlist("%9999999999s", ["a"])
}
