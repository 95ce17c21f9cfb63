resource "mesh_data" "a" {
  input = { for x in ["a", "a"] : x => 1 }
}
