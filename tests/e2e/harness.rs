//! Test harness: a fresh directory per test, and the built `mesh` binary.
