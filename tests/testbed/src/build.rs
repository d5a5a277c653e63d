//! Finding (and building first) the binaries a bed needs, next to the running test or example:
//! `target/<profile>/deps/tests-*` and `target/<profile>/examples/*` both live one level below
//! the profile directory, where cargo puts binaries.

use std::path::PathBuf;
use std::process::Command;

use crate::Result;

/// `target/<profile>` of the running executable.
pub fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    exe.parent()
        .and_then(std::path::Path::parent)
        .map(std::path::Path::to_path_buf)
        .ok_or_else(|| format!("cannot find the target directory of {}", exe.display()))
}

/// `cargo build --quiet --locked ARGS` in the running executable's profile (a no-op when the
/// binaries are fresh); returns the profile directory.
pub fn cargo_build(args: &[&str]) -> Result<PathBuf> {
    let dir = profile_dir()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--locked"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // `target/debug` is the dev profile's; every other directory is named after its profile.
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some(profile) => {
            build.args(["--profile", profile]);
        }
    }
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo build {}` failed", args.join(" ")));
    }
    Ok(dir)
}
