variable "a" {
  default   = 1
  sensitive = "yes"
}
