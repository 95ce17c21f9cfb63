variable "v" {
  default = 1
}
resource "mesh_data" "a" {
  depends_on = [var.v]
}
