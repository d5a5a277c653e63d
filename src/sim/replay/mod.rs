//! Replaying a flight recording (`haagentctl replay`, like Pacemaker's `crm_simulate` on a
//! pe-input file): a fresh [`Engine`](crate::engine::Engine) is started as the recorded one
//! was, gets every recorded input at its recorded time, and must return the recorded actions,
//! input by input. Pure: the files come in as text.
//!
//! The engine's state cannot be saved, so a run replays only from its first input on. The
//! recorder keeps each run's first file and rotates the others ([`format`] and
//! `drivers::recorder`); where inputs are missing (files rotated out or left out, inputs the
//! recorder lost) the replay stops and reports a [`Gap`], never a false divergence.
//!
//! Here: reading the files and sorting them into runs; `run.rs` replays one run; `format.rs`
//! is the file format the recorder writes.

pub mod format;
#[cfg(test)]
pub(crate) mod harness;
mod run;
#[cfg(test)]
mod tests;

use serde::Serialize;

use format::Header;
use run::replay_run;

/// One file of a recording: its name (for messages) and its text.
#[derive(Clone, Copy, Debug)]
pub struct RecordingFile<'a> {
    /// The file's name.
    pub name: &'a str,
    /// Its content.
    pub text: &'a str,
}

/// A file that is not a readable recording.
#[derive(Debug, thiserror::Error)]
#[error("{file} line {line}: {why}")]
pub struct ReplayError {
    /// The file.
    pub file: String,
    /// The line, from 1 (the header).
    pub line: u64,
    /// What is wrong.
    pub why: String,
}

/// What a replay found.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    /// Inputs whose actions were reproduced.
    pub inputs: u64,
    /// Actions reproduced.
    pub actions: u64,
    /// The first input whose actions differ, if any (the replay stops there).
    pub divergence: Option<Divergence>,
    /// Where a run's replay stopped because inputs are missing.
    pub gaps: Vec<Gap>,
    /// The runs replayed, oldest first.
    pub runs: Vec<Run>,
    /// Files whose last line was incomplete (copied while being written) and was ignored.
    pub partial: Vec<String>,
}

/// An input whose actions differ from the recorded ones.
#[derive(Debug, Serialize)]
pub struct Divergence {
    /// The input's number in its run.
    pub input: u64,
    /// The file.
    pub file: String,
    /// The line of the input in the file.
    pub line: u64,
    /// The recorded actions.
    pub expected: serde_json::Value,
    /// The actions the replay returned.
    pub got: serde_json::Value,
}

/// Inputs a run's replay lacks: it stops before them.
#[derive(Debug, Serialize)]
pub struct Gap {
    /// The node.
    pub node: String,
    /// The run.
    pub generation: u64,
    /// Where the gap was found.
    pub file: String,
    /// The line.
    pub line: u64,
    /// The first missing input.
    pub from: u64,
    /// Why, in words.
    pub why: String,
}

/// One run of a node, as replayed.
#[derive(Debug, Serialize)]
pub struct Run {
    /// The node.
    pub node: String,
    /// The run's generation.
    pub generation: u64,
    /// Files of the run given.
    pub files: usize,
    /// Inputs reproduced.
    pub inputs: u64,
}

/// A file split into its header and the lines after it.
struct Parsed<'a> {
    name: &'a str,
    header: Header,
    body: &'a str,
}

/// Replays `files` (of one or several runs, in any order): each run from its first input,
/// until its end, its first gap or the first divergence.
pub fn replay(files: &[RecordingFile]) -> Result<Outcome, ReplayError> {
    let mut parsed = files.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
    parsed.sort_by(|a, b| {
        let key = |p: &Parsed| (p.header.start.generation, p.header.start.node.clone());
        key(a).cmp(&key(b)).then(a.header.file.cmp(&b.header.file))
    });
    let mut out = Outcome::default();
    let same_run = |a: &Parsed, b: &Parsed| {
        a.header.start.generation == b.header.start.generation
            && a.header.start.node == b.header.start.node
    };
    for run in parsed.chunk_by(same_run) {
        check_run(run)?;
        replay_run(run, &mut out)?;
        if out.divergence.is_some() {
            break;
        }
    }
    Ok(out)
}

fn parse<'a>(f: &RecordingFile<'a>) -> Result<Parsed<'a>, ReplayError> {
    let bad = |why: String| ReplayError {
        file: f.name.to_owned(),
        line: 1,
        why,
    };
    let Some((first, body)) = f.text.split_once('\n') else {
        return Err(bad(if f.text.is_empty() {
            "the file is empty".into()
        } else {
            "the file ends inside its header".into()
        }));
    };
    let header = format::parse_header(first).map_err(|e| bad(e.to_string()))?;
    Ok(Parsed {
        name: f.name,
        header,
        body,
    })
}

/// The files of one run agree on its start and are not given twice.
fn check_run(run: &[Parsed]) -> Result<(), ReplayError> {
    for pair in run.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let why = if a.header.file == b.header.file {
            format!(
                "file {} of this run is also given as {}",
                b.header.file, a.name
            )
        } else if a.header.start != b.header.start {
            format!(
                "its header says the run started otherwise than {} does: not the same run",
                a.name
            )
        } else {
            continue;
        };
        return Err(ReplayError {
            file: b.name.to_owned(),
            line: 1,
            why,
        });
    }
    Ok(())
}
