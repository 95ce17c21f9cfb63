module "m" {
  source = "./m"
  inner {
  }
}
