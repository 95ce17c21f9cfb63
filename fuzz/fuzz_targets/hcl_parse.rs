//! libFuzzer entry point for the `hcl_parse` target (see `mesh_fuzz::hcl_parse`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mesh_fuzz::hcl_parse(data));
