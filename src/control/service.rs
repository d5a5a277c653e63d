//! The server side of `org.haagent.Agent1`: every method becomes a request to the agent loop,
//! which owns the engine and answers (or refuses, naming what exists, so a typo is an error and
//! not an ignored intent); `Changed` signals go out for every ownership and membership event.

use tokio::sync::{mpsc, oneshot};
use zbus::object_server::SignalEmitter;
use zbus::{Connection, fdo, interface};

use super::status::Status;
use super::{BUS_NAME, PATH};
use crate::engine::{Command, Event};

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

/// The served object.
pub struct Agent {
    requests: mpsc::UnboundedSender<Request>,
    node: String,
}

impl Agent {
    async fn ask(&self, ask: Ask) -> fdo::Result<String> {
        let (reply, answer) = oneshot::channel();
        let gone = || fdo::Error::Failed("the agent is shutting down".into());
        self.requests
            .send(Request { ask, reply })
            .map_err(|_| gone())?;
        answer
            .await
            .map_err(|_| gone())?
            .map_err(fdo::Error::InvalidArgs)
    }

    async fn view(&self) -> fdo::Result<Status> {
        let json = self.ask(Ask::Status).await?;
        serde_json::from_str(&json).map_err(|e| fdo::Error::Failed(e.to_string()))
    }

    async fn command(&self, c: Command) -> fdo::Result<()> {
        self.ask(Ask::Command(c)).await.map(drop)
    }
}

#[interface(name = "org.haagent.Agent1")]
impl Agent {
    async fn status(&self) -> fdo::Result<String> {
        self.ask(Ask::Status).await
    }

    async fn failover(&self, group: &str, to_node: &str) -> fdo::Result<()> {
        let (group, to) = (group.into(), to_node.into());
        self.command(Command::Failover { group, to }).await
    }

    async fn standby(&self, node: &str) -> fdo::Result<()> {
        let node = node.into();
        self.command(Command::Standby { node, on: true }).await
    }

    async fn online(&self, node: &str) -> fdo::Result<()> {
        let node = node.into();
        self.command(Command::Standby { node, on: false }).await
    }

    async fn clear(&self, group: &str) -> fdo::Result<()> {
        let group = group.into();
        self.command(Command::Clear { group }).await
    }

    async fn reload(&self) -> fdo::Result<()> {
        self.ask(Ask::Reload).await.map(drop)
    }

    #[zbus(property)]
    async fn node(&self) -> String {
        self.node.clone()
    }

    /// Whether this node has quorum.
    #[zbus(property)]
    async fn quorate(&self) -> fdo::Result<bool> {
        Ok(self.view().await?.quorate)
    }

    /// `active` while this node runs (or starts, or stops) a group, else `standby`.
    #[zbus(property)]
    async fn role(&self) -> fdo::Result<String> {
        let s = self.view().await?;
        let active = s
            .groups
            .values()
            .any(|g| g.owner.as_deref() == Some(&s.node));
        Ok(if active { "active" } else { "standby" }.into())
    }

    /// The whole cluster view, as the `Status` method returns it.
    #[zbus(property)]
    async fn view_json(&self) -> fdo::Result<String> {
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
pub async fn serve(
    node: &str,
    requests: mpsc::UnboundedSender<Request>,
) -> zbus::Result<Connection> {
    let agent = Agent {
        requests,
        node: node.to_owned(),
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
