locals {
  inner {
  }
}
