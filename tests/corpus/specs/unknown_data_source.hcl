data "nope_thing" "a" {
}
