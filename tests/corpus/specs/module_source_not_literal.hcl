module "m" {
  source = upper("./m")
}
