//! Fuzzes the manifest from text to the validation report, the path `haagentctl validate`
//! takes (without the checks of the host): any bytes, as the reader hands them over (at most
//! 1 MiB), must give a report without a panic, within a bounded time (libFuzzer's `-timeout`)
//! and at most 100 MiB of heap (counted here), with every problem located inside the text and
//! its message clipped. A manifest reported valid must be one the engine can run: it starts,
//! sends a heartbeat that encodes, and asks to be woken later, not at once.
//! Run: `fuzz/run 60 manifest`.
#![no_main]

use haagent::auth::KeyRing;
use haagent::engine::{Action, Engine, Input, Time};
use haagent::manifest::{self, Severity, check, limits};
use haagent::protocol::wire;
use haagent::text::MAX_MESSAGE;
use haagent_fuzz::alloc::{Counting, measure};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: Counting = Counting;

/// What the reader takes at most (`fsguard::MANIFEST`).
const CAP: usize = 1 << 20;
/// The most heap one manifest may take (issue 14).
const MAX_HEAP: usize = 100 << 20;
/// A rendered problem: file name, position, message and hint (clipped), and its YAML path.
const MAX_RENDERED: usize = 8 << 10;

const RING: &str = "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(CAP)];
    let (report, heap) = measure(|| manifest::parse_bytes(data));
    assert!(
        heap <= MAX_HEAP,
        "{heap} bytes of heap for {} bytes of text",
        data.len()
    );
    // YAML breaks lines at LF, CR and CR LF.
    let crlf = data.windows(2).filter(|w| w == b"\r\n").count();
    let breaks = data.iter().filter(|b| **b == b'\n' || **b == b'\r').count();
    let lines = breaks - crlf + 1;
    for p in &report.problems {
        assert!(
            p.line as usize <= lines,
            "problem at line {} of {lines}: {}",
            p.line,
            p.message
        );
        assert!(
            p.message.chars().count() <= MAX_MESSAGE + 1,
            "message unclipped: {}",
            p.message.len()
        );
        let rendered = p.render("fuzz.yaml");
        assert!(
            rendered.len() <= MAX_RENDERED,
            "a problem renders in {} bytes",
            rendered.len()
        );
    }
    let errors = report
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    assert_eq!(
        report.manifest.is_some(),
        errors == 0,
        "valid with errors, or invalid without"
    );
    let text = check::check_bytes("fuzz.yaml", data, false);
    let json = check::check_bytes("fuzz.yaml", data, true);
    assert_eq!(text.code, json.code);
    let value: serde_json::Value = serde_json::from_str(&json.output).expect("JSON output parses");
    assert_eq!(value["valid"], report.manifest.is_some());
    if let Some(m) = report.manifest {
        runs(m);
    }
});

/// A valid manifest runs: within the limits, its first node's engine starts, sends a datagram
/// that encodes, and its next deadline is in the future.
fn runs(m: manifest::Manifest) {
    assert!(m.nodes.len() <= limits::MAX_NODES && m.groups.len() <= limits::MAX_GROUPS);
    let t = &m.heartbeat;
    assert!(
        !t.interval.is_zero() && t.interval < t.dead_after,
        "timers {t:?}"
    );
    let Some(me) = m.nodes.keys().next().cloned() else {
        panic!("a valid manifest without nodes");
    };
    let ring = KeyRing::parse(RING).expect("the fixed ring parses");
    let mut engine = Engine::new(Time(1000), &me, m, vec![1], 1);
    let mut sent = false;
    for a in engine.handle(Time(1000), Input::Tick) {
        if let Action::Send {
            datagram, version, ..
        } = a
        {
            sent = true;
            if let Err(e) = wire::encode(&datagram, ring.signing(), version) {
                panic!("the first heartbeat of a valid manifest does not encode: {e}");
            }
        }
    }
    assert!(sent, "no heartbeat at start");
    let next = engine.next_deadline();
    assert!(
        next.is_none_or(|t| t > Time(1000)),
        "next deadline {next:?}: a busy loop"
    );
}
