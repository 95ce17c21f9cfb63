drift {
  ignroe {
  }
}
