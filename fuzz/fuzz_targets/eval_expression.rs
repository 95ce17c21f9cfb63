//! libFuzzer entry point for the `eval_expression` target (see `mesh_fuzz::eval_expression`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mesh_fuzz::eval_expression(data));
