resource "mesh_data" "a" {
  input = yamldecode("a: &a [*a]")
}
