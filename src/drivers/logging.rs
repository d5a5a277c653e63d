//! Logging: to the journal with structured fields when stderr is connected to it (systemd sets
//! `JOURNAL_STREAM` to stderr's device and inode), else plain lines on stderr without
//! timestamps. Engine events carry `HAAGENT_EVENT`, `NODE`, `GROUP`, `REASON` and a stable
//! `MESSAGE_ID` per kind, so `journalctl -u haagent HAAGENT_EVENT=acquire` finds every takeover.

use std::os::unix::fs::MetadataExt;

use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::engine::{Event, EventKind};

/// Whether stderr is the journal stream systemd gave us.
fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(fd) = std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    stream.to_string_lossy() == format!("{}:{}", meta.dev(), meta.ino())
}

/// Sets up logging at `level` (debug for `HAAGENT_DEBUG=1`) for haagent's own targets only.
pub fn init() {
    let level = if std::env::var_os("HAAGENT_DEBUG").is_some_and(|v| v == "1") {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let filter = Targets::new().with_target("haagent", level);
    let journald = stderr_is_journal()
        .then(|| tracing_journald::layer().ok())
        .flatten()
        .map(|l| {
            l.with_field_prefix(None)
                .with_syslog_identifier("haagent".into())
        });
    let fmt = journald.is_none().then(|| {
        tracing_subscriber::fmt::layer()
            .without_time()
            .with_target(false)
            .with_ansi(false)
            .with_writer(std::io::stderr)
    });
    let _ = tracing_subscriber::registry()
        .with(journald)
        .with(fmt)
        .with(filter)
        .try_init();
}

/// The `HAAGENT_EVENT` value of a kind: its snake_case name, as in recorded runs.
pub fn kind_name(kind: EventKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A journal MESSAGE_ID per kind: fixed forever, so catalogues and alerts can match on it.
pub fn message_id(kind: EventKind) -> &'static str {
    match kind {
        EventKind::PeerUp => "5e3b1f0c8a2d4c6e9b7a10f2d4c60101",
        EventKind::PeerLate => "5e3b1f0c8a2d4c6e9b7a10f2d4c60102",
        EventKind::PeerDead => "5e3b1f0c8a2d4c6e9b7a10f2d4c60103",
        EventKind::PeerLeft => "5e3b1f0c8a2d4c6e9b7a10f2d4c60104",
        EventKind::LinkUp => "5e3b1f0c8a2d4c6e9b7a10f2d4c60105",
        EventKind::LinkDown => "5e3b1f0c8a2d4c6e9b7a10f2d4c60106",
        EventKind::QuorumGained => "5e3b1f0c8a2d4c6e9b7a10f2d4c60107",
        EventKind::QuorumLost => "5e3b1f0c8a2d4c6e9b7a10f2d4c60108",
        EventKind::Acquire => "5e3b1f0c8a2d4c6e9b7a10f2d4c60109",
        EventKind::Release => "5e3b1f0c8a2d4c6e9b7a10f2d4c6010a",
        EventKind::Running => "5e3b1f0c8a2d4c6e9b7a10f2d4c6010b",
        EventKind::ResourceFailed => "5e3b1f0c8a2d4c6e9b7a10f2d4c6010c",
        EventKind::Fence => "5e3b1f0c8a2d4c6e9b7a10f2d4c6010d",
        EventKind::Operator => "5e3b1f0c8a2d4c6e9b7a10f2d4c6010e",
        EventKind::Dropped => "5e3b1f0c8a2d4c6e9b7a10f2d4c6010f",
        EventKind::Stray => "5e3b1f0c8a2d4c6e9b7a10f2d4c60110",
        EventKind::Released => "5e3b1f0c8a2d4c6e9b7a10f2d4c60111",
    }
}

fn level(kind: EventKind) -> Level {
    match kind {
        EventKind::PeerDead
        | EventKind::PeerLate
        | EventKind::LinkDown
        | EventKind::QuorumLost
        | EventKind::ResourceFailed
        | EventKind::Fence
        | EventKind::Dropped => Level::WARN,
        _ => Level::INFO,
    }
}

/// Logs one engine event with its structured fields.
pub fn event(e: &Event) {
    let kind = kind_name(e.kind);
    let subject = e
        .group
        .as_deref()
        .or(e.node.as_deref())
        .unwrap_or("cluster");
    macro_rules! emit {
        ($lvl:expr) => {
            tracing::event!(
                $lvl,
                haagent_event = kind.as_str(),
                message_id = message_id(e.kind),
                node = e.node.as_deref(),
                group = e.group.as_deref(),
                reason = e.reason.as_str(),
                "{subject}: {kind}: {}",
                e.reason
            )
        };
    }
    match level(e.kind) {
        Level::WARN => emit!(Level::WARN),
        _ => emit!(Level::INFO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_snake_names_and_distinct_ids() {
        assert_eq!(kind_name(EventKind::QuorumLost), "quorum_lost");
        let all = [
            EventKind::PeerUp,
            EventKind::PeerLate,
            EventKind::PeerDead,
            EventKind::PeerLeft,
            EventKind::LinkUp,
            EventKind::LinkDown,
            EventKind::QuorumGained,
            EventKind::QuorumLost,
            EventKind::Acquire,
            EventKind::Release,
            EventKind::Running,
            EventKind::Released,
            EventKind::ResourceFailed,
            EventKind::Fence,
            EventKind::Operator,
            EventKind::Dropped,
        ];
        let ids: std::collections::BTreeSet<_> = all.iter().map(|k| message_id(*k)).collect();
        assert_eq!(ids.len(), all.len());
        assert!(ids.iter().all(|id| id.len() == 32));
    }
}
