//! `haagentctl keygen`: writes a key file with a fresh key, or rotates one in. The file is
//! replaced whole and atomically (a temporary file beside it, synced, renamed over it, the
//! directory synced), so a node never reads half a key file; a symbolic link is followed and
//! its target replaced, so the link stays a link.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Key, KeyRing, MIN_SECRET_BYTES, encode_hex};
use crate::fsguard;

/// How `keygen` treats an existing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeygenMode {
    /// Refuse to touch an existing file.
    Create,
    /// Replace an existing file with a single new key.
    Overwrite,
    /// Put a new key first (it signs) and keep the existing ones (still accepted).
    Rotate,
}

/// Writes a key file with a fresh random key, mode 0600; returns the new key's id.
pub fn keygen(path: &Path, mode: KeygenMode) -> io::Result<u8> {
    let target = target(path, mode)?;
    let existing = match mode {
        KeygenMode::Rotate => existing_keys(&target)?,
        _ => Vec::new(),
    };
    let id = (1..=255u8)
        .find(|id| existing.iter().all(|k| k.id != *id))
        .ok_or_else(|| io::Error::other("all 255 key ids are in use"))?;
    let mut secret = vec![0u8; MIN_SECRET_BYTES];
    File::open("/dev/urandom")?.read_exact(&mut secret)?;
    let mut text = String::from(
        "# haagent heartbeat keys: ID HEX-SECRET; the first key signs, all are accepted\n",
    );
    for key in std::iter::once(&Key::new(id, secret)).chain(&existing) {
        let _ = writeln!(text, "{} {}", key.id, encode_hex(&key.secret));
    }
    replace(&target, text.as_bytes())?;
    Ok(id)
}

/// The file to write: `path` itself, or the file a symbolic link at `path` leads to.
fn target(path: &Path, mode: KeygenMode) -> io::Result<PathBuf> {
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && mode != KeygenMode::Rotate => {
            return Ok(path.to_owned());
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let p = path.display();
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "{p} does not exist, so there is no key to rotate; create it with `haagentctl keygen {p}`"
                ),
            ));
        }
        other => other?,
    };
    if mode == KeygenMode::Create {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists; use --force to replace it or --rotate to add a key",
                path.display()
            ),
        ));
    }
    let target = if meta.file_type().is_symlink() {
        fs::canonicalize(path).map_err(|e| {
            let to = fs::read_link(path).map_or_else(|_| "?".into(), |t| t.display().to_string());
            io::Error::new(
                e.kind(),
                format!(
                    "{} is a symbolic link to {to}, which cannot be opened ({e}); fix the link or remove it",
                    path.display()
                ),
            )
        })?
    } else {
        path.to_owned()
    };
    // Never rename a key file over a device or a directory.
    if !fs::metadata(&target)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", target.display()),
        ));
    }
    Ok(target)
}

fn existing_keys(file: &Path) -> io::Result<Vec<Key>> {
    // Who owns it is not judged here (the new file is 0600 and the caller's); what it is, is.
    let text = fsguard::read(file, &fsguard::KEY_FILE)
        .and_then(|c| c.into_text(file, &fsguard::KEY_FILE))
        .map_err(|e| {
            let text = e.to_string();
            io::Error::new(e.into_io().kind(), text)
        })?;
    let ring = KeyRing::parse(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {}", file.display(), e[0]),
        )
    })?;
    Ok(ring.keys)
}

/// Replaces `target` with `data`, readable by its owner only, through a temporary file in the
/// same directory (a rename is atomic only within one file system).
fn replace(target: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = target.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", target.display()),
        )
    })?;
    let tmp = dir.join(format!(".{}.keygen-tmp", name.to_string_lossy()));
    let mut f = create_temp(&tmp)?;
    let written = f
        .write_all(data)
        .and_then(|()| f.sync_all())
        .and_then(|()| fs::rename(&tmp, target));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename itself is durable only once the directory is.
    File::open(dir)?.sync_all()
}

/// Creates the temporary file; one left by an earlier keygen that died is ours to remove when
/// it is a plain file of this user, anything else is named with the fix.
fn create_temp(tmp: &Path) -> io::Result<File> {
    let create = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(tmp)
    };
    match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = fs::symlink_metadata(tmp)?;
            let me = rustix::process::geteuid().as_raw();
            let why = if !meta.file_type().is_file() {
                "it is not a plain file".to_owned()
            } else if meta.uid() != me {
                format!("it belongs to uid {}, not to this user", meta.uid())
            } else {
                String::new()
            };
            if !why.is_empty() {
                let t = tmp.display();
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "temporary file {t} is in the way ({why}); remove it with `rm {t}` if no keygen is running"
                    ),
                ));
            }
            fs::remove_file(tmp)?;
            create()
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("haagent-keygen-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn ring(path: &Path) -> KeyRing {
        KeyRing::parse(&fs::read_to_string(path).unwrap()).unwrap()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// The directory's entries, names only, sorted.
    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_rotates_and_refuses_to_clobber() {
        let dir = scratch("modes");
        let path = dir.join("authkey");
        assert_eq!(keygen(&path, KeygenMode::Create).unwrap(), 1);
        assert_eq!(mode(&path), 0o600);
        let first = ring(&path);
        let e = keygen(&path, KeygenMode::Create).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(
            e.to_string()
                .contains("use --force to replace it or --rotate"),
            "{e}"
        );
        assert_eq!(keygen(&path, KeygenMode::Rotate).unwrap(), 2);
        let rotated = ring(&path);
        assert_eq!(rotated.signing().id, 2);
        assert_eq!(rotated.get(1), Some(first.signing()));
        assert_ne!(rotated.signing().secret, first.signing().secret);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        keygen(&path, KeygenMode::Overwrite).unwrap();
        assert_eq!((ring(&path).keys().len(), mode(&path)), (1, 0o600));
        assert_eq!(entries(&dir), ["authkey"], "no temporary file is left");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotating_through_a_link_replaces_the_target_and_keeps_the_link() {
        let dir = scratch("link");
        fs::create_dir_all(dir.join("real")).unwrap();
        let real = dir.join("real/authkey");
        keygen(&real, KeygenMode::Create).unwrap();
        let link = dir.join("authkey");
        symlink("real/authkey", &link).unwrap();
        assert_eq!(keygen(&link, KeygenMode::Rotate).unwrap(), 2);
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("real/authkey"));
        assert_eq!(ring(&real).keys().len(), 2);
        assert_eq!(mode(&real), 0o600);
        keygen(&link, KeygenMode::Overwrite).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(ring(&real).keys().len(), 1);
        assert_eq!(entries(&dir.join("real")), ["authkey"]);
        assert_eq!(entries(&dir), ["authkey", "real"]);
        // A link without keygen's flags is still an existing file.
        let e = keygen(&link, KeygenMode::Create).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let dangling = dir.join("dangling");
        symlink("nowhere/authkey", &dangling).unwrap();
        let e = keygen(&dangling, KeygenMode::Overwrite).unwrap_err();
        assert!(
            e.to_string()
                .contains("is a symbolic link to nowhere/authkey, which cannot be opened"),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stale_temporary_file_is_removed_when_ours_and_named_otherwise() {
        let dir = scratch("stale");
        let path = dir.join("authkey");
        keygen(&path, KeygenMode::Create).unwrap();
        let tmp = dir.join(".authkey.keygen-tmp");
        fs::write(&tmp, "half a key").unwrap();
        assert_eq!(keygen(&path, KeygenMode::Rotate).unwrap(), 2);
        assert_eq!(entries(&dir), ["authkey"], "the leftover was removed");

        // Not ours: a link someone put there is named, with the fix, and left alone.
        symlink("/etc/passwd", &tmp).unwrap();
        let e = keygen(&path, KeygenMode::Rotate).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            e.to_string(),
            format!(
                "temporary file {0} is in the way (it is not a plain file); remove it with `rm {0}` if no keygen is running",
                tmp.display()
            )
        );
        assert!(fs::symlink_metadata(&tmp).unwrap().file_type().is_symlink());
        assert_eq!(ring(&path).keys().len(), 2, "the key file is untouched");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotating_refuses_a_file_that_is_not_a_key_file() {
        let dir = scratch("bad");
        let path = dir.join("authkey");
        let e = keygen(&path, KeygenMode::Rotate).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(
            e.to_string().ends_with(&format!(
                "create it with `haagentctl keygen {}`",
                path.display()
            )),
            "{e}"
        );
        fs::write(&path, vec![b'#'; 100_000]).unwrap();
        let e = keygen(&path, KeygenMode::Rotate).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("it is larger than the 64 KiB limit"),
            "{e}"
        );
        fs::write(&path, "1 abc\n").unwrap();
        let e = keygen(&path, KeygenMode::Rotate).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 1: the secret of key 1 is not hexadecimal"),
            "{e}"
        );
        for mode in [KeygenMode::Rotate, KeygenMode::Overwrite] {
            let e = keygen(Path::new("/dev/null"), mode).unwrap_err();
            assert_eq!(e.to_string(), "/dev/null is not a regular file");
            let e = keygen(&dir, mode).unwrap_err();
            assert!(e.to_string().ends_with("is not a regular file"), "{e}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
