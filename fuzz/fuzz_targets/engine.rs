//! Fuzzes the engine with sequences of inputs (the harness and its invariants are in
//! `src/engine/`). Run: `fuzz/run 60 engine`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| haagent_fuzz::engine::run(data));
