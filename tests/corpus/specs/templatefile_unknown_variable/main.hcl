resource "mesh_data" "a" {
  input = templatefile("t.tpl", { a = 1 })
}
