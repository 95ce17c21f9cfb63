resource "test_resource" "a" {
  value = 1
}
