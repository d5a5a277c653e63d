//! Who is calling: the unix user and groups of a D-Bus caller, asked of the bus
//! (`GetConnectionCredentials`, dbus-daemon 1.10+ and dbus-broker) and remembered per
//! connection, whose credentials are fixed when it connects. A bus that does not report the
//! groups gets them looked up in `/etc/passwd` and `/etc/group`, as its policy does.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use zbus::Connection;
use zbus::fdo::{self, ConnectionCredentials};
use zbus::message::Header;

use super::access::{self, Caller, Need};

/// Connections remembered at most; past that the memory starts over (a unique name is never
/// reused on a bus, so a forgotten caller is only asked about again).
const REMEMBERED: usize = 256;
/// How long the bus may take to say who a caller is.
const ASK_LIMIT: Duration = Duration::from_secs(5);
/// The most of `/etc/passwd` or `/etc/group` read.
const FILE_LIMIT: u64 = 4 << 20;

/// The callers seen so far, by unique bus name.
#[derive(Default)]
pub struct Callers {
    known: Mutex<HashMap<String, Caller>>,
}

impl Callers {
    /// `Ok` when the sender of the message `hdr` may make `call`; else AccessDenied saying why.
    /// Without a header or a sender the caller is unknown and refused.
    pub async fn check(
        &self,
        conn: &Connection,
        hdr: Option<&Header<'_>>,
        need: Need,
        call: &str,
    ) -> fdo::Result<()> {
        let Some(sender) = hdr.and_then(|h| h.sender()) else {
            return Err(fdo::Error::AccessDenied(format!(
                "{call}: the caller is unknown (the message has no sender)"
            )));
        };
        let caller = self.caller(conn, sender.as_str()).await?;
        // Root needs no group lookup.
        let group = (caller.uid != 0).then(haagent_gid).flatten();
        if access::allowed(need, &caller, group) {
            return Ok(());
        }
        tracing::warn!(
            uid = caller.uid,
            call,
            sender = sender.as_str(),
            "control call refused"
        );
        Err(fdo::Error::AccessDenied(access::refusal(
            need, caller.uid, call,
        )))
    }

    async fn caller(&self, conn: &Connection, sender: &str) -> fdo::Result<Caller> {
        if let Some(c) = self.lock().get(sender) {
            return Ok(c.clone());
        }
        let unknown = |why: String| {
            fdo::Error::AccessDenied(format!("cannot tell who is calling ({sender}): {why}"))
        };
        let creds = tokio::time::timeout(ASK_LIMIT, credentials(conn, sender))
            .await
            .map_err(|_| unknown(format!("the bus did not answer within {ASK_LIMIT:?}")))?
            .map_err(|e| unknown(e.to_string()))?;
        let uid = creds
            .unix_user_id()
            .ok_or_else(|| unknown("the bus does not report its unix user".into()))?;
        let gids = match creds.into_unix_group_ids() {
            Some(gids) => gids,
            None => access::groups_of(&read("/etc/passwd"), &read("/etc/group"), uid),
        };
        let caller = Caller { uid, gids };
        let mut known = self.lock();
        if known.len() >= REMEMBERED {
            known.clear();
        }
        known.insert(sender.to_owned(), caller.clone());
        Ok(caller)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Caller>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `org.freedesktop.DBus.GetConnectionCredentials(sender)`.
async fn credentials(conn: &Connection, sender: &str) -> zbus::Result<ConnectionCredentials> {
    let reply = conn
        .call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "GetConnectionCredentials",
            &(sender,),
        )
        .await?;
    reply.body().deserialize()
}

/// The id of the `haagent` group now (a group added later counts at once); `None` without it.
fn haagent_gid() -> Option<u32> {
    access::group_id(&read("/etc/group"), access::GROUP)
}

/// A system file's text, empty when unreadable: an unreadable group file grants nothing.
fn read(path: &str) -> String {
    let mut text = String::new();
    if let Err(e) =
        std::fs::File::open(path).and_then(|f| f.take(FILE_LIMIT).read_to_string(&mut text))
    {
        tracing::warn!(path, error = %e, "cannot read; callers other than root are refused");
        text.clear();
    }
    text
}
