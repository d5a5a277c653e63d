//! The previous release's binaries and units, for rolling-upgrade tests: its tree taken from
//! the repository's history with `git archive` (by commit, so a clone without tags works),
//! built once with its own lock file into `<target>/previous-release/`, and reused while a
//! stamp says it was built from that commit. A clone without that history (a shallow one)
//! cannot have it: the error says so and how to get it.
//!
//! ```text
//! <target>/previous-release/source/      the release's tree
//! <target>/previous-release/build/       its cargo target directory (binaries in debug/)
//! <target>/previous-release/build.log    what cargo said
//! <target>/previous-release/built-from   the stamp: the commit, once both binaries exist
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use crate::Result;
use crate::cluster::Install;

/// The previous release's version.
pub const VERSION: &str = "0.1.0";
/// Its commit (tag `v0.1.0`), in full: no tag needed.
pub const COMMIT: &str = "1bf26ed1b36c922de1f24b9021f50cc194a6bbeb";

/// One build at a time within a test run (cargo locks its target directory, not the tree).
static BUILDING: Mutex<()> = Mutex::new(());

/// The previous release's binaries and units, built first if no stamp says they are.
pub fn install() -> Result<Install> {
    let _one = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = target_dir()?.join("previous-release");
    let (source, build) = (dir.join("source"), dir.join("build"));
    let bins = build.join("debug");
    let install = Install {
        bins: bins.clone(),
        units: source.join("units"),
    };
    let stamp = dir.join("built-from");
    let built = fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == COMMIT)
        && ["haagent", "haagentctl"]
            .iter()
            .all(|b| bins.join(b).is_file());
    if built {
        return Ok(install);
    }
    let _ = fs::remove_file(&stamp);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    check_history(&repo)?;
    extract(&repo, &source)?;
    eprintln!(
        "building the previous release {VERSION} (commit {COMMIT}) once, into {}",
        dir.display()
    );
    let started = Instant::now();
    cargo_build(&source, &build, &dir.join("build.log"))?;
    eprintln!("built the previous release in {:?}", started.elapsed());
    fs::write(&stamp, format!("{COMMIT}\n"))
        .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(install)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else the one holding the running
/// executable's profile directory.
fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let profile = crate::build::profile_dir()?;
    profile
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("no target directory above {}", profile.display()))
}

/// Fails, saying why and what to do, unless the history of the checkout at `repo` holds the
/// release.
pub fn check_history(repo: &Path) -> Result<()> {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run git: {e}"))
    };
    let found = git(&["cat-file", "-e", &format!("{COMMIT}^{{commit}}")])?;
    if found.status.success() {
        return Ok(());
    }
    let shallow = git(&["rev-parse", "--is-shallow-repository"])?;
    let why = match String::from_utf8_lossy(&shallow.stdout).trim() {
        "true" => {
            "this clone is shallow; `git fetch --unshallow` (or, in CI, a checkout with the full history, e.g. fetch-depth: 0) brings it"
        }
        "false" => {
            "this clone's history lacks it; `git fetch` from the project's repository brings it"
        }
        _ => {
            "the tree is not a git checkout; the release can only be taken from a clone of the repository"
        }
    };
    Err(format!(
        "the previous release {VERSION} (commit {COMMIT}) is needed to test a rolling upgrade from it, but {why}"
    ))
}

/// Replaces `source` with the release's tree: `git archive | tar -x`, whose files keep the
/// commit's time, so cargo finds a tree extracted again as fresh as before.
fn extract(repo: &Path, source: &Path) -> Result<()> {
    let _ = fs::remove_dir_all(source);
    fs::create_dir_all(source).map_err(|e| format!("cannot create {}: {e}", source.display()))?;
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["archive", "--format=tar", COMMIT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git archive: {e}"))?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(source)
        .stdin(archive.stdout.take().ok_or("git archive has no output")?)
        .output()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let git = archive
        .wait_with_output()
        .map_err(|e| format!("git archive: {e}"))?;
    if !git.status.success() || !tar.status.success() {
        return Err(format!(
            "extracting the previous release into {} failed: {}{}",
            source.display(),
            String::from_utf8_lossy(&git.stderr).trim(),
            String::from_utf8_lossy(&tar.stderr).trim()
        ));
    }
    Ok(())
}

/// `cargo build --locked --bins` of the tree at `source` into `build`, its output in `log`.
fn cargo_build(source: &Path, build: &Path, log: &Path) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let status = Command::new(cargo)
        .args(["build", "--locked", "--bins", "--target-dir"])
        .arg(build)
        .current_dir(source)
        // The running test's cargo settings are not the release's.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let said = fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = said.lines().rev().take(30).collect();
    Err(format!(
        "building the previous release {VERSION} in {} failed ({status}); the end of {}:\n{}",
        source.display(),
        log.display(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}
