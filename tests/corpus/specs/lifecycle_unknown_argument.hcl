resource "mesh_data" "a" {
  lifecycle {
    create_before_destory = true
  }
}
