output "o" {
  description = "d"
}
