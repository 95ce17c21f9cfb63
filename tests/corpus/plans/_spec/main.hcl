resource "test_resource" "a" {
  name = "a"
}

resource "mesh_data" "b" {
  input = test_resource.a.name
}
