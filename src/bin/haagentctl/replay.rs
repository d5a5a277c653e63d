//! `haagentctl replay`: feeds a flight recording (`/var/lib/haagent/recorder/*.jsonl`) to a
//! fresh engine and checks that it returns the recorded actions, input by input. Exit codes:
//! 0 every action reproduced, 1 a divergence, 2 a file unreadable or malformed, 3 a run that
//! cannot be replayed to its end because inputs are missing (rotated out or lost).

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use haagent::sim::replay::{self, Divergence, Outcome, RecordingFile, ReplayError};

/// Files larger than this are not recordings of this agent (it writes 4 MiB files).
const MAX_FILE: u64 = 64 << 20;

/// Replays `files` and prints the outcome, as text or as one JSON object.
pub fn run(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut texts = Vec::with_capacity(files.len());
    for f in files {
        match read(f) {
            Ok(text) => texts.push((f.display().to_string(), text)),
            Err(e) => {
                let e = ReplayError {
                    file: f.display().to_string(),
                    line: 0,
                    why: format!("{e:#}"),
                };
                return malformed(&e, json);
            }
        }
    }
    let given: Vec<RecordingFile> = texts
        .iter()
        .map(|(name, text)| RecordingFile { name, text })
        .collect();
    let out = match replay::replay(&given) {
        Ok(out) => out,
        Err(e) => return malformed(&e, json),
    };
    if json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        print_text(&out);
    }
    Ok(ExitCode::from(
        match (&out.divergence, out.gaps.is_empty()) {
            (Some(_), _) => 1,
            (None, false) => 3,
            (None, true) => 0,
        },
    ))
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    let file = std::fs::File::open(path).context("cannot open it")?;
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .context("cannot read it as text")?;
    if text.len() as u64 > MAX_FILE {
        anyhow::bail!("larger than 64 MiB: not a recording of haagent");
    }
    Ok(text)
}

fn malformed(e: &ReplayError, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        let line = (e.line > 0).then_some(e.line);
        let v = serde_json::json!({"error": e.why, "file": e.file, "line": line});
        println!("{v}");
    } else if e.line == 0 {
        eprintln!("haagentctl: {}: {}", e.file, e.why);
    } else {
        eprintln!("haagentctl: {e}");
    }
    Ok(ExitCode::from(2))
}

fn print_text(out: &Outcome) {
    for f in &out.partial {
        println!("{f}: the last line is incomplete (copied while being written) and was left out");
    }
    for r in &out.runs {
        println!(
            "{} run {} ({} file(s)): {} input(s) replayed",
            r.node, r.generation, r.files, r.inputs
        );
    }
    for g in &out.gaps {
        println!(
            "{} run {}: {} line {}: {}",
            g.node, g.generation, g.file, g.line, g.why
        );
    }
    match &out.divergence {
        None if out.gaps.is_empty() => println!(
            "every action reproduced: {} input(s), {} action(s)",
            out.inputs, out.actions
        ),
        None if out.inputs == 0 => println!("nothing could be replayed"),
        None => println!(
            "the {} input(s) replayed reproduced every action ({}); the rest cannot be replayed",
            out.inputs, out.actions
        ),
        Some(d) => print_divergence(d, out.inputs),
    }
}

/// The first action that differs, each side on one line (`--json` has both lists whole).
fn print_divergence(d: &Divergence, reproduced: u64) {
    println!(
        "divergence at input {} ({} line {}), after {reproduced} input(s) reproduced",
        d.input, d.file, d.line
    );
    let list = |v: &serde_json::Value| v.as_array().cloned().unwrap_or_default();
    let (expected, got) = (list(&d.expected), list(&d.got));
    let i = (0..expected.len().max(got.len()))
        .find(|&i| expected.get(i) != got.get(i))
        .unwrap_or(0);
    let show = |a: Option<&serde_json::Value>| a.map_or("(none)".to_owned(), ToString::to_string);
    println!(
        "action {} of {} recorded, {} replayed:",
        i + 1,
        expected.len(),
        got.len()
    );
    println!("  expected: {}", show(expected.get(i)));
    println!("  got:      {}", show(got.get(i)));
}
