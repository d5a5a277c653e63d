//! What the agent reads and checks before it joins the cluster: the manifest, the key ring, the
//! generation number kept in the state directory, and the state of the resources this node may
//! hold (what an earlier run left behind, units enabled at boot).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::auth::KeyRing;
use crate::fsguard;
use crate::manifest::model::{KeySource, ResourceKind};
use crate::manifest::{self, Manifest, ManifestError};

use super::AgentError;

/// Loads and validates the manifest at `path` for node `me`; every problem is logged. The file
/// must be root's and not writable by others, a regular file of at most 1 MiB (`fsguard`).
pub fn manifest(path: &Path, me: &str) -> Result<Manifest, AgentError> {
    let name = path.display().to_string();
    let (m, warnings) = match manifest::load_trusted(path) {
        Ok(ok) => ok,
        Err(ManifestError::Invalid { problems, .. }) => {
            for p in &problems {
                let text = p.render(&name);
                tracing::error!(manifest = %name, "{}", text.trim_end());
            }
            return Err(AgentError::Manifest(format!(
                "{name} has {} problem(s); `haagentctl validate {name}` lists them",
                problems.len()
            )));
        }
        Err(e) => {
            // In the message itself: a refused reload's own line does not say why.
            tracing::error!(manifest = %name, "{e}");
            return Err(AgentError::Manifest(e.to_string()));
        }
    };
    for w in &warnings {
        tracing::warn!(manifest = %name, "{}", w.render(&name).trim_end());
    }
    if !m.nodes.contains_key(me) {
        let known: Vec<&str> = m.nodes.keys().map(String::as_str).collect();
        return Err(AgentError::Manifest(format!(
            "this node `{me}` is not in {name} (nodes: {}); set the hostname or `haagent --node NAME`",
            known.join(", ")
        )));
    }
    Ok(m)
}

/// Reads the key ring the manifest points at: a key file must be root's and private to it
/// (mode 0600 or stricter), a credential as systemd writes it (mode 0400); either a regular
/// file of at most 64 KiB (`fsguard`).
pub fn keys(source: &KeySource) -> Result<KeyRing, AgentError> {
    let (path, rules) = match source {
        KeySource::KeyFile(p) => (p.clone(), &fsguard::KEY_FILE),
        KeySource::Credential(name) => {
            let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                AgentError::Keys(format!(
                    "auth.credential `{name}` needs LoadCredential={name}:/path/to/key in haagent.service"
                ))
            })?;
            (Path::new(&dir).join(name), &fsguard::CREDENTIAL)
        }
    };
    read_keys(&path, rules).map_err(|e| {
        // In the message itself: a refused reload's own line does not say why.
        tracing::error!(file = %path.display(), "{e}");
        AgentError::Keys(e)
    })
}

fn read_keys(path: &Path, rules: &fsguard::Rules) -> Result<KeyRing, String> {
    let text = fsguard::read_trusted(path, rules).map_err(|e| e.to_string())?;
    KeyRing::parse(&text).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("{} {}: {}", rules.what, path.display(), list.join("; "))
    })
}

/// Generations stay below this: a run numbers its datagrams from `generation << 32`.
const MAX_GENERATION: u64 = (1 << 32) - 1;

/// The next generation of this node: one more than the last start's, written (and synced)
/// before any datagram goes out. No wall clock is read. When the file is missing or unreadable
/// (a lost state directory), a random one: it may be lower than what peers remember, and they
/// follow it once it acknowledges them (`engine/runs.rs`), so nothing waits on it; a higher
/// one keeps peers of the previous release, which take only higher generations, following too.
pub fn next_generation(state_dir: &Path) -> io::Result<u64> {
    let file = state_dir.join("generation");
    let last = match fs::read_to_string(&file) {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n < MAX_GENERATION => Some(n),
            _ => {
                tracing::warn!(file = %file.display(), "the generation file is unreadable: starting from a random generation");
                None
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let next = match last {
        Some(n) => n + 1,
        None => random_generation()?,
    };
    fs::create_dir_all(state_dir)?;
    let tmp = state_dir.join("generation.tmp");
    let mut f = fs::File::create(&tmp)?;
    writeln!(f, "{next}")?;
    f.sync_all()?;
    fs::rename(&tmp, &file)?;
    Ok(next)
}

/// A random generation in the upper half of the range (so that a long life of restarts fits
/// above it), from the kernel's generator.
fn random_generation() -> io::Result<u64> {
    use std::io::Read as _;
    let mut b = [0u8; 4];
    fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    let r = u64::from(u32::from_be_bytes(b));
    Ok((1 << 31) + r % (1 << 30))
}

/// The units of every group this node may hold, with their group.
pub fn local_units(m: &Manifest, me: &str) -> Vec<(String, String)> {
    m.resources_of(me)
        .filter_map(|(group, _, r)| match &r.kind {
            ResourceKind::Unit(u) => Some((group.to_owned(), u.clone())),
            ResourceKind::Vip(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::auth::{KeygenMode, keygen};

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("haagent-setup-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn root() -> bool {
        rustix::process::geteuid().is_root()
    }

    /// The message of a refusal, which must name the file.
    fn refusal(r: Result<impl std::fmt::Debug, AgentError>, file: &Path) -> String {
        let e = r.unwrap_err().to_string();
        assert!(e.contains(&file.display().to_string()), "{e}");
        e
    }

    #[test]
    fn a_manifest_open_to_others_linked_or_not_a_file_is_refused() {
        let dir = scratch("manifest");
        let file = dir.join("cluster.yaml");
        fs::write(&file, include_str!("../../examples/two-node-web.yaml")).unwrap();
        chmod(&file, 0o644);
        match manifest(&file, "alpha") {
            Ok(m) => assert!(root() && m.nodes.contains_key("alpha")),
            Err(e) => assert!(!root() && e.to_string().contains("(not root)"), "{e}"),
        }
        chmod(&file, 0o666);
        let e = refusal(manifest(&file, "alpha"), &file);
        assert!(e.contains("writable by others (mode 0666); run `"), "{e}");
        assert!(e.contains(&format!("chmod go-w {}", file.display())), "{e}");

        let link = dir.join("link.yaml");
        symlink(&file, &link).unwrap();
        let e = refusal(manifest(&link, "alpha"), &link);
        assert!(
            e.contains("it is a symbolic link; point the manifest"),
            "{e}"
        );

        let big = dir.join("big.yaml");
        fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
        let e = refusal(manifest(&big, "alpha"), &big);
        assert!(e.contains("larger than the 1 MiB limit"), "{e}");

        let started = Instant::now();
        let zero = Path::new("/dev/zero");
        let e = refusal(manifest(zero, "alpha"), zero);
        assert!(
            e.contains("it is a character device, not a regular file"),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_are_read_only_from_a_private_regular_file() {
        let dir = scratch("keys");
        let file = dir.join("authkey");
        keygen(&file, KeygenMode::Create).unwrap();
        let source = KeySource::KeyFile(file.clone());
        match keys(&source) {
            Ok(ring) => assert!(root() && ring.signing().id == 1),
            Err(e) => assert!(!root() && e.to_string().contains("(not root)"), "{e}"),
        }
        chmod(&file, 0o644);
        let e = refusal(keys(&source), &file);
        assert!(e.contains("readable by others (mode 0644)"), "{e}");
        assert!(e.contains(&format!("chmod 600 {}", file.display())), "{e}");
        chmod(&file, 0o600);

        let link = dir.join("link");
        symlink(&file, &link).unwrap();
        let e = refusal(keys(&KeySource::KeyFile(link.clone())), &link);
        assert!(
            e.contains("it is a symbolic link; point auth.key_file at the real file"),
            "{e}"
        );

        // A credential as systemd 252 writes it: mode 0400, owned by the service's user.
        chmod(&file, 0o400);
        assert_eq!(
            read_keys(&file, &fsguard::CREDENTIAL).unwrap().signing().id,
            1
        );
        chmod(&file, 0o600);
        fs::write(&file, "1 00\n").unwrap();
        chmod(&file, 0o400);
        let e = read_keys(&file, &fsguard::CREDENTIAL).unwrap_err();
        assert!(
            e.starts_with("credential ") && e.contains("line 1: the secret"),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn generations_grow_across_starts_and_a_lost_or_corrupt_file_gives_a_random_one() {
        let dir = std::env::temp_dir().join(format!("haagent-gen-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let a = next_generation(&dir).unwrap();
        assert!((1 << 31..MAX_GENERATION).contains(&a), "{a}");
        assert_eq!(next_generation(&dir).unwrap(), a + 1);
        fs::write(dir.join("generation"), "3\n").unwrap();
        assert_eq!(next_generation(&dir).unwrap(), 4, "no wall clock");
        for bad in ["garbage\n", "18446744073709551615\n", "4294967295\n"] {
            fs::write(dir.join("generation"), bad).unwrap();
            let g = next_generation(&dir).unwrap();
            assert!((1 << 31..MAX_GENERATION).contains(&g), "{bad:?}: {g}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
