resource "test_resource" "a" {
  name = "a"
  create_delay_ms = "soon"
}
