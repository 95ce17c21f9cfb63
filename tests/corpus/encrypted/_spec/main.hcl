mesh {
  encryption {}
}
resource "test_resource" "a" {
  name = "a"
}
