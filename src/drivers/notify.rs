//! Messages to systemd (`sd_notify`): named helpers that log when a send fails, so the agent
//! loop never handles notification errors itself. Outside systemd (`NOTIFY_SOCKET` unset)
//! every call is a no-op.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
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

/// WATCHDOG=1, on a socket kept open: it goes out several times a second, and sd_notify's
/// socket per message was most of the idle agent's system calls.
pub fn watchdog() {
    thread_local! {
        static SOCKET: Option<UnixDatagram> = notify_socket();
    }
    SOCKET.with(|s| match s {
        Some(s) => {
            if let Err(e) = s.send(b"WATCHDOG=1") {
                tracing::warn!(error = %e, notification = "watchdog", "cannot notify systemd");
            }
        }
        None => send("watchdog", &[NotifyState::Watchdog]),
    });
}

/// A datagram socket connected to `$NOTIFY_SOCKET` (a path or, with `@`, an abstract name).
fn notify_socket() -> Option<UnixDatagram> {
    let path = std::env::var_os("NOTIFY_SOCKET")?;
    let bytes = path.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name).ok()?,
        None => SocketAddr::from_pathname(Path::new(&path)).ok()?,
    };
    let s = UnixDatagram::unbound().ok()?;
    s.connect_addr(&addr).ok()?;
    Some(s)
}

/// Sets the watchdog timeout to `timeout`, whatever the unit file says: the bound comes from
/// the manifest's timers. Returns how often to ping (half of it, as systemd recommends), or
/// `None` when systemd runs no watchdog for this process.
pub fn arm_watchdog(timeout: Duration) -> Option<Duration> {
    sd_notify::watchdog_enabled()?;
    let usec = u32::try_from(timeout.as_micros()).unwrap_or(u32::MAX);
    send("watchdog timeout", &[NotifyState::WatchdogUsec(usec)]);
    Some(timeout / 2)
}
