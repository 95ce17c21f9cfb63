resource "mesh_data" "a" {
  input = <<EOT
hello
}
