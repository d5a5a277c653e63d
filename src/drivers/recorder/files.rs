//! The recorder's files, on its writer thread: serialising entries, a marker where inputs were
//! lost, and rotation. Files are `run-<generation>-<index>.jsonl`; each opens with the run's
//! header. A file full at `file_bytes` is followed by the next; at most `files` files are kept:
//! older runs go first, then the oldest files of this run but its first, which holds the start
//! every replay needs.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Item, Limits};
use crate::sim::replay::format::{self, EntryRef, Header, Lost, Start};

/// The file being written.
struct Current {
    file: File,
    /// Bytes written to it, all whole lines.
    size: u64,
    /// Lines after the header.
    lines: u64,
}

/// The recording directory of one run.
pub(super) struct Files {
    dir: PathBuf,
    start: Start,
    limits: Limits,
    /// The index of the next file to open.
    index: u64,
    current: Option<Current>,
    /// The number of the next input the recording must speak of: an item with a higher one
    /// follows a gap, marked as such.
    next: u64,
    /// Written since the last sync.
    dirty: bool,
}

impl Files {
    /// The recording of the run `start` in `dir`, created if need be (mode 0700).
    pub(super) fn new(dir: &Path, start: Start, limits: Limits) -> io::Result<Files> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        Ok(Files {
            dir: dir.to_owned(),
            start,
            limits,
            index: 0,
            current: None,
            next: 0,
            dirty: false,
        })
    }

    /// Writes one item, after a marker if inputs before it were lost. An item that cannot be
    /// written is lost too (and marked before the next one written).
    pub(super) fn write(&mut self, item: &Item, wall_ms: u64) -> io::Result<()> {
        if item.n > self.next {
            let lost = Lost {
                lost: item.n - self.next,
                n: self.next,
            };
            self.append(
                &format::lost_line(&lost).map_err(io::Error::other)?,
                item,
                wall_ms,
            )?;
            self.next = item.n;
        }
        let entry = EntryRef {
            n: item.n,
            t: item.t,
            input: &item.input,
            actions: &item.actions,
        };
        self.append(
            &format::entry_line(&entry).map_err(io::Error::other)?,
            item,
            wall_ms,
        )?;
        self.next = item.n.saturating_add(1);
        Ok(())
    }

    /// Flushes what was written to the disk, if anything was.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        match &self.current {
            Some(c) if self.dirty => {
                self.dirty = false;
                c.file.sync_data()
            }
            _ => Ok(()),
        }
    }

    /// Appends one line, opening the next file first if the current one is full. A failed
    /// write is cut off again, so the file holds only whole lines; if that fails too, the file
    /// is left and the next line starts a new one.
    fn append(&mut self, line: &str, item: &Item, wall_ms: u64) -> io::Result<()> {
        let full = |c: &Current| c.lines > 0 && c.size + line.len() as u64 > self.limits.file_bytes;
        if self.current.as_ref().is_none_or(full) {
            self.open(item, wall_ms)?;
        }
        let Some(c) = self.current.as_mut() else {
            return Err(io::Error::other("no recording file"));
        };
        match c.file.write_all(line.as_bytes()) {
            Ok(()) => {
                c.size += line.len() as u64;
                c.lines += 1;
                self.dirty = true;
                Ok(())
            }
            Err(e) => {
                if c.file.set_len(c.size).is_err() {
                    self.current = None;
                }
                Err(e)
            }
        }
    }

    /// Opens the next file of the run and writes its header, after making room for it.
    fn open(&mut self, item: &Item, wall_ms: u64) -> io::Result<()> {
        self.current = None;
        self.prune()?;
        let header = Header {
            haagent_recording: format::VERSION,
            file: self.index,
            first_input: self.next,
            t: item.t,
            wall_ms,
            start: self.start.clone(),
        };
        let text = format::header_line(&header).map_err(io::Error::other)?;
        let path = self.dir.join(name(self.start.generation, self.index));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        if let Err(e) = file.write_all(text.as_bytes()) {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        self.current = Some(Current {
            file,
            size: text.len() as u64,
            lines: 0,
        });
        self.index += 1;
        Ok(())
    }

    /// Removes files until one more fits within `limits.files`: older runs' first, then this
    /// run's oldest but its first. Other files in the directory are left alone.
    fn prune(&self) -> io::Result<()> {
        let mut found: Vec<(u64, u64)> = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            if let Some(id) = entry?.file_name().to_str().and_then(parse_name) {
                found.push(id);
            }
        }
        let run = self.start.generation;
        // This run's first file stays: the start of every replay.
        let mut doomed: Vec<(bool, u64, u64)> = found
            .iter()
            .filter(|(g, i)| !(*g == run && *i == 0))
            .map(|&(g, i)| (g == run, g, i))
            .collect();
        doomed.sort_unstable();
        let room = self.limits.files.saturating_sub(1) as usize;
        let excess = found.len().saturating_sub(room);
        for (_, g, i) in doomed.into_iter().take(excess) {
            fs::remove_file(self.dir.join(name(g, i)))?;
        }
        Ok(())
    }
}

/// The name of file `index` of run `generation`.
pub(super) fn name(generation: u64, index: u64) -> String {
    format!("run-{generation}-{index:06}.jsonl")
}

/// The run and index of a recording file's name.
pub(super) fn parse_name(name: &str) -> Option<(u64, u64)> {
    let rest = name.strip_prefix("run-")?.strip_suffix(".jsonl")?;
    let (g, i) = rest.split_once('-')?;
    Some((g.parse().ok()?, i.parse().ok()?))
}
