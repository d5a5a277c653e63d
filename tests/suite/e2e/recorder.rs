//! The flight recorder on real hosts: a planned failover and a power cut of the peer are
//! recorded on the surviving node; the recording, copied out of the host, replays on this
//! machine with every action reproduced, and the same recording with one action changed is
//! reported as a divergence at that input.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// Where the agent records, inside a host.
const DIR: &str = "/var/lib/haagent/recorder";

fn ctl_ok(c: &Cluster, node: &str, args: &[&str]) {
    let out = c.ctl(node, args);
    assert!(
        out.status.success(),
        "haagentctl {args:?} on {node}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies the node's recording files into `to`; returns their paths there.
fn copy_out(c: &Cluster, node: &str, to: &Path) -> Vec<PathBuf> {
    let names = c.sh(node, &format!("ls {DIR}")).unwrap();
    let mut files = Vec::new();
    for name in names.split_whitespace() {
        let text = c.sh(node, &format!("cat {DIR}/{name}")).unwrap();
        let path = to.join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    files
}

/// `haagentctl replay --json FILES` on this machine: its exit code and its JSON.
fn replay(files: &[PathBuf]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["replay", "--json"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let out = crate::suite::run("haagentctl", Path::new("/"), &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), json)
}

#[test]
fn a_failover_and_a_power_cut_recorded_on_a_node_replay_exactly() {
    let spec = Spec::two("rec", 75);
    let Some(mut c) = cluster(&spec) else { return };
    start_on(&c, &["alpha", "beta"], "alpha");
    ctl_ok(&c, "alpha", &["failover", "web", "--to", "beta"]);
    wait_holder(&c, "beta", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    c.bed.kill("beta").unwrap();
    wait_holder(&c, "alpha", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));

    let dir = std::env::temp_dir().join(format!("haagent-e2e-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files = copy_out(&c, "alpha", &dir);
    assert_eq!(files.len(), 1, "one run, one file: {files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains(r#"{"control":{"failover":{"group":"web","to":"beta"}}}"#),
        "the operator's move is an input of the recording"
    );
    assert!(
        text.matches(r#""start_unit":"#).count() >= 2,
        "started, then taken back"
    );
    assert!(text.contains(r#""kind":"peer_dead","node":"beta","group":null"#));

    let header = text.lines().next().unwrap().len();
    eprintln!(
        "recording: {} bytes, header {header} bytes, {} bytes per input line on average",
        text.len(),
        (text.len() - header) / text.lines().count().saturating_sub(1).max(1)
    );
    let (code, out) = replay(&files);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out["divergence"].is_null() && out["gaps"] == serde_json::json!([]),
        "{out}"
    );
    // Every whole line after the header was replayed (a last line caught half-written by the
    // copy is left out).
    let whole = text.matches('\n').count() as u64 - 1;
    assert_eq!(out["inputs"], whole, "{out}");
    assert!(out["actions"].as_u64().unwrap() > 20, "{out}");

    // The same recording with one action changed: the replay points at it.
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(r#""start_unit":"#) && l.ends_with('}'))
        .unwrap();
    let input: u64 = serde_json::from_str::<serde_json::Value>(line).unwrap()["n"]
        .as_u64()
        .unwrap();
    let edited = dir.join("edited.jsonl");
    let changed = line.replace(r#""unit":"web.service""#, r#""unit":"db.service""#);
    assert_ne!(changed, line);
    let mut lines: Vec<&str> = text.lines().collect();
    lines[n] = &changed;
    std::fs::write(&edited, lines.join("\n") + "\n").unwrap();
    let (code, out) = replay(std::slice::from_ref(&edited));
    assert_eq!(code, Some(1), "{out}");
    let d = &out["divergence"];
    assert_eq!(d["input"], input, "{out}");
    assert_eq!(d["line"], n as u64 + 1, "{out}");
    assert!(d["expected"].to_string().contains("db.service"), "{out}");
    assert!(d["got"].to_string().contains("web.service"), "{out}");

    // A gap the recorder marked stops the replay without a divergence (exit 3); a line that
    // is not JSON is refused with its place (exit 2).
    let marked = format!(r#"{{"lost":1,"n":{input}}}"#);
    lines[n] = &marked;
    std::fs::write(&edited, lines.join("\n") + "\n").unwrap();
    let (code, out) = replay(std::slice::from_ref(&edited));
    assert_eq!(code, Some(3), "{out}");
    assert!(out["divergence"].is_null(), "{out}");
    assert_eq!(
        (&out["inputs"], &out["gaps"][0]["from"]),
        (&input.into(), &input.into())
    );
    lines[n] = "{\"n\": 1";
    std::fs::write(&edited, lines.join("\n") + "\n").unwrap();
    let (code, out) = replay(&[edited]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(out["line"], n as u64 + 1, "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
