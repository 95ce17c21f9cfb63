variable "v" {
  type = strng
}
