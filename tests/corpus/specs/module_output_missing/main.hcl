module "m" {
  source = "./m"
}
resource "mesh_data" "a" {
  input = module.m.nope
}
