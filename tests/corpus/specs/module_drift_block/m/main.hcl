drift {
}
