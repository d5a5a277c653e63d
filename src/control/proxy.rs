//! The client side of `org.haagent.Agent1`, for `haagentctl`.

use zbus::proxy;

/// The agent's D-Bus interface as a client sees it.
#[proxy(
    interface = "org.haagent.Agent1",
    default_service = "org.haagent.Agent1",
    default_path = "/org/haagent/Agent1"
)]
pub trait Agent {
    /// The cluster as the agent sees it, as JSON (see `control::status::Status`).
    fn status(&self) -> zbus::Result<String>;
    /// Moves `group` to `to_node` (planned, no overlap), until cleared.
    fn failover(&self, group: &str, to_node: &str) -> zbus::Result<()>;
    /// Moves `group` to `to_node`, or where the agent's engine picks when `to_node` is empty;
    /// returns the node it goes to.
    #[zbus(name = "Move")]
    fn move_group(&self, group: &str, to_node: &str) -> zbus::Result<String>;
    /// Puts `node` in standby: it gives up its groups and takes none.
    fn standby(&self, node: &str) -> zbus::Result<()>;
    /// Takes `node` out of standby.
    fn online(&self, node: &str) -> zbus::Result<()>;
    /// Forgets moves and failures of `group`.
    fn clear(&self, group: &str) -> zbus::Result<()>;
    /// Says `group` no longer runs on `node` (checked by hand), where its stop failed.
    fn unblock(&self, group: &str, node: &str) -> zbus::Result<()>;
    /// Maintenance of `group` (empty: the whole cluster) on or off.
    fn maintenance(&self, group: &str, on: bool) -> zbus::Result<()>;
    /// Re-reads the manifest (as SIGHUP does).
    fn reload(&self) -> zbus::Result<()>;
    /// This node's name.
    #[zbus(property)]
    fn node(&self) -> zbus::Result<String>;
    /// Whether this node has quorum.
    #[zbus(property)]
    fn quorate(&self) -> zbus::Result<bool>;
    /// `active` or `standby`.
    #[zbus(property)]
    fn role(&self) -> zbus::Result<String>;
    /// An ownership or membership change: event kind, node, group, reason.
    #[zbus(signal)]
    fn changed(&self, kind: &str, node: &str, group: &str, reason: &str) -> zbus::Result<()>;
}
