//! `haagentctl history [GROUP] [--since TIME]`: this node's acquisitions, releases and failures,
//! read from the journal the agent writes (`journalctl -o json`, the structured fields of
//! `drivers/logging.rs`), with how long each took and how long the group was held.
//!
//! The engine logs an acquisition when it decides it (`acquire`) and when every resource is up
//! (`running`), and a release when it decides it and again when everything is stopped; the
//! second `release` of a pair is shown as `released`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// The events listed.
const EVENTS: [&str; 5] = [
    "acquire",
    "running",
    "release",
    "released",
    "resource_failed",
];
/// A journal line longer than this is skipped (the agent's are far shorter).
const MAX_LINE: usize = 64 * 1024;
/// The most entries `--lines` may ask for.
pub const MAX_LINES: u32 = 100_000;

/// One journal entry of the agent's.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Microseconds since the Unix epoch.
    pub at_us: u64,
    pub event: String,
    pub group: String,
    pub node: String,
    pub reason: String,
}

/// One line of the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// RFC 3339, UTC, to the millisecond.
    pub time: String,
    pub group: String,
    pub node: String,
    /// `acquire`, `running`, `release`, `released` or `resource_failed`.
    pub event: String,
    /// `took 49 ms` (acquire to running, release to released), `held 5.1 s` (running to
    /// release), `ran 3 s` (running to failure); empty when the start is not in the window.
    pub duration: String,
    /// The duration in ms, for scripts.
    pub duration_ms: Option<u64>,
    pub reason: String,
}

/// An entry from one line of `journalctl -o json`; `None` for anything else.
pub fn parse(line: &str) -> Option<Entry> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let event = text("HAAGENT_EVENT")?;
    Some(Entry {
        at_us: text("__REALTIME_TIMESTAMP")?.parse().ok()?,
        event,
        group: text("GROUP").unwrap_or_default(),
        node: text("NODE").unwrap_or_default(),
        reason: text("REASON").unwrap_or_default(),
    })
}

fn time(at_us: u64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_micros(at_us);
    let secs = haagent::control::status::rfc3339(t);
    format!(
        "{}.{:03}Z",
        secs.trim_end_matches('Z'),
        at_us % 1_000_000 / 1000
    )
}

/// A duration for people: `49 ms`, `5.1 s`, `3 min 20 s`, `2 h 5 min`.
pub fn human(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// Where a group stands on a node, between entries.
#[derive(Default)]
struct Open {
    acquired: Option<u64>,
    running: Option<u64>,
    releasing: Option<u64>,
}

/// The rows of `entries` (oldest first), with durations paired per group and node.
pub fn rows(entries: &[Entry]) -> Vec<Row> {
    let mut open: BTreeMap<(String, String), Open> = BTreeMap::new();
    entries
        .iter()
        .map(|e| {
            let o = open.entry((e.group.clone(), e.node.clone())).or_default();
            let since = |start: Option<u64>, word: &str| {
                start.map(|s| {
                    let ms = e.at_us.saturating_sub(s) / 1000;
                    (format!("{word} {}", human(ms)), ms)
                })
            };
            let (event, duration) = match e.event.as_str() {
                "acquire" => {
                    *o = Open {
                        acquired: Some(e.at_us),
                        ..Open::default()
                    };
                    ("acquire", None)
                }
                "running" => {
                    o.running = Some(e.at_us);
                    ("running", since(o.acquired.take(), "took"))
                }
                "released" => ("released", since(o.releasing.take(), "took")),
                // Before `released` existed, the end of a release was a second `release`.
                "release" => match o.releasing.take() {
                    Some(start) => ("released", since(Some(start), "took")),
                    None => {
                        o.releasing = Some(e.at_us);
                        o.acquired = None;
                        ("release", since(o.running.take(), "held"))
                    }
                },
                _ => ("resource_failed", since(o.running, "ran")),
            };
            Row {
                time: time(e.at_us),
                group: e.group.clone(),
                node: e.node.clone(),
                event: event.into(),
                duration_ms: duration.as_ref().map(|d| d.1),
                duration: duration.map(|d| d.0).unwrap_or_default(),
                reason: e.reason.clone(),
            }
        })
        .collect()
}

/// The rows as a table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<25} {:<12} {:<12} {:<16} {:<18} {}\n",
        "TIME", "GROUP", "NODE", "EVENT", "DURATION", "REASON"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<25} {:<12} {:<12} {:<16} {:<18} {}\n",
            r.time, r.group, r.node, r.event, r.duration, r.reason
        ));
    }
    out
}

/// The `journalctl` arguments for `group` since `since`, the last `lines` entries.
pub fn journalctl_args(group: Option<&str>, since: Option<&str>, lines: u32) -> Vec<String> {
    let mut a: Vec<String> = ["--no-pager", "-o", "json", "_SYSTEMD_UNIT=haagent.service"]
        .map(String::from)
        .into();
    a.push(format!("--lines={lines}"));
    if let Some(s) = since {
        // One argument, so a value starting with `-` (`-1h`) stays a value.
        a.push(format!("--since={s}"));
    }
    a.extend(EVENTS.map(|e| format!("HAAGENT_EVENT={e}")));
    if let Some(g) = group {
        a.push(format!("GROUP={g}"));
    }
    a
}

/// Checks a `--since` value: journalctl's own formats (`2026-12-03 04:00`, `-1h`, `today`),
/// bounded and printable.
pub fn parse_since(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 64 || s.chars().any(char::is_control) {
        return Err("a time as journalctl reads it, e.g. `2026-12-03 04:00:00`, `-1h` or `today`, at most 64 characters".into());
    }
    Ok(s.to_owned())
}

/// Runs `haagentctl history`.
pub fn run(
    group: Option<&str>,
    since: Option<&str>,
    lines: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut child = Command::new("journalctl")
        .args(journalctl_args(group, since, lines))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run journalctl: {e}"))?;
    let mut entries = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if n > MAX_LINE && !line.ends_with(b"\n") {
            // Skip the rest of an overlong line.
            reader.skip_until(b'\n')?;
            continue;
        }
        entries.extend(parse(&String::from_utf8_lossy(&line)));
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.by_ref().take(4096).read_to_string(&mut err);
    }
    if !child.wait()?.success() {
        anyhow::bail!("journalctl failed: {}", err.trim());
    }
    // Not an error to journalctl, but the reader should know: "insufficient permissions".
    if !err.trim().is_empty() {
        eprintln!("journalctl: {}", err.trim());
    }
    let rows = rows(&entries);
    if json {
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
    } else if rows.is_empty() {
        println!(
            "no acquisition, release or failure in this node's journal{}",
            match since {
                Some(s) => format!(" since {s}"),
                None => String::new(),
            }
        );
    } else {
        print!("{}", table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
