//! The server side of `org.haagent.Agent1`: every call is checked against its caller first
//! ([`super::access`]: root changes, root and the `haagent` group read), then becomes a request
//! to the agent loop, which owns the engine and answers (or refuses, naming what exists, so a
//! typo is an error and not an ignored intent). Requests wait in a bounded queue: when it is
//! full the caller is told the agent is busy. `Changed` signals go out for every ownership and
//! membership event; the bus policy delivers them only to root and the `haagent` group.

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{Connection, fdo, interface};

use super::access::Need;
use super::callers::Callers;
use super::status::Status;
use super::{BUS_NAME, PATH};
use crate::engine::{Command, Event};

/// How many requests may wait for the agent loop; one more is refused as busy.
pub const QUEUE: usize = 64;

/// What the interface asks of the agent loop.
#[derive(Clone, Debug, PartialEq)]
pub enum Ask {
    /// The status, as JSON.
    Status,
    /// An operator command for the engine.
    Command(Command),
    /// Re-read the manifest.
    Reload,
}

/// A question for the loop and where its answer goes: text, or an error for the caller.
#[derive(Debug)]
pub struct Request {
    /// The question.
    pub ask: Ask,
    /// The answer.
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// The queue of requests from the interface to the agent loop, bounded at [`QUEUE`].
pub fn requests() -> (mpsc::Sender<Request>, mpsc::Receiver<Request>) {
    mpsc::channel(QUEUE)
}

/// The served object.
pub struct Agent {
    requests: mpsc::Sender<Request>,
    node: String,
    callers: Callers,
}

impl Agent {
    /// Queues `ask` for the loop without waiting for room, and waits for its answer.
    async fn ask(&self, ask: Ask) -> fdo::Result<String> {
        let (reply, answer) = oneshot::channel();
        let gone = || fdo::Error::Failed("the agent is shutting down".into());
        self.requests
            .try_send(Request { ask, reply })
            .map_err(|e| match e {
                TrySendError::Full(_) => fdo::Error::LimitsExceeded(format!(
                    "the agent is busy: {QUEUE} requests are already waiting; try again"
                )),
                TrySendError::Closed(_) => gone(),
            })?;
        answer
            .await
            .map_err(|_| gone())?
            .map_err(fdo::Error::InvalidArgs)
    }

    async fn view(&self) -> fdo::Result<Status> {
        let json = self.ask(Ask::Status).await?;
        serde_json::from_str(&json).map_err(|e| fdo::Error::Failed(e.to_string()))
    }

    /// Refuses a change by a caller other than root.
    async fn may_change(&self, conn: &Connection, hdr: &Header<'_>, call: &str) -> fdo::Result<()> {
        self.callers
            .check(conn, Some(hdr), Need::Change, call)
            .await
    }

    async fn command(&self, c: Command) -> fdo::Result<()> {
        self.ask(Ask::Command(c)).await.map(drop)
    }

    /// Refuses a read by a caller who is neither root nor in the `haagent` group.
    async fn may_read(
        &self,
        conn: &Connection,
        hdr: Option<&Header<'_>>,
        what: &str,
    ) -> fdo::Result<()> {
        self.callers.check(conn, hdr, Need::Read, what).await
    }
}

#[interface(name = "org.haagent.Agent1")]
impl Agent {
    async fn status(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<String> {
        self.may_read(conn, Some(&hdr), "Status").await?;
        self.ask(Ask::Status).await
    }

    async fn failover(
        &self,
        group: &str,
        to_node: &str,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<()> {
        self.may_change(conn, &hdr, "Failover").await?;
        let (group, to) = (group.into(), to_node.into());
        self.command(Command::Failover { group, to }).await
    }

    /// Moves `group` to `to_node`, or, when `to_node` is empty, to the node the agent's engine
    /// picks (the most preferred eligible node other than the one running it); returns the node.
    #[zbus(name = "Move")]
    async fn move_group(
        &self,
        group: &str,
        to_node: &str,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<String> {
        self.may_change(conn, &hdr, "Move").await?;
        let (group, to) = (group.into(), to_node.into());
        self.ask(Ask::Command(Command::Failover { group, to }))
            .await
    }

    async fn standby(
        &self,
        node: &str,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<()> {
        self.may_change(conn, &hdr, "Standby").await?;
        let node = node.into();
        self.command(Command::Standby { node, on: true }).await
    }

    async fn online(
        &self,
        node: &str,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<()> {
        self.may_change(conn, &hdr, "Online").await?;
        let node = node.into();
        self.command(Command::Standby { node, on: false }).await
    }

    async fn clear(
        &self,
        group: &str,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<()> {
        self.may_change(conn, &hdr, "Clear").await?;
        let group = group.into();
        self.command(Command::Clear { group }).await
    }

    /// An operator checked by hand that `group` no longer runs on `node`, where a stop failed.
    async fn unblock(
        &self,
        group: &str,
        node: &str,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<()> {
        self.may_change(conn, &hdr, "Unblock").await?;
        let (group, node) = (group.into(), node.into());
        self.command(Command::Unblock { group, node }).await
    }

    /// Maintenance of `group` (empty: the whole cluster) on or off, for every node.
    async fn maintenance(
        &self,
        group: &str,
        on: bool,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<()> {
        self.may_change(conn, &hdr, "Maintenance").await?;
        let group = (!group.is_empty()).then(|| group.to_owned());
        self.command(Command::Maintenance { group, on }).await
    }

    async fn reload(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<()> {
        self.may_change(conn, &hdr, "Reload").await?;
        self.ask(Ask::Reload).await.map(drop)
    }

    /// This node's name. (A denied caller's `GetAll` leaves out every property.)
    #[zbus(property(emits_changed_signal = "const"))]
    async fn node(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Option<Header<'_>>,
    ) -> fdo::Result<String> {
        self.may_read(conn, hdr.as_ref(), "the Node property")
            .await?;
        Ok(self.node.clone())
    }

    /// Whether this node has quorum.
    #[zbus(property(emits_changed_signal = "false"))]
    async fn quorate(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Option<Header<'_>>,
    ) -> fdo::Result<bool> {
        self.may_read(conn, hdr.as_ref(), "the Quorate property")
            .await?;
        Ok(self.view().await?.quorate)
    }

    /// `active` while this node runs (or starts, or stops) a group, else `standby`.
    #[zbus(property(emits_changed_signal = "false"))]
    async fn role(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Option<Header<'_>>,
    ) -> fdo::Result<String> {
        self.may_read(conn, hdr.as_ref(), "the Role property")
            .await?;
        let s = self.view().await?;
        let active = s
            .groups
            .values()
            .any(|g| g.owner.as_deref() == Some(&s.node));
        Ok(if active { "active" } else { "standby" }.into())
    }

    /// The whole cluster view, as the `Status` method returns it.
    #[zbus(property(emits_changed_signal = "false"))]
    async fn view_json(
        &self,
        #[zbus(connection)] conn: &Connection,
        #[zbus(header)] hdr: Option<Header<'_>>,
    ) -> fdo::Result<String> {
        self.may_read(conn, hdr.as_ref(), "the ViewJson property")
            .await?;
        self.ask(Ask::Status).await
    }

    /// An ownership or membership change: event kind, node, group (empty if none), reason.
    #[zbus(signal)]
    async fn changed(
        emitter: &SignalEmitter<'_>,
        kind: &str,
        node: &str,
        group: &str,
        reason: &str,
    ) -> zbus::Result<()>;
}

/// Serves the interface on the system bus under [`BUS_NAME`].
pub async fn serve(node: &str, requests: mpsc::Sender<Request>) -> zbus::Result<Connection> {
    let agent = Agent {
        requests,
        node: node.to_owned(),
        callers: Callers::default(),
    };
    zbus::connection::Builder::system()
        .name(BUS_NAME)
        .serve_at(PATH, agent)
        .build()
        .await
}

/// Emits `Changed` for an event (in the background: the loop never waits on the bus).
pub fn announce(conn: &Connection, e: &Event) {
    let conn = conn.clone();
    let kind = crate::drivers::logging::kind_name(e.kind);
    let (node, group, reason) = (
        e.node.clone().unwrap_or_default(),
        e.group.clone().unwrap_or_default(),
        e.reason.clone(),
    );
    tokio::spawn(async move {
        let Ok(emitter) = SignalEmitter::new(&conn, PATH) else {
            return;
        };
        if let Err(err) = Agent::changed(&emitter, &kind, &node, &group, &reason).await {
            tracing::debug!(error = %err, "cannot emit Changed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(requests: mpsc::Sender<Request>) -> Agent {
        Agent {
            requests,
            node: "alpha".into(),
            callers: Callers::default(),
        }
    }

    #[tokio::test]
    async fn a_full_queue_makes_the_caller_busy_at_once() {
        let (tx, mut rx) = requests();
        let a = agent(tx.clone());
        for _ in 0..QUEUE {
            let (reply, _) = oneshot::channel();
            tx.try_send(Request {
                ask: Ask::Status,
                reply,
            })
            .unwrap();
        }
        let err = a.ask(Ask::Status).await.unwrap_err();
        assert!(
            matches!(&err, fdo::Error::LimitsExceeded(m) if m.contains("busy")),
            "{err:?}"
        );
        // Once the loop takes one, there is room again.
        rx.recv().await.unwrap();
        let answering = tokio::spawn(async move { a.ask(Ask::Reload).await });
        for _ in 0..QUEUE - 1 {
            rx.recv().await.unwrap();
        }
        let r = rx.recv().await.unwrap();
        assert_eq!(r.ask, Ask::Reload);
        r.reply.send(Err("reload refused".into())).unwrap();
        let err = answering.await.unwrap().unwrap_err();
        assert_eq!(err, fdo::Error::InvalidArgs("reload refused".into()));
    }

    #[tokio::test]
    async fn a_stopped_loop_is_reported_as_shutting_down() {
        let (tx, rx) = requests();
        drop(rx);
        let err = agent(tx).ask(Ask::Status).await.unwrap_err();
        assert_eq!(err, fdo::Error::Failed("the agent is shutting down".into()));
    }
}
