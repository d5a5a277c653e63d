//! What the drivers report, as engine inputs: the start-up probe of every managed unit and
//! VIP, unit state changes, address changes of the cluster's VIPs, authenticated datagrams,
//! ping rounds and the completions of actions. Translation only: which of these matter, and
//! what they mean, is the engine's to decide.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::drivers::links::Received;
use crate::drivers::netif;
use crate::drivers::systemd::Systemd;
use crate::drivers::vip::{AddrChange, Vips};
use crate::engine::{AddrSeen, Input, Probe, UnitSeen};
use crate::manifest::Manifest;
use crate::manifest::model::ResourceKind;

/// The channels from the drivers into the loop.
pub struct Feeds {
    /// Completions of actions (resource jobs, fences).
    pub done: mpsc::UnboundedReceiver<Input>,
    /// Authenticated datagrams.
    pub received: mpsc::UnboundedReceiver<Received>,
    /// Address changes on this host.
    pub addrs: mpsc::UnboundedReceiver<AddrChange>,
    /// Managed units' state changes.
    pub units: mpsc::UnboundedReceiver<UnitSeen>,
    /// Ping rounds: targets reached.
    pub pings: mpsc::UnboundedReceiver<u16>,
}

/// Every unit the manifest names, in any group: a unit of a group this node does not hold may
/// still be started here by hand, and that copy must be seen.
pub fn managed_units(m: &Manifest) -> Vec<String> {
    let units: BTreeSet<&String> = m
        .groups
        .values()
        .flat_map(|g| &g.resources)
        .filter_map(|r| match &r.kind {
            ResourceKind::Unit(u) => Some(u),
            ResourceKind::Vip(_) => None,
        })
        .collect();
    units.into_iter().cloned().collect()
}

/// Every VIP address of the manifest.
fn vip_addresses(m: &Manifest) -> BTreeSet<IpAddr> {
    m.groups
        .values()
        .flat_map(|g| &g.resources)
        .filter_map(|r| match &r.kind {
            ResourceKind::Vip(v) => Some(v.address),
            ResourceKind::Unit(_) => None,
        })
        .collect()
}

/// What is up on this node now: the state of every managed unit systemd can report, and
/// every VIP of the manifest present on an interface.
pub async fn probe(m: &Manifest, systemd: Option<&Systemd>, vips: &Vips) -> Probe {
    let mut p = Probe::default();
    if let Some(s) = systemd {
        for unit in managed_units(m) {
            match s.seen(&unit).await {
                Ok(seen) => p.units.push(seen),
                Err(e) => {
                    tracing::warn!(unit, error = %e, "cannot read a unit's state: taken as down");
                }
            }
        }
    }
    let wanted = vip_addresses(m);
    match vips.addresses().await {
        Ok(all) => {
            for (index, addr) in all.into_iter().filter(|(_, a)| wanted.contains(a)) {
                if let Some(interface) = netif::name_of(index) {
                    p.addrs.push(AddrSeen {
                        addr,
                        interface,
                        present: true,
                    });
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot list addresses: VIPs taken as absent"),
    }
    for a in &p.addrs {
        tracing::info!(vip = %a.addr, interface = a.interface, "VIP found present at start-up");
    }
    p
}

/// How long an interface's name, looked up by its index, is taken as still right.
const NAME_FOR: Duration = Duration::from_secs(1);

/// The manifest's VIP addresses, gathered once per manifest: an address change (a thousand
/// of them when a group of a thousand VIPs starts) is then one lookup, and its interface's
/// name one sysfs scan a second, not one per change.
pub struct VipFilter {
    addrs: BTreeSet<IpAddr>,
    names: BTreeMap<u32, (Option<String>, Instant)>,
}

impl VipFilter {
    /// The filter of `m`.
    pub fn new(m: &Manifest) -> VipFilter {
        VipFilter {
            addrs: vip_addresses(m),
            names: BTreeMap::new(),
        }
    }

    /// An address change that concerns a VIP of the manifest, as an input.
    pub fn input(&mut self, c: &AddrChange) -> Option<Input> {
        if !self.addrs.contains(&c.addr) {
            return None;
        }
        let now = Instant::now();
        self.names
            .retain(|_, (_, at)| now.duration_since(*at) < NAME_FOR);
        // A removed interface takes its addresses along and its name is gone too: a removal
        // is always looked up afresh.
        if !c.added {
            self.names.remove(&c.ifindex);
        }
        let name = self
            .names
            .entry(c.ifindex)
            .or_insert_with(|| (netif::name_of(c.ifindex), now))
            .0
            .clone();
        let interface = name.unwrap_or_else(|| format!("#{}", c.ifindex));
        Some(Input::Addr(AddrSeen {
            addr: c.addr,
            interface,
            present: c.added,
        }))
    }
}
