//! What the agent reads and checks before it joins the cluster: the manifest, the key ring, the
//! generation number kept in the state directory, and the state of the resources this node may
//! hold (what an earlier run left behind, units enabled at boot).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::auth::KeyRing;
use crate::manifest::model::{KeySource, ResourceKind};
use crate::manifest::{self, Manifest, ManifestError};

use super::AgentError;

/// Loads and validates the manifest at `path` for node `me`; every problem is logged.
pub fn manifest(path: &Path, me: &str) -> Result<Manifest, AgentError> {
    let name = path.display().to_string();
    let (m, warnings) = match manifest::load(path) {
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
        Err(e) => return Err(AgentError::Manifest(e.to_string())),
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

/// Reads the key ring the manifest points at.
pub fn keys(source: &KeySource) -> Result<KeyRing, AgentError> {
    let path = match source {
        KeySource::KeyFile(p) => p.clone(),
        KeySource::Credential(name) => {
            let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                AgentError::Keys(format!(
                    "auth.credential `{name}` needs LoadCredential={name}:/path/to/key in haagent.service"
                ))
            })?;
            Path::new(&dir).join(name)
        }
    };
    let text = fs::read_to_string(&path)
        .map_err(|e| AgentError::Keys(format!("cannot read {}: {e}", path.display())))?;
    KeyRing::parse(&text).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        AgentError::Keys(format!("{}: {}", path.display(), list.join("; ")))
    })
}

/// The next generation of this node: one more than the last start's, and never less than the
/// wall clock in seconds, so a lost state directory cannot make peers take our datagrams for
/// replays. Written (and synced) before any datagram goes out.
pub fn next_generation(state_dir: &Path) -> io::Result<u64> {
    let file = state_dir.join("generation");
    let last = match fs::read_to_string(&file) {
        Ok(text) => text.trim().parse::<u64>().unwrap_or(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let next = (last + 1).max(clock);
    fs::create_dir_all(state_dir)?;
    let tmp = state_dir.join("generation.tmp");
    let mut f = fs::File::create(&tmp)?;
    writeln!(f, "{next}")?;
    f.sync_all()?;
    fs::rename(&tmp, &file)?;
    Ok(next)
}

/// The units of every group this node may hold, with their group and index.
pub fn local_units(m: &Manifest, me: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    for (name, g) in m
        .groups
        .iter()
        .filter(|(_, g)| g.nodes.iter().any(|n| n == me))
    {
        for (i, r) in g.resources.iter().enumerate() {
            if let ResourceKind::Unit(u) = &r.kind {
                out.push((name.clone(), i, u.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_grow_across_starts_and_survive_a_lost_file() {
        let dir = std::env::temp_dir().join(format!("haagent-gen-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let a = next_generation(&dir).unwrap();
        let b = next_generation(&dir).unwrap();
        assert!(b > a);
        fs::write(dir.join("generation"), "3\n").unwrap();
        assert!(next_generation(&dir).unwrap() >= a, "never below the clock");
        fs::remove_dir_all(&dir).unwrap();
    }
}
