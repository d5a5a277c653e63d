//! The validated manifest: domain types with every default filled in and every cross-reference
//! checked. Code past the loader never sees a raw string where a typed value belongs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A validated cluster manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Cluster name, carried by every heartbeat.
    pub cluster: String,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Heartbeat timing and links.
    pub heartbeat: Heartbeat,
    /// Where the keys come from.
    pub auth: KeySource,
    /// Quorum rules.
    pub quorum: Quorum,
    /// Whether taking over a stateful group from a dead node waits for its fence unit.
    pub fencing_required: bool,
    /// Connectivity checks.
    pub connectivity: Connectivity,
    /// Groups by name.
    pub groups: BTreeMap<String, Group>,
    /// The notification template unit, if any. Absent from the serialised form (and so from
    /// the digest peers compare) when unset, as in manifests written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyUnit>,
    /// The Prometheus endpoint, if any (same serialisation rule as `notify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsEndpoint>,
}

/// Notifications: a template unit started once per event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyUnit {
    /// The template, e.g. `haagent-notify@.service`.
    pub template: String,
    /// StartUnit's job mode: `fail` or `replace`.
    pub mode: String,
}

impl NotifyUnit {
    /// The unit started for `instance` (already escaped).
    pub fn instance(&self, instance: &str) -> String {
        match self.template.split_once("@.") {
            Some((stem, kind)) => format!("{stem}@{instance}.{kind}"),
            None => self.template.clone(),
        }
    }
}

/// Where the Prometheus endpoint listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsEndpoint {
    /// Address and port.
    pub listen: std::net::SocketAddr,
}

/// A cluster node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Address on each unicast link, by link name.
    pub addresses: BTreeMap<String, IpAddr>,
    /// Votes but never holds groups.
    pub witness: bool,
    /// Unit that fences this node, if any.
    pub fence: Option<String>,
}

/// Heartbeat timing and links.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Time between heartbeats.
    pub interval: Duration,
    /// Silence after which a late heartbeat is logged.
    pub warn_after: Duration,
    /// Silence after which a node is dead.
    pub dead_after: Duration,
    /// Start-up grace period.
    pub initial_dead: Duration,
    /// Links, in manifest order.
    pub links: Vec<Link>,
}

/// A heartbeat link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// Link name.
    pub name: String,
    /// Transport and its parameters.
    pub transport: Transport,
    /// Interface to bind to, if any.
    pub interface: Option<String>,
    /// UDP port.
    pub port: u16,
}

/// How a link carries heartbeats.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// To each peer's address on this link.
    Unicast,
    /// To a group.
    Multicast {
        /// Multicast group address.
        group: IpAddr,
        /// TTL / hop limit.
        ttl: u8,
    },
    /// To the interface's IPv4 broadcast address.
    Broadcast,
}

/// Where the heartbeat keys come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// A key file on disk.
    KeyFile(PathBuf),
    /// A systemd credential, read from `$CREDENTIALS_DIRECTORY`.
    Credential(String),
}

/// Quorum rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quorum {
    /// Tie-breaker of a two-voter cluster (`None` when the cluster has another voter count).
    pub tie_breaker: Option<TieBreaker>,
    /// No stateful group starts before every node was seen once.
    pub wait_for_all: bool,
}

/// Two-node tie-breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TieBreaker {
    /// The side reaching the ping targets wins.
    Ping,
    /// No tie-breaker; fencing decides.
    None,
}

/// Connectivity checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connectivity {
    /// Targets.
    pub ping: Vec<IpAddr>,
    /// Time between pings.
    pub interval: Duration,
    /// Unanswered for this long means unreachable.
    pub timeout: Duration,
}

/// A resource group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Eligible nodes in preference order.
    pub nodes: Vec<String>,
    /// Return to a more preferred node when it comes back.
    pub failback: bool,
    /// Must never run twice.
    pub stateful: bool,
    /// Stop the group when this node loses quorum.
    pub release_on_quorum_loss: bool,
    /// What a node that does not hold the group does with a copy of its unit running there.
    #[serde(default)]
    pub on_stray: OnStray,
    /// Restarts in place of a failed unit allowed within `restart_window` before the group
    /// moves (0: `on_failure: move`).
    #[serde(default)]
    pub max_restarts: u32,
    /// The window in which restarts in place are counted.
    #[serde(default = "default_restart_window")]
    pub restart_window: std::time::Duration,
    /// Resources in manifest order.
    pub resources: Vec<Resource>,
}

/// What a node does with a stray copy of a unit (running where its group is not held);
/// Pacemaker's `multiple-active`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnStray {
    /// Stop it at once (a stateful group must never run twice).
    #[default]
    Stop,
    /// Log it and leave it running (a group allowed to run on several nodes).
    Warn,
}

/// A resource of a group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Name, unique in the group.
    pub name: String,
    /// What it is.
    pub kind: ResourceKind,
    /// Indices (into the group's `resources`) that must be up before this one starts.
    pub after: Vec<usize>,
    /// Its health check, if any (units only). Absent from the serialised form when unset, so
    /// digests of manifests without checks are those of earlier releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
}

/// A health check of a unit, run where its group runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What is run.
    pub probe: CheckProbe,
    /// Time between runs.
    pub interval: Duration,
    /// A run not finished within this failed.
    pub timeout: Duration,
    /// Passing runs in a row that make a failing check pass.
    pub rise: u32,
    /// Failed runs in a row that make the check fail.
    pub fall: u32,
}

/// What a check runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckProbe {
    /// A command, as a transient service: exit status 0 passes.
    Exec(Vec<String>),
    /// A TCP connection to `HOST:PORT`.
    Tcp(String),
    /// An HTTP GET.
    Http {
        /// The `http://` URL.
        url: String,
        /// The status expected.
        status: u16,
    },
}

impl std::fmt::Display for CheckProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckProbe::Exec(argv) => write!(f, "exec {}", argv.join(" ")),
            CheckProbe::Tcp(addr) => write!(f, "tcp {addr}"),
            CheckProbe::Http { url, status } => write!(f, "http {url} (expects {status})"),
        }
    }
}

/// An `http://` URL split into what a request needs: host, port and path (with the query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTarget {
    /// The host as written (a name, an IPv4 address, or an IPv6 one without brackets).
    pub host: String,
    /// The port (80 unless written).
    pub port: u16,
    /// The path, `/` at least.
    pub path: String,
}

impl HttpTarget {
    /// Splits `url`; the error says what is wrong with it.
    pub fn parse(url: &str) -> Result<HttpTarget, String> {
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(if url.starts_with("https://") {
                "https is not supported (no TLS)".into()
            } else {
                "the URL must start with `http://`".into()
            });
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.contains('@') {
            return Err("credentials in the URL are not supported".into());
        }
        let (host, port) = split_host_port(authority, 80)?;
        if path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err("the path contains spaces or control characters".into());
        }
        Ok(HttpTarget { host, port, path })
    }
}

/// Splits `HOST[:PORT]` (`[IPV6][:PORT]`); `default` when no port is written (`None`: required).
pub fn split_host_port(
    text: &str,
    default: impl Into<Option<u16>>,
) -> Result<(String, u16), String> {
    let default = default.into();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("an IPv6 address needs its closing `]`".into());
        };
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("unexpected `{after}` after the address")),
        }
    } else {
        match text.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("write an IPv6 address in brackets: `[2001:db8::1]:80`".into());
            }
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.bytes().any(|b| b.is_ascii_whitespace() || b == b'/') {
        return Err(format!("invalid host `{host}`"));
    }
    let port = match (port, default) {
        (Some(p), _) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("invalid port `{p}`: use 1 to 65535")),
        },
        (None, Some(d)) => d,
        (None, None) => return Err("missing the port: write `HOST:PORT`".into()),
    };
    Ok((host.to_owned(), port))
}

/// The kind of a resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    /// A virtual IP.
    Vip(Vip),
    /// A systemd unit.
    Unit(String),
}

/// A virtual IP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vip {
    /// The address.
    pub address: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Interface it is added to.
    pub interface: String,
    /// Address label (IPv4 only).
    pub label: Option<String>,
    /// Announcements.
    pub announce: Announce,
    /// Whether a carrier loss on `interface` makes this node ineligible for the group (absent
    /// from the serialised form when false, so earlier digests stand).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub track_interface: bool,
}

/// VIP announcement settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Announce {
    /// Burst size on acquire.
    pub count: u32,
    /// Spacing inside the burst.
    pub interval: Duration,
    /// Periodic refresh while held, if any.
    pub refresh: Option<Duration>,
}

impl Heartbeat {
    /// The longest the agent may hang before its watchdog must kill it (with its units): half
    /// the margin between a peer marking this node late and taking over from it, so a frozen
    /// holder is gone before a peer starts what it held. The daemon sets its systemd watchdog
    /// to this.
    pub fn watchdog(&self) -> std::time::Duration {
        (self.dead_after.saturating_sub(self.warn_after)) / 2
    }
}

impl Manifest {
    /// The interfaces of VIPs with `track_interface`.
    pub fn tracked_interfaces(&self) -> std::collections::BTreeSet<String> {
        self.groups
            .values()
            .flat_map(|g| &g.resources)
            .filter_map(|r| match &r.kind {
                ResourceKind::Vip(v) if v.track_interface => Some(v.interface.clone()),
                _ => None,
            })
            .collect()
    }

    /// Nodes that vote (all of them: witnesses vote too).
    pub fn voters(&self) -> usize {
        self.nodes.len()
    }

    /// The resources `node` may hold: those of every group that lists it, with the group's
    /// name and the resource's index.
    pub fn resources_of<'a>(
        &'a self,
        node: &'a str,
    ) -> impl Iterator<Item = (&'a str, usize, &'a Resource)> + 'a {
        self.groups
            .iter()
            .filter(move |(_, g)| g.nodes.iter().any(|n| n == node))
            .flat_map(|(name, g)| {
                g.resources
                    .iter()
                    .enumerate()
                    .map(move |(i, r)| (name.as_str(), i, r))
            })
    }
}

impl Group {
    /// A start order in which every resource comes after those it depends on, in manifest
    /// order where there is a choice. Stopping goes the reverse way.
    pub fn start_order(&self) -> Vec<usize> {
        let mut done = vec![false; self.resources.len()];
        let mut order = Vec::with_capacity(self.resources.len());
        while order.len() < self.resources.len() {
            let before = order.len();
            for (i, r) in self.resources.iter().enumerate() {
                if !done[i] && r.after.iter().all(|&d| done[d]) {
                    done[i] = true;
                    order.push(i);
                }
            }
            // Validation rejects cycles; this guard keeps a bug from looping forever.
            if order.len() == before {
                break;
            }
        }
        order
    }
}

/// The default `restart_window`, also for groups of a manifest serialised before it existed
/// (a flight recording).
pub fn default_restart_window() -> std::time::Duration {
    std::time::Duration::from_secs(600)
}
