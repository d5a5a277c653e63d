//! The cluster manifest: one YAML file, identical on every node.
//!
//! Read in two layers: [`raw`] mirrors the YAML (serde), [`validate`] turns it into the domain
//! types of [`model`], reporting every problem at once with its line, column, YAML path and a
//! fix. [`check`] adds the checks that only make sense on a node (key file, interfaces) and is
//! shared by `haagentctl validate` and `haagent --check-config`. The input may be hostile:
//! every size is bounded ([`limits`]), every number checked, every message clipped, and the
//! work is near-linear in the text's size.

pub mod check;
pub mod compare;
mod decode;
pub mod diag;
pub mod duration;
mod host;
pub mod limits;
pub mod model;
pub mod raw;
pub mod reference;
pub mod schema;
mod shape;
pub mod stop_budget;
mod syntax;
pub mod tree;
mod unknown;
pub mod validate;

use std::io;
use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Located, Severity};
pub use model::Manifest;
use tree::Tree;

use crate::fsguard;

/// Default manifest location.
pub const DEFAULT_PATH: &str = "/etc/haagent/cluster.yaml";

/// The outcome of reading a manifest text: the manifest if it had no error, and every problem
/// (errors and warnings) in file order.
#[derive(Debug)]
pub struct Report {
    /// The validated manifest, when there was no error.
    pub manifest: Option<Manifest>,
    /// Problems in file order.
    pub problems: Vec<Located>,
    /// Positions of the text's nodes, for problems found later (host checks).
    pub(crate) tree: Option<Tree>,
}

impl Report {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }
}

/// Why a manifest could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file's owner or mode would let someone other than root change it.
    #[error("refusing manifest {path}: {reason}")]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// What is wrong and the fix.
        reason: String,
    },
    /// The file has errors; each is in `problems`.
    #[error("manifest {path} has {count} error(s)", count = problems.iter().filter(|p| p.severity == Severity::Error).count())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Located>,
    },
}

/// Reads a manifest file's bytes: a regular file (not a symbolic link, device or FIFO) of at
/// most 1 MiB, whoever owns it (see [`load_trusted`] for the daemon's rules; [`parse_bytes`]
/// tells where any byte is not UTF-8).
pub fn read(path: &Path) -> Result<Vec<u8>, ManifestError> {
    fsguard::read(path, &fsguard::MANIFEST)
        .map(|c| c.bytes)
        .map_err(|e| ManifestError::Unreadable {
            path: path.to_owned(),
            source: e.into_io(),
        })
}

/// Reads and validates a manifest file; on success also returns its warnings.
pub fn load(path: &Path) -> Result<(Manifest, Vec<Located>), ManifestError> {
    validated(path, &read(path)?)
}

/// [`load`] for the daemon, which starts what the manifest names as root: the file must also
/// be owned by root and not writable by group or others.
pub fn load_trusted(path: &Path) -> Result<(Manifest, Vec<Located>), ManifestError> {
    let fail = |e: fsguard::FileError| ManifestError::Unreadable {
        path: path.to_owned(),
        source: e.into_io(),
    };
    let contents = fsguard::read(path, &fsguard::MANIFEST).map_err(fail)?;
    let flaws = contents.flaws(path, &fsguard::MANIFEST);
    if !flaws.is_empty() {
        return Err(ManifestError::Untrusted {
            path: path.to_owned(),
            reason: fsguard::untrusted(&flaws).to_string(),
        });
    }
    validated(path, &contents.bytes)
}

fn validated(path: &Path, bytes: &[u8]) -> Result<(Manifest, Vec<Located>), ManifestError> {
    let report = parse_bytes(bytes);
    match report.manifest {
        Some(m) => Ok((m, report.problems)),
        None => Err(ManifestError::Invalid {
            path: path.to_owned(),
            problems: report.problems,
        }),
    }
}

/// Parses and validates a manifest file's bytes: text that is not UTF-8 is an error located at
/// its first bad byte.
pub fn parse_bytes(bytes: &[u8]) -> Report {
    match syntax::utf8(bytes) {
        Ok(text) => parse(text),
        Err(d) => finish(None, vec![d], None),
    }
}

/// Parses and validates a manifest text.
pub fn parse(text: &str) -> Report {
    let tree = Tree::parse(text);
    let (raw, mut problems) = decode::decode(text, tree.as_ref());
    let tree = tree.ok();
    let manifest = raw.and_then(|raw| {
        let (manifest, found) = validate::validate(&raw);
        problems.extend(found);
        manifest
    });
    finish(manifest, problems, tree)
}

/// Locates and sorts the problems; drops the manifest if any of them is an error.
pub(crate) fn finish(
    manifest: Option<Manifest>,
    problems: Vec<Diagnostic>,
    tree: Option<Tree>,
) -> Report {
    let mut located: Vec<Located> = problems
        .into_iter()
        .map(|d| d.locate(tree.as_ref()))
        .collect();
    diag::sort(&mut located);
    let has_error = located.iter().any(|p| p.severity == Severity::Error);
    Report {
        manifest: manifest.filter(|_| !has_error),
        problems: located,
        tree,
    }
}

#[cfg(test)]
mod tests;
