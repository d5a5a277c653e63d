//! The flight recording's format: JSON lines. Each file opens with a [`Header`] that says how
//! the engine of its run was started ([`Start`]: node, generation, key ids and the whole
//! validated manifest with its SHA-256), so a file replays on its own; then one line per
//! engine input, `{"n", "t", "input", "actions"}` ([`EntryRef`] to write, [`Entry`] to read),
//! and, where the recorder lost inputs, a marker `{"lost", "n"}` ([`Lost`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{Action, Engine, Input, Time};
use crate::manifest::Manifest;

/// The format version, the value of `haagent_recording` in every header.
pub const VERSION: u32 = 1;

/// Why a recording line cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The line is not what the format says.
    #[error("{0}")]
    Invalid(String),
    /// JSON could not be written (a manifest path that is not UTF-8).
    #[error("cannot write the recording: {0}")]
    Write(#[from] serde_json::Error),
}

/// How the engine of a run was started: the arguments of [`Engine::new`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Start {
    /// Engine time at the start.
    pub now: Time,
    /// This node.
    pub node: String,
    /// The generation of the run (grows at every start of the node).
    pub generation: u64,
    /// The ids of the keys the node held, newest first (never the secrets).
    pub key_ids: Vec<u8>,
    /// SHA-256 of the manifest's compact JSON, in hex.
    pub manifest_sha256: String,
    /// The validated manifest in force at the start.
    pub manifest: Manifest,
}

impl Start {
    /// The start of a run, with the manifest's digest.
    pub fn new(
        now: Time,
        node: &str,
        manifest: Manifest,
        key_ids: Vec<u8>,
        generation: u64,
    ) -> Result<Start, FormatError> {
        Ok(Start {
            now,
            node: node.to_owned(),
            generation,
            key_ids,
            manifest_sha256: digest(&manifest)?,
            manifest,
        })
    }

    /// A fresh engine, started as the recorded one was.
    pub fn engine(&self) -> Engine {
        Engine::new(
            self.now,
            &self.node,
            self.manifest.clone(),
            self.key_ids.clone(),
            self.generation,
        )
    }
}

/// SHA-256 of the manifest's compact JSON, in lowercase hex.
pub fn digest(m: &Manifest) -> Result<String, FormatError> {
    let json = serde_json::to_vec(m)?;
    Ok(Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The first line of every file of a recording. `start` comes last: the manifest is long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The format version ([`VERSION`]).
    pub haagent_recording: u32,
    /// The file's place in its run: 0 for the first, which holds the run's first input.
    pub file: u64,
    /// The number of the first input this file speaks of (0 for the run's first file).
    pub first_input: u64,
    /// Engine time at the file's first input.
    pub t: Time,
    /// Wall-clock time the file was opened, in ms since the Unix epoch (to find the moment in
    /// the journal).
    pub wall_ms: u64,
    /// How the engine of the run was started.
    pub start: Start,
}

/// One engine input and the actions the engine returned, as written.
#[derive(Serialize)]
pub struct EntryRef<'a> {
    /// The input's number in its run, from 0.
    pub n: u64,
    /// The engine time it was handled at.
    pub t: Time,
    /// The input.
    pub input: &'a Input,
    /// What the engine returned.
    pub actions: &'a [Action],
}

/// One engine input and the actions the engine returned, as read back (the actions as
/// JSON, compared as JSON with what a replay returns).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The input's number in its run.
    pub n: u64,
    /// The engine time it was handled at.
    pub t: Time,
    /// The input.
    pub input: Input,
    /// What the engine returned.
    pub actions: serde_json::Value,
}

/// Inputs `n .. n + lost` were handled but not recorded (the writer fell behind or the disk
/// failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lost {
    /// How many.
    pub lost: u64,
    /// The number of the first.
    pub n: u64,
}

/// A line after the header.
#[derive(Debug)]
pub enum Line {
    /// An input with its actions.
    Entry(Box<Entry>),
    /// A gap.
    Lost(Lost),
}

/// Reads a header line: the version first, so an old reader says why it cannot read a newer
/// file instead of naming a field.
pub fn parse_header(line: &str) -> Result<Header, FormatError> {
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| FormatError::Invalid(format!("not a haagent recording: {e}")))?;
    match v
        .get("haagent_recording")
        .and_then(serde_json::Value::as_u64)
    {
        Some(n) if n == u64::from(VERSION) => {}
        Some(n) => {
            return Err(FormatError::Invalid(format!(
                "recording format {n}, but this haagentctl reads format {VERSION}; use the haagentctl of the agent that wrote it"
            )));
        }
        None => {
            return Err(FormatError::Invalid(
                "not a haagent recording: the first line has no `haagent_recording` version".into(),
            ));
        }
    }
    let h: Header =
        serde_json::from_value(v).map_err(|e| FormatError::Invalid(format!("bad header: {e}")))?;
    let sum = digest(&h.start.manifest)?;
    if sum != h.start.manifest_sha256 {
        return Err(FormatError::Invalid(format!(
            "the manifest does not match its digest (sha256 {sum}, header says {}): the header was edited",
            h.start.manifest_sha256
        )));
    }
    Ok(h)
}

/// Reads a line after the header.
pub fn parse_line(line: &str) -> Result<Line, FormatError> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| FormatError::Invalid(format!("not JSON: {e}")))?;
    let bad = |e: serde_json::Error| FormatError::Invalid(e.to_string());
    if v.get("lost").is_some() {
        let lost: Lost = serde_json::from_value(v).map_err(bad)?;
        Ok(Line::Lost(lost))
    } else {
        let entry: Entry = serde_json::from_value(v).map_err(bad)?;
        Ok(Line::Entry(Box::new(entry)))
    }
}

/// A header as one line, newline included.
pub fn header_line(h: &Header) -> Result<String, FormatError> {
    Ok(serde_json::to_string(h)? + "\n")
}

/// An entry as one line, newline included.
pub fn entry_line(e: &EntryRef) -> Result<String, FormatError> {
    Ok(serde_json::to_string(e)? + "\n")
}

/// A gap marker as one line, newline included.
pub fn lost_line(l: &Lost) -> Result<String, FormatError> {
    Ok(serde_json::to_string(l)? + "\n")
}
