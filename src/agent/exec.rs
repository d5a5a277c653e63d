//! Carries out the engine's actions and turns what the drivers see into engine inputs. It
//! decides nothing: it only remembers which resources are held here, so that a VIP or unit
//! going away is reported as lost unless the agent itself took it down.

use std::collections::BTreeMap;
use std::net::IpAddr;

use tokio::sync::mpsc;

use crate::control::status::History;
use crate::drivers::announce;
use crate::drivers::links::Links;
use crate::drivers::systemd::{Systemd, UnitChange};
use crate::drivers::vip::{AddrChange, Vips};
use crate::drivers::{logging, notify};
use crate::engine::{Action, Input, Notify, Op, ResourceRef};
use crate::manifest::Manifest;
use crate::manifest::model::{ResourceKind, Vip};

/// A resource that is up here.
#[derive(Clone, Debug, PartialEq)]
enum Held {
    Vip(Vip),
    Unit(String),
}

/// The drivers and what they hold.
pub struct Exec {
    pub(super) links: Links,
    vips: Vips,
    systemd: Option<Systemd>,
    inputs: mpsc::UnboundedSender<Input>,
    held: BTreeMap<(String, usize), Held>,
    /// VIPs being added: their own netlink notification is not a stray address.
    adding: BTreeMap<(String, usize), Vip>,
    /// When each pending start was issued, to measure resource start times.
    starting: BTreeMap<(String, usize), std::time::Instant>,
    /// Announcement bursts under way, per VIP resource.
    bursts: BTreeMap<(String, usize), tokio::task::JoinHandle<()>>,
    status: String,
    /// What `haagentctl status` reports beyond the engine's own state.
    pub(super) history: History,
    /// The control interface's bus connection, for its signals.
    pub(super) control: Option<zbus::Connection>,
}

impl Exec {
    /// An executor over these drivers; completions go to `inputs`.
    pub fn new(
        links: Links,
        vips: Vips,
        systemd: Option<Systemd>,
        inputs: mpsc::UnboundedSender<Input>,
    ) -> Exec {
        Exec {
            links,
            vips,
            systemd,
            inputs,
            held: BTreeMap::new(),
            adding: BTreeMap::new(),
            starting: BTreeMap::new(),
            bursts: BTreeMap::new(),
            status: String::new(),
            history: History::default(),
            control: None,
        }
    }

    /// Where driver completions go.
    pub fn inputs(&self) -> &mpsc::UnboundedSender<Input> {
        &self.inputs
    }

    /// The last status line.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// Notes what an input says about held resources before the engine sees it.
    pub fn observe(&mut self, input: &Input, m: &Manifest) {
        if let Input::Done {
            group,
            resource,
            op: Op::Start,
            ok,
            ..
        } = input
        {
            let key = (group.clone(), *resource);
            self.adding.remove(&key);
            if let Some(at) = self.starting.remove(&key).filter(|_| *ok) {
                self.history.started(group, *resource, at.elapsed());
            }
            let res = m.groups.get(group).and_then(|g| g.resources.get(*resource));
            if let (true, Some(r)) = (*ok, res) {
                let held = match &r.kind {
                    ResourceKind::Vip(v) => Held::Vip(v.clone()),
                    ResourceKind::Unit(u) => Held::Unit(u.clone()),
                };
                self.held.insert(key, held);
            }
        }
    }

    /// Carries out `actions`; true when the engine says the agent may exit.
    pub fn apply(&mut self, actions: Vec<Action>) -> bool {
        let mut exit = false;
        for a in actions {
            match a {
                Action::Send { link, bytes } => self.links.send(&link, &bytes),
                Action::AddVip {
                    group,
                    resource,
                    vip,
                } => {
                    self.adding.insert((group.clone(), resource), vip.clone());
                    let vips = self.vips.clone();
                    self.spawn_done(group, resource, Op::Start, async move {
                        vips.add(&vip).await.map_err(|e| e.to_string())
                    });
                }
                Action::RemoveVip {
                    group,
                    resource,
                    vip,
                } => {
                    // Not held from now on: its disappearance is ours, not a loss.
                    self.held.remove(&(group.clone(), resource));
                    // A burst still under way would point clients back here after the new
                    // holder's announcement (a move soon after an acquire): end it.
                    if let Some(b) = self.bursts.remove(&(group.clone(), resource)) {
                        b.abort();
                    }
                    let vips = self.vips.clone();
                    self.spawn_done(group, resource, Op::Stop, async move {
                        vips.remove(&vip).await.map_err(|e| e.to_string())
                    });
                }
                Action::Announce {
                    group,
                    resource,
                    vip,
                } => {
                    let key = (group.clone(), resource);
                    let burst = tokio::spawn(async move {
                        if let Err(e) = announce::burst(&vip).await {
                            tracing::warn!(group, vip = %vip.address, error = %e, "announcement failed");
                        }
                    });
                    if let Some(old) = self.bursts.insert(key, burst) {
                        old.abort();
                    }
                    self.bursts.retain(|_, b| !b.is_finished());
                }
                Action::StartUnit {
                    group,
                    resource,
                    unit,
                } => self.unit_job(group, resource, unit, true),
                Action::StopUnit {
                    group,
                    resource,
                    unit,
                } => {
                    self.held.remove(&(group.clone(), resource));
                    self.unit_job(group, resource, unit, false);
                }
                Action::Fence { node, unit } => self.fence(node, unit),
                Action::Notify(n) => self.notify(n),
                Action::Log(e) => {
                    logging::event(&e);
                    self.history.event(&e);
                    if let Some(conn) = &self.control {
                        crate::control::service::announce(conn, &e);
                    }
                }
                Action::Exit => exit = true,
            }
        }
        exit
    }

    fn spawn_done<F>(&self, group: String, resource: usize, op: Op, work: F)
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        let tx = self.inputs.clone();
        tokio::spawn(async move {
            let result = work.await;
            let _ = tx.send(Input::Done {
                group,
                resource,
                op,
                ok: result.is_ok(),
                detail: result.err().unwrap_or_default(),
            });
        });
    }

    fn unit_job(&self, group: String, resource: usize, unit: String, start: bool) {
        let op = if start { Op::Start } else { Op::Stop };
        let systemd = self.systemd.clone();
        self.spawn_done(group, resource, op, async move {
            match systemd {
                Some(s) => s.run_job(&unit, start).await,
                None => Err("not connected to systemd".into()),
            }
        });
    }

    fn fence(&self, node: String, unit: String) {
        let systemd = self.systemd.clone();
        let tx = self.inputs.clone();
        tokio::spawn(async move {
            let result = match systemd {
                Some(s) => s.run_job(&unit, true).await,
                None => Err("not connected to systemd".into()),
            };
            if let Err(e) = &result {
                tracing::warn!(node, unit, error = %e, "fence unit failed");
            }
            let _ = tx.send(Input::Fenced {
                node,
                ok: result.is_ok(),
            });
        });
    }

    fn notify(&mut self, n: Notify) {
        match n {
            Notify::Ready => notify::ready(&self.status),
            Notify::Status(s) => {
                notify::status(&s);
                self.status = s;
            }
            Notify::Stopping => notify::stopping(),
        }
    }

    /// An address changed on this host: a held VIP removed is lost; a manifest VIP appearing
    /// where nothing holds it is removed again (only its holder may announce it).
    pub fn addr_change(&mut self, c: &AddrChange, m: &Manifest) -> Option<Input> {
        let on_if = |v: &Vip| {
            v.address == c.addr
                && crate::drivers::netif::index(&v.interface).ok() == Some(c.ifindex)
        };
        if !c.added {
            let key = self
                .held
                .iter()
                .find(|(_, h)| matches!(h, Held::Vip(v) if on_if(v)))
                .map(|(k, _)| k.clone())?;
            self.held.remove(&key);
            return Some(Input::Lost {
                group: key.0,
                resource: key.1,
                detail: format!("address {} was removed from the interface", c.addr),
            });
        }
        let ours = self
            .held
            .values()
            .any(|h| matches!(h, Held::Vip(v) if on_if(v)))
            || self.adding.values().any(on_if);
        if !ours && let Some(vip) = manifest_vip(m, c.addr) {
            tracing::warn!(vip = %c.addr, interface = %vip.interface, "a VIP of the cluster appeared on this node, which does not hold it: removing it");
            let vips = self.vips.clone();
            tokio::spawn(async move {
                if let Err(e) = vips.remove(&vip).await {
                    tracing::warn!(error = %e, "cannot remove a stray VIP");
                }
            });
        }
        None
    }

    /// A managed unit changed state: a held unit that is no longer active is lost.
    pub fn unit_change(&mut self, c: &UnitChange) -> Option<Input> {
        if !matches!(
            c.active_state.as_str(),
            "failed" | "inactive" | "deactivating"
        ) {
            return None;
        }
        let key = self
            .held
            .iter()
            .find(|(_, h)| matches!(h, Held::Unit(u) if *u == c.unit))
            .map(|(k, _)| k.clone())?;
        self.held.remove(&key);
        Some(Input::Lost {
            group: key.0,
            resource: key.1,
            detail: format!("{} is {}", c.unit, c.active_state),
        })
    }
}

impl Exec {
    /// Finds which resources of this node's groups are up although this run started none
    /// (an earlier run left them: the agent was killed and restarted), and holds them from now
    /// on, so that their loss is reported. The engine decides what to do with them.
    pub async fn probe(&mut self, m: &Manifest, me: &str) -> Vec<ResourceRef> {
        let mut found = Vec::new();
        for (name, g) in m
            .groups
            .iter()
            .filter(|(_, g)| g.nodes.iter().any(|n| n == me))
        {
            for (i, r) in g.resources.iter().enumerate() {
                let held = match &r.kind {
                    ResourceKind::Vip(v) => match self.vips.present(v).await {
                        Ok(true) => Some(Held::Vip(v.clone())),
                        Ok(false) => None,
                        Err(e) => {
                            tracing::warn!(group = %name, resource = %r.name, error = %e, "cannot tell whether a VIP is present: taken as absent");
                            None
                        }
                    },
                    // `activating` counts: its start job runs, and a failure is reported as
                    // a loss like any other.
                    ResourceKind::Unit(u) => match &self.systemd {
                        Some(s) => match s.active_state(u).await {
                            Ok(a) if a == "active" || a == "activating" => {
                                Some(Held::Unit(u.clone()))
                            }
                            Ok(_) => None,
                            Err(e) => {
                                tracing::warn!(group = %name, resource = %r.name, error = %e, "cannot read a unit's state: taken as down");
                                None
                            }
                        },
                        None => None,
                    },
                };
                if let Some(h) = held {
                    tracing::info!(group = %name, resource = %r.name, "found up, left by an earlier run");
                    self.held.insert((name.clone(), i), h);
                    found.push(ResourceRef {
                        group: name.clone(),
                        resource: i,
                    });
                }
            }
        }
        found
    }
}

fn manifest_vip(m: &Manifest, addr: IpAddr) -> Option<Vip> {
    m.groups
        .values()
        .flat_map(|g| &g.resources)
        .find_map(|r| match &r.kind {
            ResourceKind::Vip(v) if v.address == addr => Some(v.clone()),
            _ => None,
        })
}
