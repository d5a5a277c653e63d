//! The manifest exactly as written: a serde mirror of the YAML with no checks beyond shape.
//!
//! Every field is optional or a plain string where a typo should become a located, explained
//! error in `validate` rather than a bare serde failure. Unknown keys are collected by the loader
//! (and reported, all of them); the schema marks every object closed so editors flag them too.
//! Closed choices (`transport: unicast`...) are read as strings for the same reason; their enums
//! below exist for the schema, and `validate` accepts exactly their lowercase variant names.
//! Doc comments here become the descriptions editors show from `schema/haagent.schema.json`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A haagent cluster manifest: one file, identical on every node.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "haagent cluster manifest")]
pub struct RawManifest {
    /// Required. Cluster name; nodes only accept heartbeats carrying the same name.
    pub cluster: Option<String>,
    /// Required. The nodes, by name. A node's name is its hostname unless `haagent --node` says
    /// otherwise.
    pub nodes: Option<BTreeMap<String, RawNode>>,
    /// How nodes exchange heartbeats and when a silent node is declared dead.
    pub heartbeat: Option<RawHeartbeat>,
    /// Required. Where the heartbeat authentication keys come from.
    pub auth: Option<RawAuth>,
    /// Quorum rules: who may run stateful groups when the cluster splits.
    pub quorum: Option<RawQuorum>,
    /// Fencing (STONITH) through systemd units.
    pub fencing: Option<RawFencing>,
    /// Ping targets that measure each node's connectivity.
    pub connectivity: Option<RawConnectivity>,
    /// Resource groups, by name: each runs on exactly one node at a time.
    pub groups: Option<BTreeMap<String, RawGroup>>,
    /// A systemd template unit started on acquire, release, failure, peer death and quorum
    /// changes. Off by default.
    pub notify: Option<RawNotify>,
    /// A Prometheus endpoint (`GET /metrics`). Off by default.
    pub metrics: Option<RawMetrics>,
}

/// Notifications through a systemd template unit.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Notify")]
pub struct RawNotify {
    /// Required. A template service, e.g. `haagent-notify@.service`, started once per event with
    /// the instance `EVENT/GROUP/NODE/REASON`, systemd-escaped (`%I` in the unit gives it back).
    pub unit: Option<String>,
    /// The StartUnit job mode: `fail` (default: never cancels another job of the unit) or
    /// `replace`.
    #[schemars(with = "Option<RawJobMode>")]
    pub mode: Option<String>,
}

/// StartUnit job modes a notification may use.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "JobMode")]
pub enum RawJobMode {
    /// Refuse to start when it conflicts with a job already queued.
    Fail,
    /// Replace conflicting queued jobs.
    Replace,
}

/// The Prometheus endpoint.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Metrics")]
pub struct RawMetrics {
    /// Required. `ADDRESS:PORT` to listen on, the same on every node: e.g. `127.0.0.1:9464`,
    /// `0.0.0.0:9464` or `[::]:9464`.
    pub listen: Option<String>,
}

/// One cluster node.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Node")]
pub struct RawNode {
    /// The node's address for unicast heartbeat links (IPv4 or IPv6).
    #[schemars(extend("format" = "ip"))]
    pub address: Option<String>,
    /// Per-link addresses, by link name, overriding `address` on that link.
    pub addresses: Option<BTreeMap<String, String>>,
    /// A witness votes for quorum but never holds groups.
    pub witness: Option<bool>,
    /// The fence unit for this node, overriding `fencing.unit` (`%i` is the node name).
    pub fence: Option<String>,
}

/// Heartbeat timing and links.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Heartbeat")]
pub struct RawHeartbeat {
    /// Default UDP port of every link (694, as Heartbeat).
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u32>,
    /// Time between two heartbeats on each link (Heartbeat's `keepalive`). Default 500ms.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: Option<String>,
    /// Log a late heartbeat after this much silence (`warntime`). Default: halfway between
    /// `interval` and `dead_after`.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub warn_after: Option<String>,
    /// Declare a node dead after this much silence on every link (`deadtime`). Default 3s.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub dead_after: Option<String>,
    /// Grace period at start-up before unseen nodes count as dead (`initdead`). Default: twice
    /// `dead_after`.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub initial_dead: Option<String>,
    /// The links heartbeats travel on; a node is alive while any link carries its heartbeats.
    pub links: Option<Vec<RawLink>>,
}

/// Duration syntax: one or more number-unit pairs, e.g. `200ms`, `2s`, `1.5s`, `1m30s`.
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";

/// One heartbeat link.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Link")]
pub struct RawLink {
    /// Link name, used by `nodes.*.addresses` and in status output. Default `link0`, `link1`...
    pub name: Option<String>,
    /// How heartbeats are sent on this link.
    #[schemars(with = "Option<RawTransport>")]
    pub transport: Option<String>,
    /// Network interface to send and listen on.
    pub interface: Option<String>,
    /// UDP port of this link. Default `heartbeat.port`.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u32>,
    /// Multicast group (multicast links only). Default 239.0.0.94 or ff02::94, by address family
    /// of `family`.
    #[schemars(extend("format" = "ip"))]
    pub group: Option<String>,
    /// Multicast TTL / hop limit (multicast links only). Default 1.
    #[schemars(range(min = 1, max = 255))]
    pub ttl: Option<u32>,
    /// Address family of a multicast link without `group`: `ipv4` (default) or `ipv6`.
    #[schemars(with = "Option<RawFamily>")]
    pub family: Option<String>,
}

/// Heartbeat transport.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Transport")]
pub enum RawTransport {
    /// To every other node's address on this link.
    Unicast,
    /// To a multicast group joined on the interface.
    Multicast,
    /// To the interface's IPv4 broadcast address.
    Broadcast,
}

/// IP address family.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Family")]
pub enum RawFamily {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// Authentication keys: exactly one of `key_file` or `credential`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Auth")]
pub struct RawAuth {
    /// Absolute path of the key file: lines `ID HEX-SECRET`, the first key signs.
    pub key_file: Option<String>,
    /// Name of a systemd credential (`LoadCredential=`) holding the key file's text.
    pub credential: Option<String>,
}

/// Quorum settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Quorum")]
pub struct RawQuorum {
    /// Two-voter clusters: how a split between the two nodes is decided.
    pub two_node: Option<RawTwoNode>,
    /// On first start, run no stateful group before every node was seen once. Default true.
    pub wait_for_all: Option<bool>,
}

/// Two-node tie-breaking.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "TwoNode")]
pub struct RawTwoNode {
    /// `ping`: the side that reaches the `connectivity.ping` targets wins; `none`: rely on
    /// fencing alone.
    #[schemars(with = "Option<RawTieBreaker>")]
    pub tie_breaker: Option<String>,
}

/// Two-node tie-breaker.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "TieBreaker")]
pub enum RawTieBreaker {
    /// The side that reaches the ping targets may run stateful groups.
    Ping,
    /// No tie-breaker: fencing must be configured.
    None,
}

/// Fencing settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Fencing")]
pub struct RawFencing {
    /// Unit that fences a node, `%i` standing for its name, e.g. `fence-ipmi@%i.service`.
    pub unit: Option<String>,
    /// Take over a stateful group from a dead node only after its fence unit succeeded.
    /// Default: true when any node has a fence unit.
    pub required: Option<bool>,
}

/// Connectivity checks.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Connectivity")]
pub struct RawConnectivity {
    /// Addresses to ping; a node reaching fewer of them than a peer is not eligible for groups.
    pub ping: Option<Vec<String>>,
    /// Time between pings. Default 1s.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: Option<String>,
    /// A target not answering for this long counts as unreachable. Default 3s.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub timeout: Option<String>,
}

/// A resource group.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Group")]
pub struct RawGroup {
    /// Required. Nodes that may run the group, in order of preference: the first is its home.
    pub nodes: Option<Vec<String>>,
    /// Move the group back to a more preferred node when it returns (Heartbeat's
    /// `auto_failback`). Default false.
    pub failback: Option<bool>,
    /// Whether the group must never run on two nodes at once. Default: true if it has a unit.
    pub stateful: Option<bool>,
    /// What a node that loses quorum does with the group: `release` (default for stateful
    /// groups) or `keep` (default for VIP-only groups).
    #[schemars(with = "Option<RawQuorumLoss>")]
    pub on_quorum_loss: Option<String>,
    /// What a node that does not hold the group does with a copy of one of its units found
    /// running there (started by hand, a timer, a dependency): `stop` it at once (default for
    /// stateful groups) or `warn` (log it and leave it running; default otherwise). Pacemaker's
    /// `multiple-active`. A stray copy of a VIP is always removed.
    #[schemars(with = "Option<RawOnStray>")]
    pub on_stray: Option<String>,
    /// What a node does when a unit of the group fails while it runs the group: `restart` it
    /// in place, up to `max_restarts` times within `restart_window`, then move the group
    /// (default; Pacemaker's `migration-threshold`), or `move` the group at once. A unit
    /// restarted by an operator (`systemctl restart`) or by systemd's own `Restart=` is no
    /// failure either way.
    #[schemars(with = "Option<RawOnFailure>")]
    pub on_failure: Option<String>,
    /// Restarts in place within `restart_window` before the group moves. Default 1.
    #[schemars(range(min = 0, max = 100))]
    pub max_restarts: Option<u32>,
    /// The window in which restarts in place are counted. Default 10m.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub restart_window: Option<String>,
    /// Required. The group's resources, started in dependency order and stopped in reverse.
    pub resources: Option<Vec<RawResource>>,
}

/// Behaviour on quorum loss.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "QuorumLoss")]
pub enum RawQuorumLoss {
    /// Stop the group.
    Release,
    /// Keep running it.
    Keep,
}

/// What to do with a stray copy of a unit.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "OnStray")]
pub enum RawOnStray {
    /// Stop it at once and log it.
    Stop,
    /// Log it and leave it running.
    Warn,
}

/// What a node does with a failed unit of a group it runs.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "OnFailure")]
pub enum RawOnFailure {
    /// Restart the unit in place, up to `max_restarts` within `restart_window`, then move.
    Restart,
    /// Move the group at once.
    Move,
}

/// A resource: exactly one of `vip` or `unit`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Resource")]
pub struct RawResource {
    /// A virtual IP with its prefix length, e.g. `192.168.9.19/24` or `2001:db8::19/64`.
    pub vip: Option<String>,
    /// A systemd unit, e.g. `apache2.service`.
    pub unit: Option<String>,
    /// Name used in `after` lists. Default: the unit name, or the VIP address without prefix.
    pub name: Option<String>,
    /// Resources of this group that must be up before this one starts. Default: the resource
    /// before it; `[]` starts it at once, in parallel with others.
    pub after: Option<Vec<String>>,
    /// Interface the VIP is added to (VIPs only).
    pub interface: Option<String>,
    /// Address label, at most 15 bytes, e.g. `eth0:web` (IPv4 VIPs only).
    pub label: Option<String>,
    /// Gratuitous ARP / unsolicited NA settings (VIPs only).
    pub announce: Option<RawAnnounce>,
    /// Watch the carrier of the VIP's interface (VIPs only; keepalived's `track_interface`):
    /// while it is down this node may not run the group, which moves. Default false.
    pub track_interface: Option<bool>,
    /// A health check of the unit (units only), run on the node holding the group while it
    /// runs: failing `fall` times in a row fails the resource, as a unit that dies does.
    pub check: Option<RawCheck>,
}

/// A health check: exactly one of `exec`, `tcp` or `http`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Check")]
pub struct RawCheck {
    /// A command (absolute path, then its arguments), run as a transient systemd service; exit
    /// status 0 passes.
    pub exec: Option<Vec<String>>,
    /// `HOST:PORT` to connect to over TCP (`[IPV6]:PORT` for an IPv6 address); a connection
    /// accepted within `timeout` passes.
    pub tcp: Option<String>,
    /// An `http://` URL to GET (no TLS); the answer's status must be `status`.
    pub http: Option<String>,
    /// The HTTP status an `http` check expects. Default 200.
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u32>,
    /// Time between two runs of the check. Default 5s.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: Option<String>,
    /// A run not finished within this counts as failed; below `interval`. Default: 2s, or half
    /// the interval if that is shorter.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// Passing runs in a row after which a failing check passes again. Default 2.
    #[schemars(range(min = 1, max = 10))]
    pub rise: Option<u32>,
    /// Failed runs in a row after which the check fails, and its resource with it. Default 3.
    #[schemars(range(min = 1, max = 10))]
    pub fall: Option<u32>,
}

/// VIP announcement settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[schemars(rename = "Announce")]
pub struct RawAnnounce {
    /// Announcements sent when the VIP is acquired. Default 5.
    #[schemars(range(min = 1, max = 100))]
    pub count: Option<u32>,
    /// Spacing between them. Default 200ms.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: Option<String>,
    /// Re-announce periodically while the VIP is held, or `off`. Default 10s.
    #[schemars(regex(pattern = r"^(off|([0-9]+(\.[0-9]+)?(ms|s|m|h))+)$"))]
    pub refresh: Option<String>,
}
