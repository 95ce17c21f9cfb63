provider "nope" {
}
