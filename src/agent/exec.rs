//! Carries out the engine's actions with the drivers, and reports their completions back to
//! the loop as engine inputs. It decides nothing and remembers nothing about resources: what
//! is held is the engine's record alone.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use crate::control::status::History;
use crate::drivers::announce;
use crate::drivers::links::Links;
use crate::drivers::systemd::Systemd;
use crate::drivers::vip::Vips;
use crate::drivers::{logging, notify};
use crate::engine::{Action, Input, Notify, Op, ResourceRef};

/// The drivers the actions need.
pub struct Exec {
    pub(super) links: Links,
    pub(super) vips: Vips,
    pub(super) systemd: Option<Systemd>,
    done: mpsc::UnboundedSender<Input>,
    /// Announcement bursts under way, per VIP resource.
    bursts: BTreeMap<ResourceRef, tokio::task::JoinHandle<()>>,
    status: String,
    /// What `haagentctl status` reports beyond the engine's own state.
    pub(super) history: History,
    /// The control interface's bus connection, for its signals.
    pub(super) control: Option<zbus::Connection>,
    /// Where checkpoints go, if there is a runtime directory.
    pub(super) checkpoints: Option<crate::drivers::checkpoint::Checkpoints>,
    /// Where what is known of the peers' runs goes (the state directory).
    pub(super) peer_runs: Option<crate::drivers::checkpoint::PeerRuns>,
}

impl Exec {
    /// An executor over these drivers; completions go to `done`.
    pub fn new(
        links: Links,
        vips: Vips,
        systemd: Option<Systemd>,
        done: mpsc::UnboundedSender<Input>,
    ) -> Exec {
        Exec {
            links,
            vips,
            systemd,
            done,
            bursts: BTreeMap::new(),
            status: String::new(),
            history: History::default(),
            control: None,
            checkpoints: None,
            peer_runs: None,
        }
    }

    /// The last status line.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// Carries out `actions`; true when the engine says the agent may exit.
    pub fn apply(&mut self, actions: Vec<Action>) -> bool {
        let mut exit = false;
        for a in actions {
            match a {
                Action::Send {
                    link,
                    datagram,
                    key,
                    version,
                } => self.links.send(&link, &datagram, key, version),
                Action::AddVip { res, vip } => {
                    let vips = self.vips.clone();
                    self.spawn_done(res, Op::Start, async move {
                        vips.add(&vip).await.map_err(|e| e.to_string())
                    });
                }
                Action::RemoveVip { res, vip } => {
                    // A burst still under way would point clients back here after the new
                    // holder's announcement (a move soon after an acquire): end it.
                    if let Some(b) = self.bursts.remove(&res) {
                        b.abort();
                    }
                    let vips = self.vips.clone();
                    self.spawn_done(res, Op::Stop, async move {
                        vips.remove(&vip).await.map_err(|e| e.to_string())
                    });
                }
                Action::Announce { res, vip } => {
                    let group = res.group.clone();
                    let burst = tokio::spawn(async move {
                        if let Err(e) = announce::burst(&vip).await {
                            tracing::warn!(group, vip = %vip.address, error = %e, "announcement failed");
                        }
                    });
                    if let Some(old) = self.bursts.insert(res, burst) {
                        old.abort();
                    }
                    self.bursts.retain(|_, b| !b.is_finished());
                }
                Action::StartUnit { res, unit } => self.unit_job(res, unit, Op::Start),
                Action::StopUnit { res, unit } => self.unit_job(res, unit, Op::Stop),
                Action::Fence { node, unit } => self.fence(node, unit),
                Action::Notify(n) => self.notify(n),
                Action::Log(e) => {
                    logging::event(&e);
                    self.history.event(&e);
                    if let Some(conn) = &self.control {
                        crate::control::service::announce(conn, &e);
                    }
                }
                Action::Checkpoint { holding, stands_ms } => {
                    if let Some(c) = &self.checkpoints {
                        c.save(holding, stands_ms);
                    }
                }
                Action::SavePeers(runs) => {
                    if let Some(p) = &self.peer_runs {
                        p.save(&runs);
                    }
                }
                Action::Exit => exit = true,
            }
        }
        exit
    }

    fn spawn_done<F>(&self, res: ResourceRef, op: Op, work: F)
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        let tx = self.done.clone();
        tokio::spawn(async move {
            let result = work.await;
            let _ = tx.send(Input::Done {
                res,
                op,
                ok: result.is_ok(),
                detail: result.err().unwrap_or_default(),
            });
        });
    }

    fn unit_job(&self, res: ResourceRef, unit: String, op: Op) {
        let systemd = self.systemd.clone();
        self.spawn_done(res, op, async move {
            match systemd {
                Some(s) => s.run_job(&unit, op == Op::Start).await,
                None => Err("not connected to systemd".into()),
            }
        });
    }

    fn fence(&self, node: String, unit: String) {
        let systemd = self.systemd.clone();
        let tx = self.done.clone();
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
}
