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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::stream::StreamExt;
use tokio::sync::{mpsc, oneshot};
use zbus::{Connection, MatchRule, MessageStream, OwnedObjectPath, OwnedVariant, proxy};

use crate::engine::{Active, JobKind, UnitSeen};

const UNIT_PATHS: &str = "/org/freedesktop/systemd1/unit";

#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
trait Manager {
    fn subscribe(&self) -> zbus::Result<()>;
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    #[allow(clippy::type_complexity)]
    fn start_transient_unit(
        &self,
        name: &str,
        mode: &str,
        properties: &[(&str, zbus::Variant<'_>)],
        aux: &[(&str, &[(&str, zbus::Variant<'_>)])],
    ) -> zbus::Result<OwnedObjectPath>;
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
    fn sub_state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn load_state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn job(&self) -> zbus::Result<(u32, OwnedObjectPath)>;
    #[zbus(property, name = "InvocationID")]
    fn invocation_id(&self) -> zbus::Result<Vec<u8>>;
    #[zbus(property)]
    fn activation_details(&self) -> zbus::Result<Vec<(String, String)>>;
}

#[proxy(
    interface = "org.freedesktop.systemd1.Job",
    default_service = "org.freedesktop.systemd1",
    assume_defaults = false
)]
trait Job {
    #[zbus(property)]
    fn job_type(&self) -> zbus::Result<String>;
}

/// The object path systemd gives unit `name` (its bus label escaping: every byte but ASCII
/// letters and digits, and a leading digit, becomes `_` and two hex digits).
pub fn unit_path(name: &str) -> String {
    let mut out = String::from(UNIT_PATHS);
    out.push('/');
    if name.is_empty() {
        out.push('_');
    }
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (b.is_ascii_digit() && i > 0) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

/// How many results of jobs nobody waits for yet are kept: a job may end before the call
/// that queued it returns its path. Far more than the jobs one call's round trip can see end.
const RECENT_RESULTS: usize = 1024;

/// Job results on their way to the calls that queued the jobs.
#[derive(Default)]
struct Results {
    waiting: HashMap<OwnedObjectPath, oneshot::Sender<String>>,
    /// Results that came before their waiter, oldest first.
    recent: VecDeque<(OwnedObjectPath, String)>,
}

impl Results {
    /// Hands a job's result to its waiter, or keeps it for one to come.
    fn arrived(&mut self, job: OwnedObjectPath, result: String) {
        if let Some(tx) = self.waiting.remove(&job) {
            let _ = tx.send(result);
            return;
        }
        if self.recent.len() == RECENT_RESULTS {
            self.recent.pop_front();
        }
        self.recent.push_back((job, result));
    }

    /// The result of `job` if it came already, else a receiver for it.
    fn wait(&mut self, job: OwnedObjectPath) -> Result<String, oneshot::Receiver<String>> {
        if let Some(i) = self.recent.iter().position(|(j, _)| *j == job) {
            return Ok(self.recent.remove(i).map(|(_, r)| r).unwrap_or_default());
        }
        let (tx, rx) = oneshot::channel();
        self.waiting.insert(job, tx);
        Err(rx)
    }
}

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

/// The D-Bus interface holding the `ControlGroup` property of `unit`'s type, if it has one.
fn cgroup_interface(unit: &str) -> Option<&'static str> {
    let kind = unit.rsplit_once('.')?.1;
    Some(match kind {
        "service" => "org.freedesktop.systemd1.Service",
        "mount" => "org.freedesktop.systemd1.Mount",
        "socket" => "org.freedesktop.systemd1.Socket",
        "swap" => "org.freedesktop.systemd1.Swap",
        "scope" => "org.freedesktop.systemd1.Scope",
        _ => return None,
    })
}

/// Whether two reports say the same of a unit's state (its origin aside).
fn same_state(a: &UnitSeen, b: &UnitSeen) -> bool {
    a.unit == b.unit && a.active == b.active && a.sub == b.sub && a.job == b.job
}

/// The origin of a unit's run in words: `invocation HEX` and each activation detail as
/// `KEY=VALUE` (a bounded number, each clipped: the journal line stays short); `None` when
/// systemd says nothing.
fn describe_origin(invocation: &[u8], details: &[(String, String)]) -> Option<String> {
    let mut parts = Vec::new();
    if !invocation.is_empty() && invocation.len() <= 32 {
        let hex: String = invocation.iter().map(|b| format!("{b:02x}")).collect();
        parts.push(format!("invocation {hex}"));
    }
    for (k, v) in details.iter().take(4) {
        parts.push(crate::text::clip(&format!("{k}={v}")));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_paths_are_escaped_as_systemd_does() {
        assert_eq!(
            unit_path("echo.service"),
            "/org/freedesktop/systemd1/unit/echo_2eservice"
        );
        assert_eq!(
            unit_path("fence-ipmi@beta.service"),
            "/org/freedesktop/systemd1/unit/fence_2dipmi_40beta_2eservice"
        );
        assert_eq!(
            unit_path("2x.mount"),
            "/org/freedesktop/systemd1/unit/_32x_2emount"
        );
    }
}

#[cfg(test)]
mod origin_tests {
    use super::describe_origin;

    #[test]
    fn an_origin_names_the_invocation_and_the_trigger_and_stays_short() {
        assert_eq!(describe_origin(&[], &[]), None);
        let details = vec![("trigger_unit".to_owned(), "app.timer".to_owned())];
        assert_eq!(
            describe_origin(&[0xab, 0x01], &details).as_deref(),
            Some("invocation ab01, trigger_unit=app.timer")
        );
        let many = vec![("k".to_owned(), "v".repeat(1000)); 100];
        let seen = |origin: Option<&str>| crate::engine::UnitSeen {
            unit: "web.service".into(),
            active: crate::engine::Active::Active,
            sub: "running".into(),
            job: None,
            origin: origin.map(str::to_owned),
        };
        assert!(super::same_state(&seen(Some("invocation ab")), &seen(None)));
        let text = describe_origin(&[0; 16], &many).unwrap();
        assert!(text.len() < 1000, "{}", text.len());
    }
}

#[cfg(test)]
mod results_tests {
    use super::*;

    fn job(n: u32) -> OwnedObjectPath {
        OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/job/{n}")).unwrap()
    }

    #[test]
    fn a_result_reaches_its_waiter_whether_it_comes_before_or_after() {
        let mut r = Results::default();
        r.arrived(job(1), "done".into());
        assert_eq!(r.wait(job(1)).ok().as_deref(), Some("done"));
        let mut rx = r.wait(job(2)).unwrap_err();
        r.arrived(job(3), "failed".into());
        assert!(
            rx.try_recv().is_err(),
            "another job's result is not this one's"
        );
        r.arrived(job(2), "timeout".into());
        assert_eq!(rx.try_recv().ok().as_deref(), Some("timeout"));
        assert!(r.waiting.is_empty());
    }

    #[test]
    fn results_nobody_waits_for_are_bounded() {
        let mut r = Results::default();
        for n in 0..(RECENT_RESULTS as u32 + 10) {
            r.arrived(job(n), "done".into());
        }
        assert_eq!(r.recent.len(), RECENT_RESULTS);
        assert!(r.wait(job(0)).is_err(), "the oldest were let go");
    }
}

#[cfg(test)]
mod cgroup_tests {
    use super::cgroup_interface;

    #[test]
    fn units_with_a_control_group_are_known_by_their_type() {
        assert_eq!(
            cgroup_interface("srv-pgdata.mount"),
            Some("org.freedesktop.systemd1.Mount")
        );
        assert_eq!(
            cgroup_interface("web.service"),
            Some("org.freedesktop.systemd1.Service")
        );
        assert_eq!(cgroup_interface("multi-user.target"), None);
        assert_eq!(cgroup_interface("noext"), None);
    }
}
