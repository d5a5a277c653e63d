//! systemd units over D-Bus (the system bus; systemd's private socket does not work with zbus):
//! start and stop jobs with mode "replace", waiting for each job's result, and a watch on each
//! managed unit's ActiveState so a unit that fails or is stopped behind the agent's back is
//! reported. `Subscribe()` is called once on the kept connection: systemd sends unit property
//! changes only to subscribers.

use futures_util::stream::StreamExt;
use tokio::sync::mpsc;
use zbus::{Connection, OwnedObjectPath, proxy};

#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
trait Manager {
    fn subscribe(&self) -> zbus::Result<()>;
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
    fn get_unit_file_state(&self, name: &str) -> zbus::Result<String>;
    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: OwnedObjectPath,
        unit: String,
        result: String,
    ) -> zbus::Result<()>;
}

#[proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1",
    assume_defaults = false
)]
trait Unit {
    #[zbus(property)]
    fn active_state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn load_state(&self) -> zbus::Result<String>;
}

/// A unit's state changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitChange {
    /// The unit.
    pub unit: String,
    /// Its new ActiveState.
    pub active_state: String,
}

/// The connection to systemd.
#[derive(Clone)]
pub struct Systemd {
    conn: Connection,
    mgr: ManagerProxy<'static>,
}

impl Systemd {
    /// Connects to the system bus and subscribes to systemd's signals.
    pub async fn connect() -> zbus::Result<Systemd> {
        let conn = Connection::system().await?;
        let mgr = ManagerProxy::new(&conn).await?;
        mgr.subscribe().await?;
        Ok(Systemd { conn, mgr })
    }

    /// Starts (or stops) `unit` and waits for the job's result: `Ok` when systemd says `done`,
    /// else the result (`failed`, `timeout`, `dependency`, ...) or the call's error.
    pub async fn run_job(&self, unit: &str, start: bool) -> Result<(), String> {
        // Listen before queueing the job: a quick job may finish before the call returns.
        let mut removed = self
            .mgr
            .receive_job_removed()
            .await
            .map_err(|e| e.to_string())?;
        let call = if start {
            self.mgr.start_unit(unit, "replace").await
        } else {
            self.mgr.stop_unit(unit, "replace").await
        };
        let job = call.map_err(describe)?;
        while let Some(signal) = removed.next().await {
            let Ok(args) = signal.args() else { continue };
            if args.job == job {
                return match args.result.as_str() {
                    "done" => Ok(()),
                    other => Err(format!("job {other}")),
                };
            }
        }
        Err("the system bus connection closed".into())
    }

    /// The unit's file state (`enabled`, `disabled`, `static`, ...), if systemd knows it.
    pub async fn file_state(&self, unit: &str) -> Option<String> {
        self.mgr.get_unit_file_state(unit).await.ok()
    }

    /// The unit's ActiveState now.
    pub async fn active_state(&self, unit: &str) -> zbus::Result<String> {
        self.unit(unit).await?.active_state().await
    }

    /// Whether systemd can load the unit (it has a unit file).
    pub async fn loadable(&self, unit: &str) -> zbus::Result<bool> {
        Ok(self.unit(unit).await?.load_state().await? == "loaded")
    }

    async fn unit(&self, unit: &str) -> zbus::Result<UnitProxy<'static>> {
        let path = self.mgr.load_unit(unit).await?;
        UnitProxy::builder(&self.conn).path(path).build().await
    }

    /// Spawns a task reporting every change of `unit`'s ActiveState (the current value first).
    pub async fn watch(
        &self,
        unit: &str,
        tx: mpsc::UnboundedSender<UnitChange>,
    ) -> zbus::Result<()> {
        let proxy = self.unit(unit).await?;
        let mut changes = proxy.receive_active_state_changed().await;
        let unit = unit.to_owned();
        tokio::spawn(async move {
            let mut last = None;
            while let Some(change) = changes.next().await {
                let Ok(state) = change.get().await else {
                    continue;
                };
                // The stream repeats values; only changes matter.
                if last.as_ref() == Some(&state) {
                    continue;
                }
                last = Some(state.clone());
                let change = UnitChange {
                    unit: unit.clone(),
                    active_state: state,
                };
                if tx.send(change).is_err() {
                    return;
                }
            }
        });
        Ok(())
    }
}

/// A D-Bus error in words: systemd's error name says most (`NoSuchUnit`, `AccessDenied`).
fn describe(e: zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(name, detail, _) => match detail {
            Some(d) => format!("{name}: {d}"),
            None => name.to_string(),
        },
        other => other.to_string(),
    }
}
