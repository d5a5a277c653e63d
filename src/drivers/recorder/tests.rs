//! The recorder on disk: a run written and replayed, rotation within its limits, inputs lost to
//! a stuck writer or a failing disk marked as gaps, and the cost per input on the loop.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::files::{Files, name};
use super::{Item, Limits, QUEUE, Recorder};
use crate::sim::replay::format::{self, EntryRef};
use crate::sim::replay::harness::{self, Rec};
use crate::sim::replay::{Outcome, RecordingFile, replay};

fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("haagent-rec-{what}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn item(n: usize, r: &Rec) -> Item {
    Item {
        n: n as u64,
        t: r.0,
        input: r.1.clone(),
        actions: r.2.clone(),
    }
}

/// The recording files in `dir`, by name, and the replay of all of them.
fn replay_dir(dir: &Path) -> (Vec<String>, Outcome) {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    let texts: Vec<String> = names
        .iter()
        .map(|n| fs::read_to_string(dir.join(n)).unwrap())
        .collect();
    let files: Vec<RecordingFile> = names
        .iter()
        .zip(&texts)
        .map(|(name, text)| RecordingFile { name, text })
        .collect();
    let out = replay(&files).unwrap();
    (names, out)
}

fn files(dir: &Path, limits: Limits) -> Files {
    Files::new(dir, harness::run().start, limits).unwrap()
}

#[test]
fn a_run_recorded_by_the_writer_thread_replays_with_every_action() {
    let dir = scratch("run");
    let rec = harness::run();
    let mut r = Recorder::with_writer(files(&dir, Limits::DEFAULT), QUEUE).unwrap();
    for (t, input, actions) in &rec.inputs {
        r.record(*t, input.clone(), actions);
    }
    drop(r); // waits for the writer
    let (names, out) = replay_dir(&dir);
    assert_eq!(names, [name(7, 0)]);
    assert!(out.divergence.is_none() && out.gaps.is_empty(), "{out:?}");
    assert_eq!(out.inputs, rec.inputs.len() as u64);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rotation_keeps_the_runs_first_file_and_stays_within_the_limits() {
    let dir = scratch("rotate");
    for old in [name(5, 0), name(5, 1)] {
        fs::write(dir.join(old), "{}\n").unwrap();
    }
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    let limits = Limits {
        files: 3,
        file_bytes: 10_000,
    };
    let mut f = files(&dir, limits);
    let rec = harness::run();
    for (n, r) in rec.inputs.iter().enumerate() {
        f.write(&item(n, r), 0).unwrap();
    }
    let (names, out) = replay_dir(&dir);
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], name(7, 0), "the run's first file stays");
    assert!(
        !names.contains(&name(5, 0)) && !names.contains(&name(7, 1)),
        "{names:?}"
    );
    assert!(dir.join("notes.txt").exists(), "other files are left alone");
    for n in &names {
        assert!(fs::metadata(dir.join(n)).unwrap().len() <= limits.file_bytes);
    }
    // The first file replays; the rest cannot, and the replay says so.
    assert!(out.divergence.is_none(), "{out:?}");
    assert!(out.inputs > 0 && out.inputs < rec.inputs.len() as u64);
    assert!(
        out.gaps[0].why.contains("are not in the files given"),
        "{out:?}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inputs_a_stuck_writer_could_not_take_are_counted_and_marked() {
    let dir = scratch("stuck");
    let rec = harness::run();
    // A writer that takes nothing yet: the queue holds 4.
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    let mut r = Recorder::new(Some(tx), None);
    let started = Instant::now();
    let record = |r: &mut Recorder, range: std::ops::Range<usize>| {
        for (t, input, actions) in &rec.inputs[range] {
            r.record(*t, input.clone(), actions);
        }
    };
    record(&mut r, 0..5);
    assert_eq!(r.throttle.unlogged, 0, "the first loss is logged at once");
    record(&mut r, 5..11);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "never waits"
    );
    assert_eq!(
        r.throttle.unlogged, 6,
        "later losses wait for the next minute"
    );
    let mut f = files(&dir, Limits::DEFAULT);
    let queued: Vec<Item> = rx.try_iter().collect();
    assert_eq!(queued.iter().map(|i| i.n).collect::<Vec<_>>(), [0, 1, 2, 3]);
    queued.iter().for_each(|i| f.write(i, 0).unwrap());
    record(&mut r, 11..12);
    f.write(&rx.try_recv().unwrap(), 0).unwrap();
    let text = fs::read_to_string(dir.join(name(7, 0))).unwrap();
    assert!(text.contains("{\"lost\":7,\"n\":4}\n{\"n\":11,"), "{text}");
    let (_, out) = replay_dir(&dir);
    assert_eq!(out.inputs, 4);
    assert!(out.divergence.is_none(), "a gap, not a divergence");
    assert!(
        out.gaps[0]
            .why
            .contains("the recorder lost 7 input(s) here")
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_input_the_disk_refused_is_marked_before_the_next_one() {
    let dir = scratch("disk");
    // The second file will be opened on a full disk.
    std::os::unix::fs::symlink("/dev/full", dir.join(name(7, 1))).unwrap();
    let limits = Limits {
        files: 100,
        file_bytes: 40_000,
    };
    let mut f = files(&dir, limits);
    let rec = harness::run();
    let failed: Vec<usize> = (0..rec.inputs.len())
        .filter(|&n| f.write(&item(n, &rec.inputs[n]), 0).is_err())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let k = failed[0] as u64;
    let second = fs::read_to_string(dir.join(name(7, 1))).unwrap();
    let marker = format!("{{\"lost\":1,\"n\":{k}}}\n");
    assert_eq!(
        second.lines().nth(1),
        Some(marker.trim_end()),
        "{second:.300}"
    );
    let (_, out) = replay_dir(&dir);
    assert_eq!(out.inputs, k);
    assert!(out.divergence.is_none() && out.gaps[0].why.contains("lost 1 input(s)"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn recording_an_input_costs_the_loop_a_few_microseconds() {
    let dir = scratch("cost");
    let rec = harness::run();
    let mut r = Recorder::with_writer(files(&dir, Limits::DEFAULT), QUEUE).unwrap();
    let mut took: Vec<Duration> = Vec::new();
    for _ in 0..5 {
        for (t, input, actions) in &rec.inputs {
            // As `Agent::feed` does: a copy of the input before the engine takes it.
            let started = Instant::now();
            let copy = input.clone();
            r.record(*t, copy, actions);
            took.push(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(r);
    // What the writer thread does with each: one JSON line.
    let started = Instant::now();
    for (n, (t, input, actions)) in rec.inputs.iter().enumerate() {
        let e = EntryRef {
            n: n as u64,
            t: *t,
            input,
            actions,
        };
        format::entry_line(&e).unwrap();
    }
    let serialise = started.elapsed() / rec.inputs.len() as u32;
    took.sort();
    let (median, p99) = (took[took.len() / 2], took[took.len() * 99 / 100]);
    let bytes = fs::metadata(dir.join(name(7, 0))).unwrap().len();
    let lines = fs::read_to_string(dir.join(name(7, 0)))
        .unwrap()
        .lines()
        .count() as u64;
    eprintln!(
        "recording cost on the loop per input: median {median:?}, p99 {p99:?}; {} inputs; serialising on the writer: {serialise:?} per input, {} bytes per line on average",
        took.len(),
        bytes / lines
    );
    assert!(median < Duration::from_micros(50), "median {median:?}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_state_directory_that_cannot_hold_the_recording_leaves_the_recorder_off() {
    let dir = scratch("off");
    let not_a_dir = dir.join("state");
    fs::write(&not_a_dir, "a file").unwrap();
    let rec = harness::run();
    let s = &rec.start;
    let mut r = Recorder::spawn(&not_a_dir, s.now, &s.node, &s.manifest, &s.key_ids, 7);
    assert!(r.tx.is_none() && r.done.is_none());
    let (t, input, actions) = &rec.inputs[0];
    r.record(*t, input.clone(), actions);
    assert_eq!(fs::read_to_string(&not_a_dir).unwrap(), "a file");
    let mut r = Recorder::spawn(&dir, s.now, &s.node, &s.manifest, &s.key_ids, 7);
    r.record(*t, input.clone(), actions);
    drop(r);
    let (names, out) = replay_dir(&dir.join("recorder"));
    assert_eq!((names, out.inputs), (vec![name(7, 0)], 1));
    fs::remove_dir_all(&dir).unwrap();
}
