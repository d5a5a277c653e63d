//! Reading the files the agent trusts: the manifest (it names the units root starts) and the
//! heartbeat keys. A file is opened without following a symbolic link, checked through the
//! open descriptor (a regular file, its owner, its mode) and read whole up to a cap: a device,
//! a FIFO or a runaway file is refused, never truncated or waited on.
//!
//! The bottom layer: it knows files and their rules, nothing of manifests, engines or drivers.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Who may own a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Root only.
    Root,
    /// Root or the user this process runs as (systemd hands a service's credentials to its
    /// user).
    RootOrSelf,
}

/// What one kind of file must be.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Its name in messages.
    pub what: &'static str,
    /// The largest size accepted, in bytes.
    pub cap: u64,
    /// Who may own it.
    pub owner: Owner,
    /// Mode bits it must not have.
    pub forbidden: u32,
    /// The `chmod` that clears them.
    pub chmod: &'static str,
    /// What to do instead of a symbolic link.
    pub link_fix: &'static str,
}

/// The manifest: root's, not writable by group or others, at most 1 MiB.
pub const MANIFEST: Rules = Rules {
    what: "manifest",
    cap: 1 << 20,
    owner: Owner::Root,
    forbidden: 0o022,
    chmod: "chmod go-w",
    link_fix: "point the manifest (`--manifest`, HAAGENT_MANIFEST) at the real file",
};

/// A key file: root's, neither readable nor writable by group or others, at most 64 KiB.
pub const KEY_FILE: Rules = Rules {
    what: "key file",
    cap: 64 << 10,
    owner: Owner::Root,
    forbidden: 0o077,
    chmod: "chmod 600",
    link_fix: "point auth.key_file at the real file",
};

/// A systemd credential: systemd 252 writes it mode 0400, owned by root or by the service's
/// `User=` (its ramfs has no ACLs, so it chowns), at most 64 KiB.
pub const CREDENTIAL: Rules = Rules {
    what: "credential",
    cap: 64 << 10,
    owner: Owner::RootOrSelf,
    forbidden: 0o077,
    chmod: "chmod 400",
    link_fix: "load it with LoadCredential= in haagent.service",
};

/// Why a file was refused; reads on after "cannot read FILE: ".
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The system said no.
    #[error(transparent)]
    Io(io::Error),
    /// A symbolic link, with what to do instead.
    #[error("it is a symbolic link; {0}")]
    Link(&'static str),
    /// A directory, device, FIFO or socket.
    #[error("it is a {0}, not a regular file")]
    NotRegular(&'static str),
    /// More than the cap.
    #[error("it is larger than the {0} limit")]
    TooLarge(String),
    /// Not UTF-8.
    #[error("it is not UTF-8 text")]
    NotText,
    /// Owner or mode break the rules.
    #[error("it is {flaws}; run `{fix}`")]
    Untrusted {
        /// Each flaw, joined.
        flaws: String,
        /// The commands that fix them.
        fix: String,
    },
}

/// A file that was refused, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {reason}", path.display())]
pub struct FileError {
    /// Its kind, from [`Rules::what`].
    pub what: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Why (in the message, so not also a `source`).
    pub reason: Refusal,
}

impl FileError {
    /// The reason as an `io::Error` of a fitting kind, for callers that speak `io::Error`.
    pub fn into_io(self) -> io::Error {
        let kind = match &self.reason {
            Refusal::Io(e) => e.kind(),
            Refusal::Untrusted { .. } => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::InvalidData,
        };
        match self.reason {
            Refusal::Io(e) => e,
            other => io::Error::new(kind, other),
        }
    }
}

/// One thing wrong with a file's owner or mode, and its fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flaw {
    /// What is wrong, e.g. `readable by others (mode 0644)`.
    pub text: String,
    /// The command that fixes it.
    pub fix: String,
}

/// A file read whole, with the owner and mode of the descriptor it was read from.
pub struct Contents {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Owner uid.
    pub uid: u32,
    /// Permission bits.
    pub mode: u32,
}

impl std::fmt::Debug for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bytes may be secrets: their length only.
        write!(
            f,
            "Contents {{ bytes: <{} bytes>, uid: {}, mode: {:04o} }}",
            self.bytes.len(),
            self.uid,
            self.mode
        )
    }
}

/// Reads `path` under `rules` without judging its owner or mode (see [`Contents::flaws`]).
pub fn read(path: &Path, rules: &Rules) -> Result<Contents, FileError> {
    let fail = |reason| FileError {
        what: rules.what,
        path: path.to_owned(),
        reason,
    };
    // Looked at before opening: opening a device can have effects of its own (a watchdog).
    let before = fs::symlink_metadata(path).map_err(|e| fail(Refusal::Io(e)))?;
    kind(&before, rules).map_err(fail)?;
    let file = open(path, rules).map_err(fail)?;
    // The descriptor, not the path: what was checked is what is read.
    let meta = file.metadata().map_err(|e| fail(Refusal::Io(e)))?;
    kind(&meta, rules).map_err(fail)?;
    let bytes = read_capped(file, meta.len(), rules.cap).map_err(fail)?;
    Ok(Contents {
        bytes,
        uid: meta.uid(),
        mode: meta.mode() & 0o7777,
    })
}

/// Reads `path` and refuses it unless its owner and mode follow `rules` and it is UTF-8.
pub fn read_trusted(path: &Path, rules: &Rules) -> Result<String, FileError> {
    let contents = read(path, rules)?;
    let flaws = contents.flaws(path, rules);
    if !flaws.is_empty() {
        return Err(FileError {
            what: rules.what,
            path: path.to_owned(),
            reason: untrusted(&flaws),
        });
    }
    contents.into_text(path, rules)
}

/// All flaws as one refusal.
pub fn untrusted(flaws: &[Flaw]) -> Refusal {
    let texts: Vec<&str> = flaws.iter().map(|f| f.text.as_str()).collect();
    let fixes: Vec<&str> = flaws.iter().map(|f| f.fix.as_str()).collect();
    Refusal::Untrusted {
        flaws: texts.join(" and "),
        fix: fixes.join(" && "),
    }
}

impl Contents {
    /// What is wrong with the owner and the mode under `rules`, each with its fix.
    pub fn flaws(&self, path: &Path, rules: &Rules) -> Vec<Flaw> {
        flaws(self.uid, self.mode, path, rules)
    }

    /// The bytes as text.
    pub fn into_text(self, path: &Path, rules: &Rules) -> Result<String, FileError> {
        String::from_utf8(self.bytes).map_err(|_| FileError {
            what: rules.what,
            path: path.to_owned(),
            reason: Refusal::NotText,
        })
    }
}

/// What is wrong with an owner and permission bits under `rules`, each with its fix.
pub fn flaws(uid: u32, mode: u32, path: &Path, rules: &Rules) -> Vec<Flaw> {
    let mut out = Vec::new();
    let owner_ok = uid == 0
        || (rules.owner == Owner::RootOrSelf && uid == rustix::process::geteuid().as_raw());
    if !owner_ok {
        out.push(Flaw {
            text: format!("owned by uid {uid} (not root)"),
            fix: format!("chown root:root {}", path.display()),
        });
    }
    let open = mode & rules.forbidden;
    if open != 0 {
        out.push(Flaw {
            text: format!("{} by others (mode {mode:04o})", access(open)),
            fix: format!("{} {}", rules.chmod, path.display()),
        });
    }
    out
}

fn open(path: &Path, rules: &Rules) -> Result<File, Refusal> {
    // O_NONBLOCK: a FIFO put in place after the look above opens at once (and is refused)
    // instead of waiting for a writer; reads of a regular file ignore it. std adds O_CLOEXEC.
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => Refusal::Link(rules.link_fix),
            _ => Refusal::Io(e),
        })
}

fn kind(meta: &Metadata, rules: &Rules) -> Result<(), Refusal> {
    let t = meta.file_type();
    let name = if t.is_file() {
        return Ok(());
    } else if t.is_symlink() {
        return Err(Refusal::Link(rules.link_fix));
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    };
    Err(Refusal::NotRegular(name))
}

/// Reads at most `cap` bytes; one more means the file is too large.
fn read_capped(file: File, len: u64, cap: u64) -> Result<Vec<u8>, Refusal> {
    let too_large = || Refusal::TooLarge(size(cap));
    if len > cap {
        return Err(too_large());
    }
    // The size may have changed since fstat; the cap holds either way.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Refusal::Io)?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

fn access(bits: u32) -> String {
    let words: Vec<&str> = [
        (0o044, "readable"),
        (0o022, "writable"),
        (0o011, "executable"),
    ]
    .into_iter()
    .filter(|(mask, _)| bits & mask != 0)
    .map(|(_, word)| word)
    .collect();
    words.join(" and ")
}

#[cfg(test)]
mod tests;
