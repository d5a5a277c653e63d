//! The fault kinds of the campaign, what each does to a host and how it is healed. Each acts
//! from outside the agent: on the bed (power, ports, nftables, `cgroup.freeze`) or inside a
//! host as an operator would (`kill`, `systemctl`, `haagentctl`).

use crate::cluster::Cluster;
use crate::{Result, net, run_output};

/// A fault kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Power cut (`cgroup.kill`, cable pulled); healed by a boot and a fresh install.
    PowerCut,
    /// `systemctl stop haagent`; healed by a start.
    CleanStop,
    /// The host's switch port down (carrier lost).
    PortCut,
    /// Every packet in and out dropped, carrier up (nftables, lo spared).
    SilentCut,
    /// The host drops what one peer sends it.
    OneWay,
    /// The host drops a share of what it receives.
    Loss,
    /// The whole host paused (`cgroup.freeze`).
    Freeze,
    /// The agent stopped (`kill -STOP`); systemd's watchdog may kill it meanwhile.
    SigStop,
    /// The agent killed (`kill -9`); systemd restarts it.
    SigKill,
    /// The web unit killed where it runs; healed by `haagentctl clear web`.
    UnitCrash,
    /// The web unit made unstoppable where it runs (its stop hangs until systemd gives up,
    /// and the copy runs on), then moved away by an operator; healed as an operator would:
    /// the copy killed by hand, checked gone, `haagentctl unblock web NODE`, `clear web`.
    StuckStop,
    /// `haagentctl failover GROUP --to NODE`; healed by `haagentctl clear GROUP`.
    Move,
    /// `haagentctl standby`; healed by `haagentctl online`.
    Standby,
    /// A new signing key on every node, each reloaded in turn.
    KeyRotation,
    /// A changed manifest on every node, each reloaded in turn; healed by the first again.
    Reload,
}

/// Every kind, in report order.
pub const ALL: [Kind; 15] = [
    Kind::PowerCut,
    Kind::CleanStop,
    Kind::PortCut,
    Kind::SilentCut,
    Kind::OneWay,
    Kind::Loss,
    Kind::Freeze,
    Kind::SigStop,
    Kind::SigKill,
    Kind::UnitCrash,
    Kind::StuckStop,
    Kind::Move,
    Kind::Standby,
    Kind::KeyRotation,
    Kind::Reload,
];

impl Kind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::PowerCut => "power-cut",
            Kind::CleanStop => "clean-stop",
            Kind::PortCut => "port-cut",
            Kind::SilentCut => "silent-cut",
            Kind::OneWay => "one-way",
            Kind::Loss => "loss",
            Kind::Freeze => "freeze",
            Kind::SigStop => "sigstop",
            Kind::SigKill => "sigkill",
            Kind::UnitCrash => "unit-crash",
            Kind::StuckStop => "stuck-stop",
            Kind::Move => "move",
            Kind::Standby => "standby",
            Kind::KeyRotation => "key-rotation",
            Kind::Reload => "reload",
        }
    }

    /// The kind of a name in reports.
    pub fn named(name: &str) -> Option<Kind> {
        ALL.into_iter().find(|k| k.name() == name)
    }

    /// Faults that may hide a node from its peers while it still runs.
    pub fn hides(self) -> bool {
        matches!(
            self,
            Kind::PortCut | Kind::SilentCut | Kind::OneWay | Kind::Loss | Kind::Freeze
        )
    }

    /// Faults that leave a node's resources running with no agent able to let go of them
    /// (no agent, or a copy its stop cannot end): only fencing covers them together with a
    /// fault that hides the node.
    pub fn agentless(self) -> bool {
        matches!(self, Kind::SigStop | Kind::SigKill | Kind::StuckStop)
    }

    /// Faults of the whole cluster, drawn alone ([`super::global`]).
    pub fn global(self) -> bool {
        matches!(self, Kind::KeyRotation | Kind::Reload)
    }

    /// How long it lasts before its heal, in ms (drawn between these bounds).
    pub fn lasts(self) -> (u64, u64) {
        match self {
            Kind::PowerCut => (1000, 5000),
            Kind::CleanStop | Kind::Standby => (1000, 5000),
            Kind::PortCut | Kind::SilentCut => (500, 5000),
            Kind::OneWay | Kind::Loss => (1000, 6000),
            Kind::Freeze => (200, 4000),
            Kind::SigStop => (200, 3000),
            // Instant faults keep their host for a dead window, so that what follows
            // them is theirs.
            Kind::SigKill | Kind::UnitCrash => (3000, 3000),
            Kind::StuckStop => (3000, 6000),
            Kind::Move | Kind::Reload => (2000, 6000),
            Kind::KeyRotation => (3000, 3000),
        }
    }
}

/// One fault as applied: kind, host (index), the peer of a one-way drop or the target of a
/// move, a parameter (loss percent, group of a move), and when it began and was healed.
#[derive(Clone, Debug)]
pub struct Fault {
    /// What.
    pub kind: Kind,
    /// Where (host index).
    pub host: usize,
    /// The other host involved, if any.
    pub other: Option<usize>,
    /// Loss percent, or the group index of a move.
    pub param: u64,
    /// How long it was drawn to last before its heal, in ms.
    pub lasts_ms: u64,
    /// Begun, ms since the start.
    pub start_ms: u64,
    /// Healed, ms since the start (`None` while active).
    pub end_ms: Option<u64>,
    /// The agent's PID stopped by `SigStop`.
    pub pid: Option<String>,
}

/// Host name of an index.
pub fn node(i: usize) -> String {
    format!("h{}", i + 1)
}

/// The agent's main PID on a host.
fn agent_pid(c: &Cluster, host: &str) -> Result<String> {
    let pid = c
        .sh(host, "systemctl show -P MainPID haagent")?
        .trim()
        .to_owned();
    if pid == "0" || pid.is_empty() {
        return Err(format!("no agent runs on {host}"));
    }
    Ok(pid)
}

/// Applies a fault; `manifest` is the cluster's, which a reload changes.
pub fn apply(c: &mut Cluster, f: &mut Fault, manifest: &str) -> Result<()> {
    let h = node(f.host);
    let other = f.other.map(node).unwrap_or_default();
    let group = super::setup::GROUPS[f.param as usize % 2];
    match f.kind {
        Kind::PowerCut => c.bed.kill(&h),
        Kind::CleanStop => c.sh(&h, "systemctl stop haagent").map(drop),
        Kind::PortCut => c.bed.cut(&h),
        Kind::SilentCut => silent(c, &h, true),
        Kind::OneWay => c.bed.drop_from(&h, &other),
        Kind::Loss => c.bed.loss(&h, f.param as u8),
        Kind::Freeze => c.bed.freeze(&h, true),
        Kind::SigStop => {
            let pid = agent_pid(c, &h)?;
            c.sh(&h, &format!("kill -STOP {pid}"))?;
            f.pid = Some(pid);
            Ok(())
        }
        Kind::SigKill => c
            .sh(&h, &format!("kill -KILL {}", agent_pid(c, &h)?))
            .map(drop),
        Kind::UnitCrash => c.sh(&h, "systemctl kill -s KILL web.service").map(drop),
        Kind::StuckStop => {
            c.sh(&h, STUCK).map(drop)?;
            let moved = ctl(c, &h, &["failover", "web", "--to", &other, "--no-wait"]);
            if moved.is_err() {
                // No move, no stop: the unit is made stoppable again, and the fault ends.
                let _ = c.sh(&h, UNSTUCK);
            }
            moved
        }
        Kind::Move => ctl(c, &h, &["failover", group, "--to", &other, "--no-wait"]),
        Kind::Standby => ctl(c, &h, &["standby"]),
        Kind::KeyRotation => super::global::rotate_key(c, f.host),
        Kind::Reload => super::global::reload(c, f.host, &super::global::changed(manifest)),
    }
}

/// Heals a fault; `manifest` is installed again on a host that lost power.
pub fn heal(c: &mut Cluster, f: &Fault, manifest: &str) -> Result<()> {
    let h = node(f.host);
    let group = super::setup::GROUPS[f.param as usize % 2];
    match f.kind {
        Kind::PowerCut => {
            c.bed.start(&h)?;
            // The copy-on-write root went with the power: install again, as at the start.
            c.install_on(&h, manifest)?;
            c.sh(&h, "systemctl start --no-block haagent").map(drop)
        }
        Kind::CleanStop => c.sh(&h, "systemctl start --no-block haagent").map(drop),
        Kind::PortCut => c.bed.heal(&h),
        Kind::SilentCut => silent(c, &h, false),
        Kind::OneWay | Kind::Loss => c.bed.clear_faults(&h),
        Kind::Freeze => c.bed.freeze(&h, false),
        Kind::SigStop => {
            // The watchdog may have killed it already; then there is nothing to continue.
            let pid = f.pid.as_deref().unwrap_or("0");
            c.sh(&h, &format!("kill -CONT {pid} 2>/dev/null; true"))
                .map(drop)
        }
        Kind::SigKill => Ok(()),
        Kind::UnitCrash => ctl(c, &h, &["clear", "web"]),
        Kind::StuckStop => unstick(c, &h),
        Kind::Move => ctl(c, &h, &["clear", group]),
        Kind::Standby => ctl(c, &h, &["online"]),
        Kind::KeyRotation => Ok(()),
        Kind::Reload => super::global::reload(c, f.host, manifest),
    }
}

/// A drop-in that makes the web unit's stop hang and fail: SIGCONT for every kill signal, no
/// SIGKILL, and systemd gives up after 300 ms (the stop budget of the campaign's timers).
const STUCK: &str = "mkdir -p /run/systemd/system/web.service.d && printf '[Service]\\nKillSignal=SIGCONT\\nFinalKillSignal=SIGCONT\\nSendSIGKILL=no\\nTimeoutStopSec=300ms\\n' > /run/systemd/system/web.service.d/stuck.conf && systemctl daemon-reload";

/// Removes [`STUCK`].
const UNSTUCK: &str =
    "rm -f /run/systemd/system/web.service.d/stuck.conf && systemctl daemon-reload";

/// The operator's part after a failed stop: the drop-in gone, the copy killed by hand and
/// checked gone (else no unblock: saying a copy is gone while it runs is the operator's
/// error the agent cannot see), then `unblock` and the move forgotten.
fn unstick(c: &Cluster, host: &str) -> Result<()> {
    c.sh(
        host,
        &format!("{UNSTUCK}; systemctl kill -s KILL web.service; for i in $(seq 50); do pgrep -f 'tb-ech[o] {port} ' >/dev/null || exit 0; sleep 0.1; done; exit 1", port = super::setup::WEB_PORT),
    )
    .map_err(|e| format!("the stuck copy would not die: {e}"))?;
    ctl(c, host, &["unblock", "web", host])?;
    ctl(c, host, &["clear", "web"])
}

fn ctl(c: &Cluster, host: &str, args: &[&str]) -> Result<()> {
    let out = c.ctl(host, args);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "haagentctl {} on {host}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A silent cut: an nftables table in the host's namespace whose input and output chains drop
/// everything but loopback. Its own table, so that loss and one-way rules are not touched.
fn silent(c: &Cluster, host: &str, on: bool) -> Result<()> {
    let ns = net::netns(&c.bed.config().prefix, host);
    if !on {
        let _ = run_output(
            "ip",
            &[
                "netns", "exec", &ns, "nft", "delete", "table", "inet", "tbsilent",
            ],
        );
        return Ok(());
    }
    // One chain per line: `nft -f` rejects two chains closed on one line.
    let script = "table inet tbsilent {\n  chain input {\n    type filter hook input priority -300; policy drop;\n    iif lo accept\n  }\n  chain output {\n    type filter hook output priority -300; policy drop;\n    oif lo accept\n  }\n}\n";
    net::nft_script(&ns, "silent", script)
}
