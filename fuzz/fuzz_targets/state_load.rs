//! libFuzzer entry point for the `state_load` target (see `mesh_fuzz::state_load`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mesh_fuzz::state_load(data));
