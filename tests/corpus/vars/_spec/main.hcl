variable "name" {
  type    = string
  default = "a"
}
variable "count_of" {
  type    = number
  default = 1
}
variable "enabled" {
  type    = bool
  default = true
}
variable "zones" {
  type    = list(number)
  default = []
}
variable "tags" {
  type    = map(string)
  default = {}
}
variable "obj" {
  type = object({
    a = string
    b = number
  })
  default = { a = "x", b = 1 }
}
resource "mesh_data" "a" {
  input = [var.name, var.count_of, var.enabled, var.zones, var.tags, var.obj]
}
