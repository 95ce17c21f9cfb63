module "m" {
  x = 1
}
