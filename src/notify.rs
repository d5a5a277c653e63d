//! Messages to systemd (`sd_notify`): named helpers that log when a send fails, so the agent
//! loop never handles notification errors itself. Outside systemd (`NOTIFY_SOCKET` unset)
//! every call is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(what: &str, states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, notification = what, "cannot notify systemd");
    }
}

/// READY=1, with the first status line.
pub fn ready(status: &str) {
    send("ready", &[NotifyState::Ready, NotifyState::Status(status)]);
}

/// STATUS=...
pub fn status(text: &str) {
    send("status", &[NotifyState::Status(text)]);
}

/// RELOADING=1 with the monotonic time systemd asks for, then the new status.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send("reloading", &[NotifyState::Reloading, now]),
        Err(_) => send("reloading", &[NotifyState::Reloading]),
    }
}

/// STOPPING=1.
pub fn stopping() {
    send("stopping", &[NotifyState::Stopping]);
}

/// WATCHDOG=1.
pub fn watchdog() {
    send("watchdog", &[NotifyState::Watchdog]);
}

/// Sets the watchdog timeout to `timeout`, whatever the unit file says: the bound comes from
/// the manifest's timers. Returns how often to ping (a quarter of it), or `None` when systemd
/// runs no watchdog for this process.
pub fn arm_watchdog(timeout: Duration) -> Option<Duration> {
    sd_notify::watchdog_enabled()?;
    let usec = u32::try_from(timeout.as_micros()).unwrap_or(u32::MAX);
    send("watchdog timeout", &[NotifyState::WatchdogUsec(usec)]);
    Some(timeout / 4)
}
