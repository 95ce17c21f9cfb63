
locals "x" {
}
