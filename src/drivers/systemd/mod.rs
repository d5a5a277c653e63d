//! systemd units over D-Bus (the system bus; systemd's private socket does not work with zbus):
//! start and stop jobs with mode "replace", waiting for each job's result, and a watch on every
//! managed unit's state (`ActiveState`, `SubState` and the kind of job queued for it), whoever
//! changes it: the engine decides what a change means. `Subscribe()` is called once on the kept
//! connection: systemd sends unit property changes only to subscribers. All units are watched
//! through one match rule (the bus limits rules per connection, and a manifest may name
//! hundreds of units).
//!
//! zbus stops reading the socket while any stream's queue is full, method replies included: a
//! task that makes a D-Bus call while it holds an unread stream can deadlock the connection.
//! So every stream here is drained by a task that never calls out: job results go through one
//! dispatcher to the job's waiter, and unit signals are passed on to a second task that reads
//! what it needs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures_util::stream::StreamExt;
use tokio::sync::mpsc;
use zbus::{Connection, MatchRule, MessageStream, OwnedObjectPath, OwnedVariant};

use crate::engine::{Active, JobKind, UnitSeen};

mod proxies;
mod results;
mod words;

pub use proxies::unit_path;
use proxies::{JobProxy, ManagerProxy, UNIT_PATHS, UnitProxy};
use results::Results;
use words::{cgroup_interface, describe, describe_origin, same_state};

/// The connection to systemd.
#[derive(Clone)]
pub struct Systemd {
    conn: Connection,
    mgr: ManagerProxy<'static>,
    results: Arc<Mutex<Results>>,
}

impl Systemd {
    /// Connects to the system bus, subscribes to systemd's signals and starts the task that
    /// hands job results to their callers.
    pub async fn connect() -> zbus::Result<Systemd> {
        let conn = Connection::system().await?;
        let mgr = ManagerProxy::new(&conn).await?;
        let mut removed = mgr.receive_job_removed().await?;
        mgr.subscribe().await?;
        let results = Arc::new(Mutex::new(Results::default()));
        let shared = Arc::downgrade(&results);
        // Drains the stream without ever calling out (see the module's note); it ends with
        // the connection or when no `Systemd` is left.
        tokio::spawn(async move {
            while let Some(signal) = removed.next().await {
                let Ok(args) = signal.args() else { continue };
                let Some(results) = shared.upgrade() else {
                    return;
                };
                let (job, result) = (args.job.clone(), args.result.clone());
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .arrived(job, result);
            }
        });
        Ok(Systemd { conn, mgr, results })
    }

    /// Starts (or stops) `unit` and waits for the job's result: `Ok` when systemd says `done`,
    /// else the result (`failed`, `timeout`, `dependency`, ...) or the call's error.
    pub async fn run_job(&self, unit: &str, start: bool) -> Result<(), String> {
        self.job(unit, start, "replace").await
    }

    /// Restarts `unit` (a unit whose health check failed) and waits for the job's result.
    pub async fn run_restart(&self, unit: &str) -> Result<(), String> {
        let job = self
            .mgr
            .restart_unit(unit, "replace")
            .await
            .map_err(describe)?;
        match self.result_of(job).await?.as_str() {
            "done" => Ok(()),
            other => Err(format!("job {other}")),
        }
    }

    /// Runs `argv` as a transient oneshot service (a health check of `label`), which systemd
    /// kills past `timeout` and unloads once it ended; `Ok` when it exited with status 0.
    pub async fn run_transient(
        &self,
        argv: &[String],
        label: &str,
        timeout: std::time::Duration,
    ) -> Result<(), String> {
        use zbus::Variant as Value;
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("haagent-check-{}-{n}.service", std::process::id());
        let program = argv.first().cloned().unwrap_or_default();
        let exec = vec![(program, argv.to_vec(), false)];
        let micros = u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX);
        let properties = [
            (
                "Description",
                Value::from(format!("haagent check of {label}")),
            ),
            ("Type", Value::from("oneshot")),
            ("ExecStart", Value::from(exec)),
            ("TimeoutStartUSec", Value::from(micros)),
            ("CollectMode", Value::from("inactive-or-failed")),
        ];
        let job = self
            .mgr
            .start_transient_unit(&name, "fail", &properties, &[])
            .await
            .map_err(describe)?;
        match self.result_of(job).await?.as_str() {
            "done" => Ok(()),
            "failed" => Err(format!(
                "the command failed or timed out (journalctl -u {name})"
            )),
            other => Err(format!("job {other} (journalctl -u {name})")),
        }
    }

    /// Queues a start job for `unit` with job `mode` (`fail`, `replace`); once systemd has
    /// queued it, the job's result, to await apart (`Ok` when `done`).
    pub async fn queue_start(
        &self,
        unit: &str,
        mode: &str,
    ) -> Result<impl Future<Output = Result<(), String>> + Send + 'static, String> {
        let job = self.mgr.start_unit(unit, mode).await.map_err(describe)?;
        let result = self.result_of(job);
        Ok(async move {
            match result.await?.as_str() {
                "done" => Ok(()),
                other => Err(format!("job {other}")),
            }
        })
    }

    /// The result systemd gives `job` (`done`, `failed`, ...), whether it came already or
    /// is still to come; registered now, so none is missed however late it is awaited.
    fn result_of(
        &self,
        job: OwnedObjectPath,
    ) -> impl Future<Output = Result<String, String>> + Send + use<> {
        let waiting = self
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .wait(job);
        async move {
            match waiting {
                Ok(result) => Ok(result),
                Err(rx) => rx
                    .await
                    .map_err(|_| "the system bus connection closed".to_string()),
            }
        }
    }

    async fn job(&self, unit: &str, start: bool, mode: &str) -> Result<(), String> {
        let call = if start {
            self.mgr.start_unit(unit, mode).await
        } else {
            self.mgr.stop_unit(unit, mode).await
        };
        let job = call.map_err(describe)?;
        match self.result_of(job).await?.as_str() {
            "done" if start => Ok(()),
            // systemd gives up on a process that ignores its stop signal when told not to
            // SIGKILL it, and calls the unit stopped: it is not.
            "done" => match self.leftover(unit).await {
                0 => Ok(()),
                n => Err(format!(
                    "stopped by systemd's word, but {n} processes remain in its control group"
                )),
            },
            other => Err(format!("job {other}")),
        }
    }

    /// How long systemd gives `unit` to stop before it gives up (`TimeoutStopUSec`, a mount's
    /// `TimeoutUSec`): `Ok(None)` for no limit; an error when it cannot say (not loaded, a unit
    /// type without one).
    pub async fn stop_timeout(&self, unit: &str) -> zbus::Result<Option<std::time::Duration>> {
        let (iface, prop) = match cgroup_interface(unit) {
            Some(i) if unit.ends_with(".mount") || unit.ends_with(".swap") => (i, "TimeoutUSec"),
            Some(i) => (i, "TimeoutStopUSec"),
            None => return Err(zbus::Error::Failure(format!("{unit} has no stop timeout"))),
        };
        self.unit(unit).await?;
        let props = zbus::fdo::PropertiesProxy::builder(&self.conn)
            .destination("org.freedesktop.systemd1")
            .path(unit_path(unit))
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        let name = zbus::names::InterfaceName::try_from(iface)?;
        let us = u64::try_from(props.get(name, prop).await?)?;
        Ok((us != u64::MAX).then(|| std::time::Duration::from_micros(us)))
    }

    /// How many processes are in `unit`'s control group (0 when it has none, or it cannot
    /// be read: a unit type without one, a host without cgroup v2).
    pub async fn leftover(&self, unit: &str) -> usize {
        let Some(iface) = cgroup_interface(unit) else {
            return 0;
        };
        let group: Option<String> = async {
            let props = zbus::fdo::PropertiesProxy::builder(&self.conn)
                .destination("org.freedesktop.systemd1")
                .path(unit_path(unit))
                .cache_properties(zbus::proxy::CacheProperties::No)
                .build()
                .await
                .ok()?;
            let name = zbus::names::InterfaceName::try_from(iface).ok()?;
            let v = props.get(name, "ControlGroup").await.ok()?;
            String::try_from(v).ok()
        }
        .await;
        let Some(group) = group.filter(|g| !g.is_empty()) else {
            return 0;
        };
        // A read of cgroupfs, off the loop's thread all the same.
        let path = format!("/sys/fs/cgroup{group}/cgroup.procs");
        tokio::task::spawn_blocking(move || {
            std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
        })
        .await
        .unwrap_or(0)
    }

    /// `seen`, with `inactive` or `failed` corrected to `Leftover` when processes remain. A
    /// unit started again meanwhile has processes too: its state is read again after the
    /// count, and only a unit still stopped by then counts as left over.
    async fn checked(&self, mut seen: UnitSeen) -> UnitSeen {
        if seen.active.running() || self.leftover(&seen.unit).await == 0 {
            return seen;
        }
        let Ok(now) = self.raw(&seen.unit).await else {
            seen.active = Active::Leftover;
            return seen;
        };
        if now.active.running() {
            return now;
        }
        seen = now;
        seen.active = Active::Leftover;
        seen
    }

    /// The unit's file state (`enabled`, `disabled`, `static`, ...), if systemd knows it.
    pub async fn file_state(&self, unit: &str) -> Option<String> {
        self.mgr.get_unit_file_state(unit).await.ok()
    }

    /// Whether systemd can load the unit (it has a unit file).
    pub async fn loadable(&self, unit: &str) -> zbus::Result<bool> {
        Ok(self.unit(unit).await?.load_state().await? == "loaded")
    }

    async fn unit(&self, unit: &str) -> zbus::Result<UnitProxy<'static>> {
        let path = self.mgr.load_unit(unit).await?;
        UnitProxy::builder(&self.conn).path(path).build().await
    }

    /// What systemd says of `unit` now.
    pub async fn seen(&self, unit: &str) -> zbus::Result<UnitSeen> {
        let seen = self.raw(unit).await?;
        Ok(self.checked(seen).await)
    }

    /// What systemd says of `unit` now, in its own words.
    async fn raw(&self, unit: &str) -> zbus::Result<UnitSeen> {
        let u = self.unit(unit).await?;
        let (active, sub, job) = (
            u.active_state().await?,
            u.sub_state().await?,
            u.job().await?,
        );
        let mut seen = UnitSeen {
            unit: unit.to_owned(),
            active: Active::parse(&active),
            sub,
            job: self.job_kind(&job.1).await,
            origin: None,
        };
        seen.origin = self.origin(&seen).await.flatten();
        Ok(seen)
    }

    /// What started `seen`'s unit, as systemd says, when it runs: its invocation id and what
    /// triggered it (a timer's or path unit's `ActivationDetails`), for the journal line of a
    /// stray copy. `None` when the unit no longer runs: a signal is handled after the reads
    /// of those before it, and may say `active` of a copy stopped meanwhile (its newer state
    /// comes in a later signal). Three property reads, only for a running unit.
    async fn origin(&self, seen: &UnitSeen) -> Option<Option<String>> {
        if !seen.active.running() {
            return Some(None);
        }
        let Ok(u) = UnitProxy::builder(&self.conn)
            .path(unit_path(&seen.unit))
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
        else {
            return Some(None);
        };
        if let Ok(now) = u.active_state().await
            && !Active::parse(&now).running()
        {
            return None;
        }
        let invocation = u.invocation_id().await.unwrap_or_default();
        let details = u.activation_details().await.unwrap_or_default();
        Some(describe_origin(&invocation, &details))
    }

    /// The kind of the job at `path` (`/` when none), if it is still there.
    async fn job_kind(&self, path: &OwnedObjectPath) -> Option<JobKind> {
        if path.as_str() == "/" {
            return None;
        }
        let job = JobProxy::builder(&self.conn)
            .path(path.clone())
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .ok()?;
        let kind: String = job.job_type().await.ok()?;
        Some(JobKind::parse(&kind))
    }

    /// Spawns a task reporting every change of state of the units in `units` to `tx`, until
    /// `tx` closes. One subscription covers them all.
    pub async fn watch(
        &self,
        units: Vec<String>,
        tx: mpsc::UnboundedSender<UnitSeen>,
    ) -> zbus::Result<tokio::task::AbortHandle> {
        let rule = MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .sender("org.freedesktop.systemd1")
            .interface("org.freedesktop.DBus.Properties")
            .member("PropertiesChanged")
            .path_namespace(UNIT_PATHS)
            .build()?;
        let mut stream = MessageStream::for_match_rule(rule, &self.conn, None).await?;
        let by_path: HashMap<String, String> =
            units.into_iter().map(|u| (unit_path(&u), u)).collect();
        // The drain only filters and passes on; the reads happen in the second task.
        let (fwd, mut signals) = mpsc::unbounded_channel();
        let drain = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let header = msg.header();
                let Some(unit) = header.path().and_then(|p| by_path.get(p.as_str())) else {
                    continue;
                };
                if fwd.send((unit.clone(), msg.clone())).is_err() {
                    return;
                }
            }
        });
        let me = self.clone();
        tokio::spawn(async move {
            let mut last: BTreeMap<String, UnitSeen> = BTreeMap::new();
            while let Some((unit, msg)) = signals.recv().await {
                let body = msg.body();
                let Ok((iface, changed, _)) =
                    body.deserialize::<(String, HashMap<String, OwnedVariant>, Vec<String>)>()
                else {
                    continue;
                };
                if iface != "org.freedesktop.systemd1.Unit"
                    || !["ActiveState", "SubState", "Job"]
                        .iter()
                        .any(|k| changed.contains_key(*k))
                {
                    continue;
                }
                let seen = match me.seen_in_signal(&unit, &changed).await {
                    Some(seen) => seen,
                    // A job that ended before its kind was read, or a unit that stopped since
                    // the signal: it has moved on; read it afresh rather than report a state
                    // it left.
                    None => match me.seen(&unit).await {
                        Ok(seen) => seen,
                        Err(_) => continue,
                    },
                };
                // The stream repeats values (every property change re-sends them): only
                // changes of state matter. The origin is left out of the comparison: read
                // later than the signal was sent, a repeat handled after the unit stopped
                // finds no invocation any more and would pass for a new start.
                if last.get(&unit).is_some_and(|l| same_state(l, &seen)) {
                    continue;
                }
                last.insert(unit, seen.clone());
                if tx.send(seen).is_err() {
                    return;
                }
            }
        });
        // Aborting the drain drops its sender, which ends the second task.
        Ok(drain.abort_handle())
    }

    /// The state a `PropertiesChanged` signal carries, with the kind of its job; `None` when
    /// a field is missing, the job ended before its kind could be read, or it says the unit
    /// runs and it no longer does.
    async fn seen_in_signal(
        &self,
        unit: &str,
        changed: &HashMap<String, OwnedVariant>,
    ) -> Option<UnitSeen> {
        let text = |k: &str| {
            changed
                .get(k)
                .and_then(|v| String::try_from(v.clone()).ok())
        };
        let (active, sub) = (text("ActiveState")?, text("SubState")?);
        let (_, path) = <(u32, OwnedObjectPath)>::try_from(changed.get("Job")?.clone()).ok()?;
        let job = self.job_kind(&path).await;
        if path.as_str() != "/" && job.is_none() {
            return None;
        }
        let mut seen = UnitSeen {
            unit: unit.to_owned(),
            active: Active::parse(&active),
            sub,
            job,
            origin: None,
        };
        // A stale `running`: the caller reads the unit afresh.
        seen.origin = self.origin(&seen).await?;
        Some(self.checked(seen).await)
    }
}
