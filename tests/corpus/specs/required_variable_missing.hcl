variable "needed" {
  type = string
}
resource "mesh_data" "a" {
  input = var.needed
}
