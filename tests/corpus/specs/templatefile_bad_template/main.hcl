resource "mesh_data" "a" {
  input = templatefile("t.tpl", {})
}
