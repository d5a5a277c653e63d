//! Checks that only make sense on a node that will use the manifest: its key file and the
//! interfaces its links and VIPs name.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::diag::Diagnostic;
use super::model::{KeySource, Manifest, ResourceKind};
use super::tree::YamlPath;
use crate::auth::KeyRing;

/// Where the host checks look; tests point them at their own directories.
pub struct Host<'a> {
    /// Directory holding one entry per network interface (`/sys/class/net`).
    pub net_dir: &'a Path,
    /// `$CREDENTIALS_DIRECTORY`, when running under systemd with credentials.
    pub credentials_dir: Option<&'a Path>,
}

impl Host<'_> {
    /// Every problem of this host for running node `node`.
    pub fn check(&self, m: &Manifest, node: &str) -> Vec<Diagnostic> {
        let mut out = self.key_source(&m.auth);
        let root = YamlPath::root();
        for (i, link) in m.heartbeat.links.iter().enumerate() {
            if let Some(ifname) = &link.interface {
                out.extend(self.interface(
                    root.key("heartbeat").key("links").index(i).key("interface"),
                    ifname,
                ));
            }
        }
        for (gname, g) in m
            .groups
            .iter()
            .filter(|(_, g)| g.nodes.iter().any(|n| n == node))
        {
            for (i, r) in g.resources.iter().enumerate() {
                if let ResourceKind::Vip(v) = &r.kind {
                    let path = root
                        .key("groups")
                        .key(gname)
                        .key("resources")
                        .index(i)
                        .key("interface");
                    out.extend(self.interface(path, &v.interface));
                }
            }
        }
        out
    }

    fn interface(&self, path: YamlPath, ifname: &str) -> Option<Diagnostic> {
        if self.net_dir.join(ifname).exists() {
            return None;
        }
        Some(
            Diagnostic::error(path, format!("this host has no interface `{ifname}`"))
                .hint("`ip link` lists this host's interfaces; rename it here or on the host"),
        )
    }

    fn key_source(&self, source: &KeySource) -> Vec<Diagnostic> {
        let root = YamlPath::root().key("auth");
        match source {
            KeySource::KeyFile(file) => key_file(root.key("key_file"), file),
            KeySource::Credential(name) => match self.credentials_dir {
                Some(dir) => key_text(root.key("credential"), &dir.join(name)),
                // Outside the service there is no credential to read; the daemon checks it.
                None => Vec::new(),
            },
        }
    }
}

fn key_file(path: YamlPath, file: &Path) -> Vec<Diagnostic> {
    let meta = match fs::metadata(file) {
        Ok(m) => m,
        Err(e) => {
            let hint = format!(
                "create it with `haagentctl keygen {}` and copy it to every node",
                file.display()
            );
            return vec![
                Diagnostic::error(
                    path,
                    format!("cannot read key file {}: {e}", file.display()),
                )
                .hint(hint),
            ];
        }
    };
    let mut out = Vec::new();
    if meta.mode() & 0o077 != 0 {
        out.push(
            Diagnostic::error(
                path.clone(),
                format!(
                    "key file {} is readable by others (mode {:04o})",
                    file.display(),
                    meta.mode() & 0o7777
                ),
            )
            .hint(format!("run `chmod 600 {}`", file.display())),
        );
    }
    if meta.uid() != 0 {
        out.push(
            Diagnostic::error(
                path.clone(),
                format!(
                    "key file {} is owned by uid {}, not root",
                    file.display(),
                    meta.uid()
                ),
            )
            .hint(format!("run `chown root:root {}`", file.display())),
        );
    }
    out.extend(key_text(path, file));
    out
}

fn key_text(path: YamlPath, file: &Path) -> Vec<Diagnostic> {
    let text = match fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            return vec![Diagnostic::error(
                path,
                format!("cannot read key file {}: {e}", file.display()),
            )];
        }
    };
    match KeyRing::parse(&text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|e| {
                Diagnostic::error(path.clone(), format!("key file {}: {e}", file.display()))
                    .hint("each line is `ID HEX-SECRET` with at least 32 bytes of secret; `haagentctl keygen` writes one")
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn messages(d: Vec<Diagnostic>) -> Vec<String> {
        d.into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn key_file_must_exist_be_private_and_parse() {
        let dir = std::env::temp_dir().join(format!("haagent-host-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("authkey");
        let p = YamlPath::root();
        assert!(messages(key_file(p.clone(), &file))[0].contains("cannot read key file"));

        fs::write(&file, "1 0011\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let found = messages(key_file(p.clone(), &file));
        assert!(
            found
                .iter()
                .any(|m| m.contains("readable by others (mode 0644)")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m.contains("line 1: the secret of key 1 has 2 bytes")),
            "{found:?}"
        );

        crate::auth::keygen(&file, crate::auth::KeygenMode::Overwrite).unwrap();
        let uid = fs::metadata(&file).unwrap().uid();
        let found = messages(key_file(p, &file));
        assert_eq!(found.is_empty(), uid == 0, "{found:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
