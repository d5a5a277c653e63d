//! What a failed wait prints, so that whoever runs a test or the demo sees why without opening
//! the hosts: on each running host, the units that failed, and for each unit concerned its
//! `systemctl status` and the last lines of its journal.

use std::process::Output;
use std::time::Duration;

use crate::{Host, Result, TestBed};

/// Journal lines shown per unit: enough for the error and what led to it.
pub const JOURNAL_LINES: u32 = 30;

impl Host {
    /// The state of `units` on this host, for a failure message: the host's failed units, then
    /// for each unit its `systemctl status` and the last [`JOURNAL_LINES`] lines of its journal.
    pub fn report(&self, units: &[&str]) -> String {
        if self.pid().is_none() {
            return format!("=== host {}: not running\n", self.name());
        }
        let mut text = format!("=== host {}\n", self.name());
        let failed = self.exec(&["systemctl", "--failed", "--no-legend", "--plain"]);
        let failed = String::from_utf8_lossy(&failed.stdout);
        let failed: Vec<&str> = failed
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        text.push_str(&format!(
            "failed units: {}\n",
            if failed.is_empty() {
                "none".to_owned()
            } else {
                failed.join(", ")
            }
        ));
        let lines = JOURNAL_LINES.to_string();
        for unit in units {
            // The status without its own log lines: the journal follows.
            let status = self.exec(&["systemctl", "status", "--no-pager", "--lines=0", unit]);
            section(&mut text, &format!("systemctl status {unit}"), &status);
            let journal = self.exec(&[
                "journalctl",
                "--no-pager",
                "-o",
                "short-precise",
                "--no-hostname",
                "-n",
                &lines,
                "-u",
                unit,
            ]);
            section(
                &mut text,
                &format!("journalctl -u {unit} (last {lines} lines)"),
                &journal,
            );
        }
        text
    }
}

impl TestBed {
    /// [`Host::report`] of every running host.
    pub fn report(&self, units: &[&str]) -> String {
        self.hosts()
            .iter()
            .filter(|h| h.pid().is_some())
            .map(|h| h.report(units))
            .collect()
    }

    /// [`crate::cluster::wait_for`] that, when it times out, adds the [`TestBed::report`] of
    /// `units` to the error.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        units: &[&str],
        done: impl FnMut() -> bool,
    ) -> Result<Duration> {
        crate::cluster::wait_for(what, timeout, done)
            .map_err(|e| format!("{e}\n{}", self.report(units)))
    }
}

/// Appends a command's output (stdout, then stderr) under a heading, indented.
fn section(text: &mut String, heading: &str, out: &Output) {
    text.push_str(&format!("--- {heading}\n"));
    for part in [&out.stdout, &out.stderr] {
        for line in String::from_utf8_lossy(part).lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
    }
}
