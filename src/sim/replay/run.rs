//! One run's replay: a fresh engine started as the header says, fed the run's files in order,
//! line by line, until the end, a gap or a divergence.

use super::format::{self, Line, Start};
use super::{Divergence, Gap, Outcome, Parsed, ReplayError, Run};
use crate::engine::Engine;

/// Replays one run's files, in order.
pub(super) fn replay_run(run: &[Parsed], out: &mut Outcome) -> Result<(), ReplayError> {
    let start = &run[0].header.start;
    let mut r = RunReplay {
        start,
        engine: start.engine(),
        next: 0,
        inputs: 0,
    };
    for f in run {
        if r.file(f, out)? == Step::Stop {
            break;
        }
    }
    out.runs.push(Run {
        node: start.node.clone(),
        generation: start.generation,
        files: run.len(),
        inputs: r.inputs,
    });
    Ok(())
}

/// Whether a run's replay goes on.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Go,
    Stop,
}

/// A run's replay under way.
struct RunReplay<'a> {
    start: &'a Start,
    engine: Engine,
    /// The number of the input expected next.
    next: u64,
    /// Inputs reproduced.
    inputs: u64,
}

impl RunReplay<'_> {
    fn gap(&self, file: &str, line: u64, from: u64, why: String) -> Gap {
        Gap {
            node: self.start.node.clone(),
            generation: self.start.generation,
            file: file.to_owned(),
            line,
            from,
            why,
        }
    }

    /// Replays the lines of one file, if it follows the inputs replayed so far.
    fn file(&mut self, f: &Parsed, out: &mut Outcome) -> Result<Step, ReplayError> {
        let (first, next) = (f.header.first_input, self.next);
        if first != next {
            let why = match next {
                0 => format!(
                    "the recording of this run starts at input {first} (file {}): its first file, which holds the start, is missing, so the run cannot be replayed",
                    f.header.file
                ),
                _ => format!(
                    "inputs {next} to {} are not in the files given (rotated out, or a file left out); the replay stops before them",
                    first.saturating_sub(1)
                ),
            };
            out.gaps.push(self.gap(f.name, 1, next, why));
            return Ok(Step::Stop);
        }
        for (i, raw) in f.body.split_inclusive('\n').enumerate() {
            if !raw.ends_with('\n') {
                out.partial.push(f.name.to_owned());
                break;
            }
            if !raw.trim().is_empty() && self.line(f.name, i as u64 + 2, raw, out)? == Step::Stop {
                return Ok(Step::Stop);
            }
        }
        Ok(Step::Go)
    }

    /// Replays one line: a gap marker stops the run, an input must give the recorded actions.
    fn line(
        &mut self,
        file: &str,
        line: u64,
        raw: &str,
        out: &mut Outcome,
    ) -> Result<Step, ReplayError> {
        let bad = |why: String| ReplayError {
            file: file.to_owned(),
            line,
            why,
        };
        let next = self.next;
        let entry = match format::parse_line(raw).map_err(|e| bad(e.to_string()))? {
            Line::Lost(l) => {
                let why = format!(
                    "the recorder lost {} input(s) here (it fell behind or the disk failed); the replay stops before them",
                    l.lost
                );
                out.gaps.push(self.gap(file, line, l.n, why));
                return Ok(Step::Stop);
            }
            Line::Entry(e) => e,
        };
        if entry.n < next {
            return Err(bad(format!(
                "input {} comes after input {}: the lines are out of order",
                entry.n,
                next.saturating_sub(1)
            )));
        }
        if entry.n > next {
            let why = format!(
                "inputs {next} to {} are missing (lines removed); the replay stops before them",
                entry.n - 1
            );
            out.gaps.push(self.gap(file, line, next, why));
            return Ok(Step::Stop);
        }
        let got = self.engine.handle(entry.t, entry.input);
        let got_json = serde_json::to_value(&got).map_err(|e| bad(e.to_string()))?;
        if got_json != entry.actions {
            out.divergence = Some(Divergence {
                input: entry.n,
                file: file.to_owned(),
                line,
                expected: entry.actions,
                got: got_json,
            });
            return Ok(Step::Stop);
        }
        self.inputs += 1;
        self.next += 1;
        out.inputs += 1;
        out.actions += got.len() as u64;
        Ok(Step::Go)
    }
}
