//! The test bed itself, on real hosts: isolation, a unit answering the client, power cuts,
//! cut/heal, loss and one-way cuts, copy-on-write roots, binaries from a directory the hosts
//! cannot see, the report of a failed wait, and teardown that leaves nothing.
//! Each test has its own prefix and subnet, so they run side by side.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use haagent_testbed::probe::{self, Mode};
use haagent_testbed::{BIN_DIR, Config, Probe, TestBed, cleanup, echo, state_path};

const ECHO_PORT: u16 = 7777;

/// Boots a bed, or explains why it cannot: loudly (a failure) under CI, as a skip elsewhere.
pub fn bed(cfg: Config) -> Option<TestBed> {
    if !super::e2e::can_run(&cfg) {
        return None;
    }
    super::sharing_the_machine();
    Some(TestBed::up(cfg).unwrap_or_else(|e| panic!("test bed failed to start: {e}")))
}

fn echo_config(prefix: &str, subnet: u8, hosts: usize) -> Config {
    Config::new(prefix, [10, 98, subnet], hosts).unit(
        "tb-echo.service",
        &probe::echo_unit(ECHO_PORT, None),
        true,
    )
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn hosts_are_isolated_from_each_other_and_from_the_machine() {
    let Some(tb) = bed(Config::new("tbi", [10, 98, 1], 2)) else {
        return;
    };
    let (h1, h2) = (tb.host("h1"), tb.host("h2"));
    assert_eq!(h1.sh("hostname").unwrap().trim(), "h1");
    assert_eq!(h2.sh("hostname").unwrap().trim(), "h2");
    // /run, the haagent directories and the journal are private.
    h1.sh("echo x > /run/tb-mark && echo key > /etc/haagent/mark && systemd-cat -t tbmark echo hello-h1").unwrap();
    assert!(h2.sh("test -e /run/tb-mark").is_err(), "h2 sees h1's /run");
    assert!(
        h2.sh("test -e /etc/haagent/mark").is_err(),
        "h2 sees h1's /etc/haagent"
    );
    assert!(
        !std::path::Path::new("/run/tb-mark").exists(),
        "the machine sees h1's /run"
    );
    assert!(
        !std::path::Path::new("/etc/haagent/mark").exists(),
        "the machine sees h1's /etc/haagent"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(h1.journal(None).contains("hello-h1"));
    assert!(
        !h2.journal(None).contains("hello-h1"),
        "h2's journal has h1's message"
    );
    // Each host has its own system bus and its own units.
    let bus_id = |h: &haagent_testbed::Host| {
        h.sh("busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId")
            .unwrap()
    };
    assert_ne!(bus_id(h1), bus_id(h2));
    h1.write_file(
        "/run/systemd/system/only-h1.service",
        b"[Service]\nExecStart=/bin/sleep infinity\n",
        0o644,
    )
    .unwrap();
    h1.sh("systemctl daemon-reload && systemctl start only-h1.service")
        .unwrap();
    assert_eq!(
        h1.sh("systemctl is-active only-h1.service").unwrap().trim(),
        "active"
    );
    let in_h2 = h2.exec(&[
        "systemctl",
        "show",
        "-p",
        "LoadState",
        "--value",
        "only-h1.service",
    ]);
    assert_eq!(stdout(&in_h2), "not-found");
    // machine-wide kernel settings are read-only, network ones are the host's own.
    assert!(h1.sh("echo 1 > /proc/sys/kernel/sysrq").is_err());
    h1.sh("echo 1 > /proc/sys/net/ipv4/conf/all/arp_accept")
        .unwrap();
    assert_eq!(
        h2.sh("cat /proc/sys/net/ipv4/conf/all/arp_accept")
            .unwrap()
            .trim(),
        "0"
    );
    // A reboot is a fresh boot: new PID 1, empty /run and journal, private dirs kept.
    let mut tb = tb;
    let old_pid = tb.host("h1").pid();
    tb.reboot("h1").unwrap();
    let h1 = tb.host("h1");
    assert_ne!(h1.pid(), old_pid);
    assert!(h1.sh("test -e /run/tb-mark").is_err());
    assert!(!h1.journal(None).contains("hello-h1"));
    assert_eq!(h1.sh("cat /etc/haagent/mark").unwrap().trim(), "key");
    let left = tb.down();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_unit_answers_the_client_until_its_host_loses_power() {
    let Some(mut tb) = bed(echo_config("tbu", 2, 2)) else {
        return;
    };
    let netns = tb.client_netns();
    let h1 = SocketAddrV4::new(tb.ip("h1"), ECHO_PORT);
    let every = Duration::from_millis(5);
    for mode in [Mode::Udp, Mode::Tcp] {
        let seen = Probe::run_for(&netns, h1, mode, every, Duration::from_millis(500)).unwrap();
        assert!(seen.answered > 20, "{mode:?}: {seen:?}");
        assert_eq!(
            seen.by_host.keys().collect::<Vec<_>>(),
            ["h1"],
            "{mode:?}: {seen:?}"
        );
    }
    assert!(
        tb.host("h1")
            .journal(Some("tb-echo.service"))
            .contains("tb-echo: listening")
    );

    let probe = Probe::start(&netns, h1, Mode::Udp, every).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    tb.kill("h1").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let seen = probe.stop().unwrap();
    assert!(
        seen.answered > 10,
        "answered before the power cut: {seen:?}"
    );
    assert!(
        seen.silent_at_end >= Duration::from_millis(600),
        "answers after the power cut: {seen:?}"
    );
    assert!(
        tb.client(&["ping", "-c1", "-W1", &tb.ip("h1").to_string()])
            .status
            .code()
            != Some(0)
    );

    // Power back on: a fresh boot of the same host answers again.
    tb.start("h1").unwrap();
    tb.host("h1")
        .sh("systemctl is-active tb-echo.service")
        .unwrap();
    let seen = Probe::run_for(&netns, h1, Mode::Udp, every, Duration::from_millis(300)).unwrap();
    assert!(seen.answered > 10, "{seen:?}");
    let left = tb.down();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn cut_heal_loss_and_one_way_cuts() {
    let Some(tb) = bed(echo_config("tbn", 3, 2)) else {
        return;
    };
    let netns = tb.client_netns();
    let h2 = SocketAddrV4::new(tb.ip("h2"), ECHO_PORT);
    let every = Duration::from_millis(5);
    let window = Duration::from_millis(400);

    tb.cut("h2").unwrap();
    let seen = Probe::run_for(&netns, h2, Mode::Udp, every, window).unwrap();
    assert_eq!(seen.answered, 0, "a cut host answered: {seen:?}");
    tb.heal("h2").unwrap();
    // The client's ARP entry failed during the cut; it resolves again within its retry time.
    let seen = Probe::run_for(&netns, h2, Mode::Udp, every, Duration::from_secs(3)).unwrap();
    assert!(
        seen.answered > 0 && seen.silent_at_end < Duration::from_millis(100),
        "healed host: {seen:?}"
    );

    tb.loss("h2", 50).unwrap();
    let seen = Probe::run_for(&netns, h2, Mode::Udp, every, Duration::from_secs(1)).unwrap();
    let ratio = seen.answered as f64 / seen.sent as f64;
    // Each answer needs the question through (50%); the answer leaves h2 unharmed.
    assert!(
        (0.25..0.75).contains(&ratio),
        "50% loss gave an answer ratio of {ratio}: {seen:?}"
    );
    tb.clear_faults("h2").unwrap();

    // One-way: h2 drops what comes from h1, while h1 still receives from h2.
    tb.drop_from("h2", "h1").unwrap();
    let h1 = SocketAddrV4::new(tb.ip("h1"), ECHO_PORT);
    let send5 = |from: &str, to: SocketAddrV4| {
        let script = format!(
            "import socket\ns=socket.socket(2,2)\nfor _ in range(5): s.sendto(b'x',('{}',{}))",
            to.ip(),
            to.port()
        );
        tb.host(from).exec(&["python3", "-c", &script]);
        std::thread::sleep(Duration::from_millis(100));
    };
    let (before_h1, before_h2) = (
        probe::echo_count(&netns, h1).unwrap(),
        probe::echo_count(&netns, h2).unwrap(),
    );
    send5("h2", h1);
    send5("h1", h2);
    assert_eq!(
        probe::echo_count(&netns, h1).unwrap(),
        before_h1 + 5,
        "h2 -> h1 must pass"
    );
    assert_eq!(
        probe::echo_count(&netns, h2).unwrap(),
        before_h2,
        "h1 -> h2 must be dropped"
    );
    tb.clear_faults("h2").unwrap();
    send5("h1", h2);
    assert_eq!(
        probe::echo_count(&netns, h2).unwrap(),
        before_h2 + 5,
        "cleared faults"
    );

    // Isolation: h1 and h2 cannot talk, both still reach the client.
    tb.isolate("h1", "h2").unwrap();
    assert!(
        tb.host("h1")
            .sh(&format!("ping -c1 -W1 {}", tb.ip("h2")))
            .is_err()
    );
    tb.host("h1")
        .sh(&format!("ping -c1 -W1 {}", tb.client_ip()))
        .unwrap();
    tb.host("h2")
        .sh(&format!("ping -c1 -W1 {}", tb.client_ip()))
        .unwrap();
    tb.unisolate("h1", "h2").unwrap();
    tb.host("h1")
        .sh(&format!("ping -c1 -W1 {}", tb.ip("h2")))
        .unwrap();
}

#[test]
fn a_copy_on_write_root_keeps_writes_inside_the_host() {
    let mut cfg = Config::new("tbw", [10, 98, 4], 2);
    cfg.cow_root = true;
    let Some(tb) = bed(cfg) else { return };
    tb.host("h1").sh("mkdir -p /usr/share/tb-cow && echo h1 > /usr/share/tb-cow/mark && echo x >> /etc/tb-cow-mark").unwrap();
    assert_eq!(
        tb.host("h1")
            .sh("cat /usr/share/tb-cow/mark")
            .unwrap()
            .trim(),
        "h1"
    );
    assert!(
        tb.host("h2").sh("test -e /usr/share/tb-cow/mark").is_err(),
        "h2 sees h1's /usr"
    );
    assert!(
        !std::path::Path::new("/usr/share/tb-cow").exists(),
        "the machine sees h1's /usr"
    );
    assert!(
        !std::path::Path::new("/etc/tb-cow-mark").exists(),
        "the machine sees h1's /etc"
    );
    let left = tb.down();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn three_hosts_come_up_and_go_down_leaving_nothing_even_after_a_crash() {
    let cfg = Config::new("tbt", [10, 98, 5], 3);
    let started = Instant::now();
    let Some(tb) = bed(cfg.clone()) else { return };
    let booted = started.elapsed();
    for h in ["h1", "h2", "h3"] {
        let ping = tb.client(&["ping", "-c1", "-W1", &tb.ip(h).to_string()]);
        assert!(ping.status.success(), "client cannot reach {h}");
    }
    let left = tb.down();
    eprintln!(
        "test bed timing: 3 hosts + client up in {booted:?}, up and down in {:?}",
        started.elapsed()
    );
    assert!(left.is_empty(), "left behind: {left:?}");

    // A crashed run leaves everything behind; the next `up` with the same prefix cleans it.
    let crashed = bed(cfg.clone()).unwrap();
    let state = crashed.state_dir().to_path_buf();
    std::mem::forget(crashed);
    assert!(!cleanup::leftovers("tbt", &state).is_empty());
    let again = bed(cfg).unwrap();
    assert_eq!(again.hosts().len(), 3);
    let left = again.down();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_panicking_test_still_tears_its_bed_down() {
    let cfg = Config::new("tbp", [10, 98, 6], 1);
    let mut booted = false;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(tb) = bed(cfg.clone()) else { return };
        booted = true;
        tb.host("h1").sh("false").expect("a failing step");
    }));
    if booted {
        assert!(result.is_err(), "the step was meant to fail");
        let left = cleanup::leftovers("tbp", &state_path("tbp"));
        assert!(left.is_empty(), "left behind after a panic: {left:?}");
    }
}

#[test]
fn hosts_run_binaries_from_a_directory_their_private_tmp_hides() {
    // A copy of the echo server under the machine's /tmp, like a checkout cloned there: the
    // hosts' /tmp is their own, so only the bed's mount at BIN_DIR lets them run it.
    let bins = std::env::temp_dir().join("haagent-testbed-tbh.bin");
    let _ = std::fs::remove_dir_all(&bins);
    std::fs::create_dir_all(&bins).unwrap();
    std::fs::copy(echo::binary().unwrap(), bins.join("tb-echo")).unwrap();
    let unit = echo::unit(ECHO_PORT, Ipv4Addr::UNSPECIFIED).unwrap();
    let mut cfg = Config::new("tbh", [10, 98, 60], 1).unit("tb-echo.service", &unit, true);
    cfg.bin_dir = Some(bins.clone());
    let Some(tb) = bed(cfg) else {
        let _ = std::fs::remove_dir_all(&bins);
        return;
    };
    let h1 = tb.host("h1");
    assert!(
        h1.sh(&format!("test -e {}", bins.display())).is_err(),
        "the host sees the machine's /tmp, so this test proves nothing"
    );
    assert_eq!(h1.sh(&format!("ls {BIN_DIR}")).unwrap().trim(), "tb-echo");
    assert!(
        h1.sh(&format!("touch {BIN_DIR}/x")).is_err(),
        "a host can write the machine's binaries"
    );
    let target = SocketAddrV4::new(tb.ip("h1"), ECHO_PORT);
    let every = Duration::from_millis(5);
    let seen = Probe::run_for(
        &tb.client_netns(),
        target,
        Mode::Udp,
        every,
        Duration::from_millis(300),
    )
    .unwrap();
    assert!(seen.answered > 10, "{seen:?}");
    assert_eq!(seen.by_host.keys().collect::<Vec<_>>(), ["h1"], "{seen:?}");
    let left = tb.down();
    std::fs::remove_dir_all(&bins).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_timed_out_wait_shows_the_failed_unit_with_its_status_and_journal() {
    let broken = "broken.service";
    let text = format!("[Service]\nExecStart={BIN_DIR}/never-built\n");
    let cfg = Config::new("tbr", [10, 98, 61], 1).unit(broken, &text, false);
    let Some(tb) = bed(cfg) else { return };
    let h1 = tb.host("h1");
    // A simple service's start succeeds before the exec fails: only waiting shows it.
    h1.sh("systemctl start broken.service").unwrap();
    let started = Instant::now();
    let err = tb
        .wait_for(
            "broken to run",
            Duration::from_millis(300),
            &[broken],
            || {
                h1.exec(&["systemctl", "is-active", broken])
                    .status
                    .success()
            },
        )
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        err.starts_with("timed out after 300ms waiting for broken to run\n"),
        "{err}"
    );
    for shown in [
        "=== host h1\n",
        "failed units: broken.service\n",
        "--- systemctl status broken.service\n",
        "status=203/EXEC",
        "--- journalctl -u broken.service (last 30 lines)\n",
    ] {
        assert!(err.contains(shown), "`{shown}` is missing from:\n{err}");
    }
    // systemd's own line; the failed child's are not always filed under the unit (it may
    // exit before journald looks up its cgroup).
    let journal = err.split("--- journalctl").nth(1).unwrap_or_default();
    assert!(
        journal.contains("broken.service: Main process exited, code=exited, status=203/EXEC"),
        "{err}"
    );
    let left = tb.down();
    assert!(left.is_empty(), "left behind: {left:?}");
}
