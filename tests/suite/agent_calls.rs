//! `haagentctl` against a private bus (no root needed): an agent that is not there is
//! unreachable (exit 3), one that holds its bus name and never answers times out within
//! `--call-timeout` (exit 5), and `status --json` says so as a JSON object.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// A dbus-daemon of our own, stopped when dropped.
struct Bus {
    daemon: Child,
    address: String,
    _dir: TempDir,
}

impl Bus {
    /// Starts it, or says why not: loudly under CI, as a skip elsewhere.
    fn start(tag: &str) -> Option<Bus> {
        let dir = TempDir::new(tag);
        let conf = dir.0.join("bus.conf");
        let socket = dir.0.join("bus");
        std::fs::write(
            &conf,
            format!(
                "<busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\
                 <policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>\
                 <allow send_destination=\"*\"/><allow receive_sender=\"*\"/></policy></busconfig>",
                socket.display()
            ),
        )
        .unwrap();
        let spawned = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn();
        let mut daemon = match spawned {
            Ok(d) => d,
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("dbus-daemon (package dbus-daemon) cannot run: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED (not under CI): dbus-daemon cannot run: {e}");
                return None;
            }
        };
        // It prints its address once it listens.
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        assert!(!address.trim().is_empty(), "dbus-daemon printed no address");
        Some(Bus {
            daemon,
            address: address.trim().to_owned(),
            _dir: dir,
        })
    }

    /// `haagentctl ARGS` with this bus as the system bus; also how long it took.
    fn ctl(&self, args: &[&str]) -> (Output, Duration) {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_haagentctl"))
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .output()
            .unwrap();
        (out, started.elapsed())
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// An agent frozen in the middle of its work: it owns the name and serves the object, and
/// no call ever returns.
struct Silent;

#[zbus::interface(name = "org.haagent.Agent1")]
impl Silent {
    async fn status(&self) -> String {
        std::future::pending().await
    }

    #[zbus(property)]
    async fn node(&self) -> String {
        std::future::pending().await
    }
}

fn json_error(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn an_absent_agent_is_unreachable_and_a_silent_one_times_out() {
    let Some(bus) = Bus::start("calls") else {
        return;
    };
    let (out, _) = bus.ctl(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let e = json_error(&out);
    assert_eq!(e["kind"], "unreachable", "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("is it running?"),
        "{e}"
    );

    // The silent agent runs on a thread of its own while haagentctl waits; it stops when
    // `stop` is sent or dropped.
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let address = bus.address.clone();
    let agent = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let conn = zbus::connection::Builder::address(address.as_str())
                .name("org.haagent.Agent1")
                .serve_at("/org/haagent/Agent1", Silent)
                .build()
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let _ = stopped.await;
            drop(conn);
        });
    });
    ready.recv().expect("the silent agent failed to start");

    let (out, took) = bus.ctl(&["--call-timeout", "0.5", "status"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{said}");
    assert!(
        said.contains("did not answer") && said.contains("within 0.5s"),
        "{said}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");

    let (out, took) = bus.ctl(&["status", "--json", "--call-timeout", "0.5"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(json_error(&out)["kind"], "timeout");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let _ = stop.send(());
    agent.join().unwrap();
}
