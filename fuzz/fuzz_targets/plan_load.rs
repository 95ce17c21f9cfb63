//! libFuzzer entry point for the `plan_load` target (see `mesh_fuzz::plan_load`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mesh_fuzz::plan_load(data));
