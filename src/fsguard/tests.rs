use std::os::unix::fs::{PermissionsExt, symlink};
use std::time::{Duration, Instant};

use super::*;

/// A directory of its own for one test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("haagent-fsguard-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, data: &[u8], mode: u32) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, data).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn me() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[test]
fn reads_a_regular_file_with_its_owner_and_mode() {
    let dir = Scratch::new("plain");
    let path = dir.file("authkey", b"1 00\n", 0o600);
    let c = read(&path, &KEY_FILE).unwrap();
    assert_eq!(
        (c.bytes.as_slice(), c.uid, c.mode),
        (&b"1 00\n"[..], me(), 0o600)
    );
    assert_eq!(
        format!("{c:?}"),
        format!("Contents {{ bytes: <5 bytes>, uid: {}, mode: 0600 }}", me())
    );
    assert_eq!(c.into_text(&path, &KEY_FILE).unwrap(), "1 00\n");
}

#[test]
fn a_symbolic_link_is_refused_with_the_fix() {
    let dir = Scratch::new("link");
    let real = dir.file("real.yaml", b"cluster: x\n", 0o644);
    let link = dir.0.join("cluster.yaml");
    symlink(&real, &link).unwrap();
    let e = read(&link, &MANIFEST).unwrap_err();
    assert!(matches!(e.reason, Refusal::Link(_)), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "manifest {}: it is a symbolic link; point the manifest (`--manifest`, HAAGENT_MANIFEST) at the real file",
            link.display()
        )
    );
    let e = read(&link, &KEY_FILE).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("point auth.key_file at the real file"),
        "{e}"
    );
}

#[test]
fn devices_fifos_and_directories_are_refused_at_once() {
    let dir = Scratch::new("special");
    let fifo = dir.0.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let started = Instant::now();
    for (path, kind) in [
        (Path::new("/dev/zero"), "character device"),
        (fifo.as_path(), "FIFO"),
        (dir.0.as_path(), "directory"),
    ] {
        let e = read(path, &MANIFEST).unwrap_err();
        assert!(
            matches!(e.reason, Refusal::NotRegular(k) if k == kind),
            "{}: {e}",
            path.display()
        );
        assert!(
            e.to_string()
                .ends_with(&format!("it is a {kind}, not a regular file")),
            "{e}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn more_than_the_cap_is_an_error_naming_it_and_the_cap_itself_is_read() {
    let dir = Scratch::new("cap");
    let big = dir.file("big.yaml", &vec![b'#'; 2 << 20], 0o644);
    let e = read(&big, &MANIFEST).unwrap_err();
    assert!(
        e.to_string().ends_with("it is larger than the 1 MiB limit"),
        "{e}"
    );
    let exact = dir.file("exact.yaml", &vec![b'#'; 1 << 20], 0o644);
    assert_eq!(read(&exact, &MANIFEST).unwrap().bytes.len(), 1 << 20);
    let key = dir.file("authkey", &vec![b'#'; (64 << 10) + 1], 0o600);
    let e = read(&key, &KEY_FILE).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("it is larger than the 64 KiB limit"),
        "{e}"
    );
}

#[test]
fn a_missing_file_keeps_the_system_error() {
    let e = read(Path::new("/nonexistent/authkey"), &KEY_FILE).unwrap_err();
    assert!(matches!(&e.reason, Refusal::Io(io) if io.kind() == io::ErrorKind::NotFound));
    assert_eq!(e.into_io().kind(), io::ErrorKind::NotFound);
}

#[test]
fn owner_and_mode_flaws_name_their_fix() {
    let path = Path::new("/etc/haagent/authkey");
    let contents = |uid, mode| Contents {
        bytes: Vec::new(),
        uid,
        mode,
    };
    assert_eq!(contents(0, 0o600).flaws(path, &KEY_FILE), []);
    assert_eq!(contents(0, 0o400).flaws(path, &CREDENTIAL), []);
    assert_eq!(contents(0, 0o644).flaws(Path::new("/m"), &MANIFEST), []);
    let stranger = if me() == 4242 { 4343 } else { 4242 };
    let flaws = contents(stranger, 0o644).flaws(path, &KEY_FILE);
    assert_eq!(
        untrusted(&flaws).to_string(),
        format!(
            "it is owned by uid {stranger} (not root) and readable by others (mode 0644); run `chown root:root /etc/haagent/authkey && chmod 600 /etc/haagent/authkey`"
        )
    );
    let flaws = contents(0, 0o664).flaws(Path::new("/m"), &MANIFEST);
    assert_eq!(
        flaws,
        [Flaw {
            text: "writable by others (mode 0664)".into(),
            fix: "chmod go-w /m".into()
        }]
    );
    let flaws = contents(0, 0o671).flaws(path, &KEY_FILE);
    assert_eq!(
        flaws[0].text,
        "readable and writable and executable by others (mode 0671)"
    );
    // A credential may belong to the service's own user; a key file may not.
    assert_eq!(contents(me(), 0o400).flaws(path, &CREDENTIAL), []);
    assert_eq!(contents(stranger, 0o400).flaws(path, &CREDENTIAL).len(), 1);
}

#[test]
fn read_trusted_refuses_an_open_key_file_and_text_that_is_not_utf8() {
    let dir = Scratch::new("trusted");
    let open = dir.file("authkey", b"1 00\n", 0o644);
    let e = read_trusted(&open, &KEY_FILE).unwrap_err();
    assert!(matches!(e.reason, Refusal::Untrusted { .. }), "{e}");
    assert!(
        e.to_string().contains("readable by others (mode 0644)"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains(&format!("chmod 600 {}", open.display())),
        "{e}"
    );
    assert_eq!(e.into_io().kind(), io::ErrorKind::PermissionDenied);
    let binary = dir.file("binary", &[0xff, 0xfe], 0o600);
    let e = read(&binary, &KEY_FILE)
        .unwrap()
        .into_text(&binary, &KEY_FILE)
        .unwrap_err();
    assert!(e.to_string().ends_with("it is not UTF-8 text"), "{e}");
    let private = dir.file("private", b"ok\n", 0o600);
    match read_trusted(&private, &KEY_FILE) {
        Ok(text) => assert_eq!((text.as_str(), me()), ("ok\n", 0)),
        Err(e) => assert!(me() != 0 && e.to_string().contains("(not root)"), "{e}"),
    }
}
