variable "a" {
  default     = 1
  description = upper("x")
}
