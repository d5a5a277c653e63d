//! Test modules and the helpers they share.

mod agent_calls;
mod chaos_checker;
mod cli;
mod e2e;
mod examples;
mod files;
mod invalid;
mod schema;
mod testbed;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The machine's CPUs, as the tests share them. A timed assertion with a tight bound (the
/// package test's 50 ms switchover) measures with the machine to itself, as a benchmark would:
/// every test that boots a bed holds this lock shared until its thread ends, and such a
/// measurement takes it exclusively. std's `RwLock` makes new readers wait while a writer
/// waits, so the measurement gets its turn as soon as the beds running now are down.
static MACHINE: RwLock<()> = RwLock::new(());

thread_local! {
    /// This test's share (libtest runs every test on a thread of its own).
    static SHARE: RefCell<Option<RwLockReadGuard<'static, ()>>> = const { RefCell::new(None) };
    /// This test's hold of the whole machine, when it asked for it until its end.
    static ALONE: RefCell<Option<RwLockWriteGuard<'static, ()>>> = const { RefCell::new(None) };
}

/// Marks this test as using the machine (booting a bed) until it ends. A test that calls
/// [`machine_to_myself`] must not call this: it would wait for itself.
pub fn sharing_the_machine() {
    if ALONE.with(|alone| alone.borrow().is_some()) {
        return;
    }
    SHARE.with(|share| {
        share
            .borrow_mut()
            .get_or_insert_with(|| MACHINE.read().unwrap_or_else(PoisonError::into_inner));
    });
}

/// Waits until no other test uses the machine and keeps them waiting while the guard lives.
pub fn machine_to_myself() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(PoisonError::into_inner)
}

/// Waits until no other test uses the machine and keeps it to this test until the test ends
/// (for a test whose every phase is a measurement, such as a flood at full speed: on two
/// cores, another test's hosts would take the CPU the flooded agent needs). Call it before
/// booting the bed.
pub fn machine_to_myself_until_the_end() {
    ALONE.with(|alone| {
        alone.borrow_mut().get_or_insert_with(machine_to_myself);
    });
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a built binary of this package in `dir` and returns its output.
pub fn run(bin: &str, dir: &Path, args: &[&str]) -> Output {
    let exe = match bin {
        "haagentctl" => env!("CARGO_BIN_EXE_haagentctl"),
        "haagent" => env!("CARGO_BIN_EXE_haagent"),
        other => panic!("unknown binary {other}"),
    };
    Command::new(exe)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {exe}: {e}"))
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Files in `dir` with extension `ext`, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("haagent-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
