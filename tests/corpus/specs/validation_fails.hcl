variable "a" {
  default = 0
  validation {
    condition     = var.a > 0
    error_message = "a must be positive"
  }
}
resource "mesh_data" "x" {
  input = var.a
}
