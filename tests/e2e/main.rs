//! End-to-end tests: the real `mesh` binary against spec directories in fresh temp dirs.

mod harness;
