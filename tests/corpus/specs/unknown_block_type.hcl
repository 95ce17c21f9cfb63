resourse "mesh_data" "a" {
}
