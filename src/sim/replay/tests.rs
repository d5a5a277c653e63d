//! Replays of recordings made in memory by running two engines (`harness.rs`): reproduced,
//! edited, split into files, with inputs lost or removed, and malformed.

use super::format::{self, Header, Line, Lost};
use super::harness::{self, Recorded};
use super::{RecordingFile, replay};
use crate::engine::Action;

fn one(name: &str, text: &str) -> Result<super::Outcome, super::ReplayError> {
    replay(&[RecordingFile { name, text }])
}

fn recorded() -> Recorded {
    let rec = harness::run();
    let did = |f: &dyn Fn(&Action) -> bool| {
        rec.inputs
            .iter()
            .flat_map(|r| &r.2)
            .filter(|a| f(a))
            .count()
    };
    // The script happened: alpha started web, gave it up for the planned move and took it
    // back after beta's power cut.
    assert_eq!(did(&|a| matches!(a, Action::StartUnit { .. })), 2);
    assert_eq!(did(&|a| matches!(a, Action::StopUnit { .. })), 1);
    rec
}

/// The text with line `n` (from 0) changed by `edit`.
fn edit_line(text: &str, n: usize, edit: impl Fn(&str) -> String) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[n] = edit(&lines[n]);
    lines.join("\n") + "\n"
}

#[test]
fn a_recording_replays_with_every_action_reproduced() {
    let rec = recorded();
    let out = one("alpha.jsonl", &rec.text()).unwrap();
    let actions: usize = rec.inputs.iter().map(|r| r.2.len()).sum();
    assert!(out.divergence.is_none(), "{:?}", out.divergence);
    assert!(out.gaps.is_empty() && out.partial.is_empty(), "{out:?}");
    assert_eq!(out.inputs, rec.inputs.len() as u64);
    assert_eq!(out.actions, actions as u64);
    assert_eq!(out.runs.len(), 1);
    assert_eq!(
        (out.runs[0].node.as_str(), out.runs[0].generation),
        ("alpha", 7)
    );
}

#[test]
fn an_edited_action_is_the_first_divergence_with_its_input_and_line() {
    let rec = recorded();
    let text = rec.text();
    let n = rec
        .inputs
        .iter()
        .position(|r| r.2.iter().any(|a| matches!(a, Action::StartUnit { .. })))
        .unwrap();
    let edited = edit_line(&text, n + 1, |l| l.replace("app.service", "db.service"));
    let out = one("alpha.jsonl", &edited).unwrap();
    let d = out.divergence.expect("a divergence");
    assert_eq!(
        (d.input, d.line, d.file.as_str()),
        (n as u64, n as u64 + 2, "alpha.jsonl")
    );
    assert!(
        d.expected.to_string().contains("db.service"),
        "{}",
        d.expected
    );
    assert!(d.got.to_string().contains("app.service"), "{}", d.got);
    assert_eq!(out.inputs, n as u64, "inputs before it were reproduced");
}

#[test]
fn files_of_a_run_replay_in_order_and_missing_ones_are_gaps_not_divergences() {
    let rec = recorded();
    let len = rec.inputs.len();
    let (a, b) = (len / 3, 2 * len / 3);
    let files = [rec.file(0, 0..a), rec.file(1, a..b), rec.file(2, b..len)];
    let named = |i: usize| RecordingFile {
        name: ["f0", "f1", "f2"][i],
        text: &files[i],
    };
    let out = replay(&[named(2), named(0), named(1)]).unwrap();
    assert!(out.divergence.is_none() && out.gaps.is_empty(), "{out:?}");
    assert_eq!((out.inputs, out.runs[0].files), (len as u64, 3));

    let out = replay(&[named(1), named(2)]).unwrap();
    assert_eq!(out.inputs, 0);
    assert!(out.divergence.is_none());
    assert!(
        out.gaps[0]
            .why
            .contains("its first file, which holds the start, is missing")
    );
    assert_eq!((out.gaps[0].file.as_str(), out.gaps[0].from), ("f1", 0));

    let out = replay(&[named(0), named(2)]).unwrap();
    assert_eq!(out.inputs, a as u64);
    assert!(out.divergence.is_none());
    let why = &out.gaps[0].why;
    assert!(
        why.contains(&format!("inputs {a} to {} are not in the files", b - 1)),
        "{why}"
    );

    let e = replay(&[named(0), named(0)]).unwrap_err();
    assert!(
        e.why.contains("file 0 of this run is also given as f0"),
        "{e}"
    );
}

#[test]
fn lost_or_removed_inputs_stop_the_replay_with_a_gap() {
    let rec = recorded();
    let text = rec.text();
    let marker = format::lost_line(&Lost { lost: 3, n: 40 }).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.splice(41..44, [marker.trim_end()]);
    let out = one("lost", &(lines.join("\n") + "\n")).unwrap();
    assert!(out.divergence.is_none());
    assert_eq!(out.inputs, 40);
    assert_eq!((out.gaps[0].line, out.gaps[0].from), (42, 40));
    assert!(
        out.gaps[0]
            .why
            .contains("the recorder lost 3 input(s) here")
    );

    lines.remove(41);
    let out = one("cut", &(lines.join("\n") + "\n")).unwrap();
    assert!(out.divergence.is_none());
    assert!(
        out.gaps[0].why.contains("inputs 40 to 42 are missing"),
        "{:?}",
        out.gaps
    );
}

#[test]
fn a_malformed_file_is_refused_with_its_line_and_a_partial_last_line_is_ignored() {
    let rec = recorded();
    let text = rec.text();
    let e = one("g", &edit_line(&text, 4, |_| "{\"n\": 3".into())).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("g", 5));
    assert!(e.why.starts_with("not JSON"), "{e}");
    let e = one(
        "g",
        &edit_line(&text, 4, |l| l.replace("\"t\"", "\"time\"")),
    )
    .unwrap_err();
    assert!(e.why.contains("unknown field `time`"), "{e}");
    let e = one("empty", "").unwrap_err();
    assert_eq!((e.line, e.why.as_str()), (1, "the file is empty"));
    let e = one(
        "v2",
        &text.replacen("\"haagent_recording\":1", "\"haagent_recording\":2", 1),
    )
    .unwrap_err();
    assert!(
        e.why
            .contains("recording format 2, but this haagentctl reads format 1"),
        "{e}"
    );
    let slower = text.replacen("\"nanos\":500000000", "\"nanos\":600000000", 1);
    let e = one("m", &slower).unwrap_err();
    assert!(
        e.why.contains("the manifest does not match its digest"),
        "{e}"
    );

    let cut = &text[..text.len() - 10];
    let out = one("copy", cut).unwrap();
    assert!(out.divergence.is_none() && out.gaps.is_empty());
    assert_eq!(out.inputs, rec.inputs.len() as u64 - 1);
    assert_eq!(out.partial, ["copy"]);
}

#[test]
fn header_and_marker_lines_read_back_as_written() {
    let rec = recorded();
    let h = Header {
        haagent_recording: format::VERSION,
        file: 3,
        first_input: 12,
        t: crate::engine::Time(1500),
        wall_ms: 1_700_000_000_000,
        start: rec.start.clone(),
    };
    let line = format::header_line(&h).unwrap();
    assert!(line.ends_with('\n') && line.lines().count() == 1);
    assert_eq!(format::parse_header(line.trim_end()).unwrap(), h);
    let lost = Lost { lost: 2, n: 9 };
    match format::parse_line(&format::lost_line(&lost).unwrap()).unwrap() {
        Line::Lost(l) => assert_eq!(l, lost),
        Line::Entry(e) => panic!("{e:?}"),
    }
}

#[test]
fn inputs_no_daemon_would_feed_are_replayed_without_a_crash() {
    use crate::engine::{Command, Input, Op, ResourceRef, Time};
    let rec = recorded();
    let odd = [
        Input::Done {
            res: ResourceRef::new("web", 99),
            op: Op::Start,
            ok: true,
            detail: String::new(),
        },
        Input::Fenced {
            node: "nosuch".into(),
            ok: true,
        },
        Input::Control(Command::Failover {
            group: "nosuch".into(),
            to: "zeta".into(),
        }),
        Input::Control(Command::Standby {
            node: "zeta".into(),
            on: true,
        }),
        Input::Keys { ids: vec![] },
    ];
    for input in odd {
        let mut inputs = rec.inputs[..60].to_vec();
        inputs.push((Time(u64::MAX - 5), input, vec![]));
        inputs.push((Time(u64::MAX), Input::Tick, vec![]));
        let edited = Recorded {
            start: rec.start.clone(),
            inputs,
        };
        let out = one("odd", &edited.text()).unwrap();
        assert!(out.inputs >= 60, "{out:?}");
    }
}
