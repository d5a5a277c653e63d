//! Carries out the engine's actions with the drivers, and reports their completions back to
//! the loop as engine inputs. It decides nothing and remembers nothing about resources: what
//! is held is the engine's record alone.

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::control::metrics::Tracker;
use crate::control::status::History;
use crate::drivers::announcer::Announcer;
use crate::drivers::links::Links;
use crate::drivers::notifier::Notifier;
use crate::drivers::systemd::Systemd;
use crate::drivers::vip::{Change, Vips};
use crate::drivers::{logging, notify};
use crate::engine::{Action, Input, Notify, Op, ResourceRef};

/// The drivers the actions need.
pub struct Exec {
    pub(super) links: Links,
    pub(super) vips: Vips,
    pub(super) systemd: Option<Systemd>,
    done: mpsc::UnboundedSender<Input>,
    /// Announcement bursts, paced on a thread of their own.
    announcer: Announcer,
    status: String,
    /// What `haagentctl status` reports beyond the engine's own state.
    pub(super) history: History,
    /// The control interface's bus connection, for its signals.
    pub(super) control: Option<zbus::Connection>,
    /// Where checkpoints go, if there is a runtime directory.
    pub(super) checkpoints: Option<crate::drivers::checkpoint::Checkpoints>,
    /// Where what is known of the peers' runs goes (the state directory).
    pub(super) peer_runs: Option<crate::drivers::checkpoint::PeerRuns>,
    /// What metrics count beyond the engine's view.
    pub(super) tracker: Tracker,
    /// The notification queue, and the template of the manifest in force (none: off).
    pub(super) notifier: Notifier,
    pub(super) notify_unit: Option<crate::manifest::model::NotifyUnit>,
}

impl Exec {
    /// An executor over these drivers; completions go to `done`.
    pub fn new(
        links: Links,
        vips: Vips,
        systemd: Option<Systemd>,
        announcer: Announcer,
        done: mpsc::UnboundedSender<Input>,
    ) -> Exec {
        Exec {
            links,
            vips,
            notifier: Notifier::spawn(systemd.clone()),
            systemd,
            done,
            announcer,
            status: String::new(),
            history: History::default(),
            control: None,
            checkpoints: None,
            peer_runs: None,
            tracker: Tracker::default(),
            notify_unit: None,
        }
    }

    /// The last status line.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// Carries out `actions`; true when the engine says the agent may exit. The VIP changes
    /// among them go to netlink as one batch, after the rest.
    pub fn apply(&mut self, actions: Vec<Action>) -> bool {
        let mut exit = false;
        let mut changes = Vec::new();
        for a in actions {
            match a {
                Action::Send {
                    link,
                    datagram,
                    key,
                    version,
                } => self.links.send(&link, &datagram, key, version),
                Action::AddVip { res, vip } => changes.push(Change {
                    key: (res, Op::Start),
                    add: true,
                    vip,
                }),
                Action::RemoveVip { res, vip } => {
                    // A burst still under way would point clients back here after the new
                    // holder's announcement (a move soon after an acquire): end it.
                    self.announcer.cancel(vip.clone());
                    changes.push(Change {
                        key: (res, Op::Stop),
                        add: false,
                        vip,
                    });
                }
                Action::Announce { res, vip } => self.announcer.start(&res.group, vip),
                Action::StartUnit { res, unit } => self.unit_job(res, unit, Op::Start),
                Action::StopUnit { res, unit } => self.unit_job(res, unit, Op::Stop),
                Action::RestartUnit { res, unit } => {
                    let systemd = self.systemd.clone();
                    self.spawn_done(res, Op::Start, async move {
                        match systemd {
                            Some(s) => s.run_restart(&unit).await,
                            None => Err("not connected to systemd".into()),
                        }
                    });
                }
                Action::RunCheck { res, seq, check } => self.run_check(res, seq, check),
                Action::Fence { node, unit } => self.fence(node, unit),
                Action::Notify(n) => self.notify(n),
                Action::Log(e) => {
                    logging::event(&e);
                    self.history.event(&e);
                    self.tracker.event(&e, std::time::Instant::now());
                    self.notifier.event(self.notify_unit.as_ref(), &e);
                    if let Some(conn) = &self.control {
                        crate::control::service::announce(conn, &e);
                    }
                }
                Action::Checkpoint {
                    holding,
                    stands_ms,
                    maintenance,
                } => {
                    if let Some(c) = &self.checkpoints {
                        c.save(holding, stands_ms, &maintenance);
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
        if !changes.is_empty() {
            self.vip_batch(changes);
        }
        exit
    }

    /// Sends a batch of VIP changes on its way; each result comes back as it arrives.
    fn vip_batch(&self, changes: Vec<Change<(ResourceRef, Op)>>) {
        let results = self.vips.batch(changes);
        let tx = self.done.clone();
        tokio::spawn(async move {
            let mut results = std::pin::pin!(results);
            while let Some(((res, op), result)) = results.next().await {
                let _ = tx.send(Input::Done {
                    res,
                    op,
                    ok: result.is_ok(),
                    detail: result.err().map(|e| e.to_string()).unwrap_or_default(),
                });
            }
        });
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

    /// Runs a health check on a task of its own (bounded by its timeout); the result comes back
    /// as an input.
    fn run_check(&self, res: ResourceRef, seq: u64, check: crate::manifest::model::Check) {
        let systemd = self.systemd.clone();
        let tx = self.done.clone();
        tokio::spawn(async move {
            let label = format!("{}[{}]", res.group, res.index);
            let result = crate::drivers::checks::run(&check, &label, systemd.as_ref()).await;
            let _ = tx.send(Input::Checked {
                res,
                seq,
                ok: result.is_ok(),
                detail: result.err().unwrap_or_default(),
            });
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
