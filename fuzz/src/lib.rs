//! Shared parts of haagent's fuzz targets (`fuzz_targets/`): the manifests the engine target
//! runs and its harness, a driver that feeds one node's engine a sequence of inputs drawn from
//! the fuzz data and checks its invariants after each. `run` builds and runs the targets; the
//! README's "Fuzzing" section says how and what the long runs found.

pub mod alloc;
pub mod engine;
pub mod manifests;
