//! Checks that only make sense on a node that will use the manifest: the manifest file's and
//! the key file's owner and mode (the rules the agent applies at start and reload, from
//! [`fsguard`]), the keys themselves, and the interfaces its links and VIPs name.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::diag::Diagnostic;
use super::model::{KeySource, Manifest, ResourceKind};
use super::tree::{Pos, YamlPath};
use crate::auth::KeyRing;
use crate::fsguard::{self, Flaw, Rules};

/// Where the host checks look; tests point them at their own directories.
pub struct Host<'a> {
    /// Directory holding one entry per network interface (`/sys/class/net`).
    pub net_dir: &'a Path,
    /// `$CREDENTIALS_DIRECTORY`, when running under systemd with credentials.
    pub credentials_dir: Option<&'a Path>,
    /// The manifest file, whose owner and mode are checked.
    pub manifest: Option<&'a Path>,
}

impl Host<'_> {
    /// Every problem of this host for running node `node`.
    pub fn check(&self, m: &Manifest, node: &str) -> Vec<Diagnostic> {
        let root = YamlPath::root();
        let mut out = self.manifest.map(manifest_file).unwrap_or_default();
        out.extend(self.key_source(&m.auth));
        for (i, link) in m.heartbeat.links.iter().enumerate() {
            if let Some(ifname) = &link.interface {
                out.extend(self.interface(
                    root.key("heartbeat").key("links").index(i).key("interface"),
                    ifname,
                ));
            }
        }
        for (gname, i, r) in m.resources_of(node) {
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
            KeySource::KeyFile(file) => key_file(root.key("key_file"), file, &fsguard::KEY_FILE),
            KeySource::Credential(name) => match self.credentials_dir {
                Some(dir) => key_file(
                    root.key("credential"),
                    &dir.join(name),
                    &fsguard::CREDENTIAL,
                ),
                // Outside the service there is no credential to read; the daemon checks it.
                None => Vec::new(),
            },
        }
    }
}

/// The manifest's owner and mode. It was just read (so it is a regular file, not a link); its
/// metadata is enough for a report, and the agent checks the descriptor it reads itself.
fn manifest_file(file: &Path) -> Vec<Diagnostic> {
    let Ok(meta) = fs::symlink_metadata(file) else {
        return Vec::new();
    };
    let rules = &fsguard::MANIFEST;
    fsguard::flaws(meta.uid(), meta.mode() & 0o7777, file, rules)
        .into_iter()
        .map(|f| {
            let mut d = flawed(YamlPath::root(), file, rules, f);
            // About the file as a whole, not its first key.
            d.pos = Some(Pos::START);
            d
        })
        .collect()
}

fn flawed(path: YamlPath, file: &Path, rules: &Rules, flaw: Flaw) -> Diagnostic {
    Diagnostic::error(
        path,
        format!("{} {} is {}", rules.what, file.display(), flaw.text),
    )
    .hint(format!(
        "run `{}`: the agent refuses it otherwise",
        flaw.fix
    ))
}

fn key_file(path: YamlPath, file: &Path, rules: &Rules) -> Vec<Diagnostic> {
    let contents = match fsguard::read(file, rules) {
        Ok(c) => c,
        Err(e) => {
            let missing = matches!(&e.reason, fsguard::Refusal::Io(io) if io.kind() == std::io::ErrorKind::NotFound);
            let mut d = Diagnostic::error(path, format!("cannot read {e}"));
            if missing && rules.what == fsguard::KEY_FILE.what {
                d = d.hint(format!(
                    "create it with `haagentctl keygen {}` and copy it to every node",
                    file.display()
                ));
            }
            return vec![d];
        }
    };
    let mut out: Vec<Diagnostic> = contents
        .flaws(file, rules)
        .into_iter()
        .map(|f| flawed(path.clone(), file, rules, f))
        .collect();
    match contents.into_text(file, rules) {
        Ok(text) => out.extend(key_text(&path, file, rules, &text)),
        Err(e) => out.push(Diagnostic::error(path, e.to_string())),
    }
    out
}

fn key_text(path: &YamlPath, file: &Path, rules: &Rules, text: &str) -> Vec<Diagnostic> {
    match KeyRing::parse(text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|e| {
                Diagnostic::error(path.clone(), format!("{} {}: {e}", rules.what, file.display()))
                    .hint("each line is `ID HEX-SECRET` with at least 32 bytes of secret; `haagentctl keygen` writes one")
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    fn messages(d: Vec<Diagnostic>) -> Vec<String> {
        d.into_iter().map(|d| d.message).collect()
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("haagent-host-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn key_file_must_exist_be_private_and_parse() {
        let dir = scratch("key");
        let file = dir.join("authkey");
        let p = YamlPath::root();
        let rules = &fsguard::KEY_FILE;
        let missing = key_file(p.clone(), &file, rules);
        assert!(
            missing[0].message.starts_with("cannot read key file"),
            "{missing:?}"
        );
        assert!(
            missing[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("haagentctl keygen")
        );

        fs::write(&file, "1 0011\n").unwrap();
        chmod(&file, 0o644);
        let found = key_file(p.clone(), &file, rules);
        let open = found
            .iter()
            .find(|d| d.message.ends_with("is readable by others (mode 0644)"))
            .unwrap_or_else(|| panic!("{found:?}"));
        let fix = format!("run `chmod 600 {}`", file.display());
        assert!(open.hint.as_deref().unwrap().starts_with(&fix), "{open:?}");
        assert!(
            messages(found)
                .iter()
                .any(|m| m.contains("line 1: the secret of key 1 has 2 bytes")),
        );

        crate::auth::keygen(&file, crate::auth::KeygenMode::Overwrite).unwrap();
        let uid = fs::metadata(&file).unwrap().uid();
        let found = messages(key_file(p.clone(), &file, rules));
        assert_eq!(found.is_empty(), uid == 0, "{found:?}");

        // The daemon's rules: a link is refused, not followed.
        let link = dir.join("link");
        symlink(&file, &link).unwrap();
        let found = messages(key_file(p, &link, rules));
        assert_eq!(
            found,
            [format!(
                "cannot read key file {}: it is a symbolic link; point auth.key_file at the real file",
                link.display()
            )]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_credential_may_be_mode_0400_and_the_services_own() {
        let dir = scratch("credential");
        let file = dir.join("haagent-key");
        crate::auth::keygen(&file, crate::auth::KeygenMode::Create).unwrap();
        chmod(&file, 0o400);
        let found = messages(key_file(YamlPath::root(), &file, &fsguard::CREDENTIAL));
        assert_eq!(found, Vec::<String>::new());
        chmod(&file, 0o440);
        let found = messages(key_file(YamlPath::root(), &file, &fsguard::CREDENTIAL));
        assert_eq!(
            found,
            [format!(
                "credential {} is readable by others (mode 0440)",
                file.display()
            )]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_manifest_others_can_write_is_an_error() {
        let dir = scratch("manifest");
        let file = dir.join("cluster.yaml");
        fs::write(&file, "cluster: x\n").unwrap();
        chmod(&file, 0o664);
        let found = manifest_file(&file);
        let open = found
            .iter()
            .find(|d| d.message.ends_with("is writable by others (mode 0664)"))
            .unwrap_or_else(|| panic!("{found:?}"));
        assert_eq!(open.path, YamlPath::root());
        let fix = format!("run `chmod go-w {}`", file.display());
        assert!(open.hint.as_deref().unwrap().starts_with(&fix), "{open:?}");
        chmod(&file, 0o644);
        let root = fs::metadata(&file).unwrap().uid() == 0;
        let found = messages(manifest_file(&file));
        assert_eq!(found.is_empty(), root, "{found:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
