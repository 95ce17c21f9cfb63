output "o" {
  value = 1
  valeu = 2
}
