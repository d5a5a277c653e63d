//! The real binaries given files that are not manifests: a device, a FIFO, a symbolic link, a
//! file over the 1 MiB cap. Each is refused at once with the reason (nothing is read past the
//! cap); any readable regular file, whoever owns it, still validates.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{TempDir, root, run, stdout};

/// Runs `bin args` and checks it ends within a second.
fn quick(bin: &str, dir: &Path, args: &[&str]) -> std::process::Output {
    let started = Instant::now();
    let out = run(bin, dir, args);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{bin} {args:?} took {:?}",
        started.elapsed()
    );
    out
}

/// Whether the files this test writes are root's.
fn is_root(dir: &Path) -> bool {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir).unwrap()) == 0
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn validate_and_the_daemon_refuse_a_device_a_fifo_a_link_and_a_file_over_the_cap() {
    let tmp = TempDir::new("not-manifests");
    let fifo = tmp.0.join("fifo.yaml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let big = tmp.0.join("big.yaml");
    std::fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    let link = tmp.0.join("link.yaml");
    symlink(root().join("examples/two-node-web.yaml"), &link).unwrap();
    let cases = [
        (
            "/dev/zero".to_owned(),
            "it is a character device, not a regular file",
        ),
        (
            fifo.display().to_string(),
            "it is a FIFO, not a regular file",
        ),
        (
            big.display().to_string(),
            "it is larger than the 1 MiB limit",
        ),
        (
            link.display().to_string(),
            "it is a symbolic link; point the manifest (`--manifest`, HAAGENT_MANIFEST) at the real file",
        ),
    ];
    for (file, why) in &cases {
        let out = quick("haagentctl", &tmp.0, &["validate", file]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        assert_eq!(
            stdout(&out),
            format!("{file}: error: cannot read the manifest: {why}\n")
        );
        let out = quick("haagent", &tmp.0, &["--check-config", "--manifest", file]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        // The daemon itself, before it touches anything else.
        let out = quick("haagent", &tmp.0, &["--manifest", file, "--node", "alpha"]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(
            stderr(&out).contains(&format!(
                "haagent: manifest: cannot read manifest {file}: {why}"
            )),
            "{}",
            stderr(&out)
        );
        let out = quick("haagentctl", &tmp.0, &["simulate", file, "--seeds", "1"]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
}

#[test]
fn validate_reads_any_readable_regular_file_whoever_owns_it() {
    let tmp = TempDir::new("any-owner");
    let file = tmp.0.join("cluster.yaml");
    std::fs::copy(root().join("examples/two-node-web.yaml"), &file).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    if is_root(&tmp.0) {
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    }
    // Not a node of it (no --node, and no test host is called alpha or beta): no host checks.
    let out = run("haagentctl", &tmp.0, &["validate", "cluster.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("cluster.yaml: valid: cluster `web`"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_host_checks_refuse_a_manifest_others_can_write() {
    let tmp = TempDir::new("open-manifest");
    let key = tmp.0.join("authkey");
    let out = run("haagentctl", &tmp.0, &["keygen", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = tmp.0.join("cluster.yaml");
    let text = std::fs::read_to_string(root().join("examples/two-node-web.yaml"))
        .unwrap()
        .replace("/etc/haagent/authkey", key.to_str().unwrap())
        .replace("eth0", "lo");
    std::fs::write(&file, text).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let args = [
        "--check-config",
        "--manifest",
        "cluster.yaml",
        "--node",
        "alpha",
    ];
    let out = run("haagent", &tmp.0, &args);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(
            "cluster.yaml:1:1: error: manifest cluster.yaml is writable by others (mode 0666)\n  at: (document)\n  hint: run `chmod go-w cluster.yaml`: the agent refuses it otherwise\n"
        ),
        "{}",
        stdout(&out)
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run("haagent", &tmp.0, &args);
    // Only root owns root's files; another user sees the ownership errors, as the agent would.
    let code = if is_root(&tmp.0) { 0 } else { 1 };
    assert_eq!(out.status.code(), Some(code), "{}", stdout(&out));
}
