//! One host: its state directory, the launch of its systemd as PID 1, waiting for boot, running
//! commands inside it, and its power (clean stop, power cut).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{Config, Result, cleanup, net, run_output};

const HOST_INIT: &str = include_str!("host-init.sh");

/// A host of the bed.
pub struct Host {
    name: String,
    index: u8,
    netns: String,
    state: PathBuf,
    cgroup: PathBuf,
    launcher: Option<Child>,
    pid: Option<u32>,
}

impl Host {
    pub(crate) fn new(cfg: &Config, bed_state: &Path, name: &str, index: u8) -> Host {
        Host {
            name: name.to_owned(),
            index,
            netns: net::netns(&cfg.prefix, name),
            state: bed_state.join(name),
            cgroup: cleanup::cgroup_base().join(net::netns(&cfg.prefix, name)),
            launcher: None,
            pid: None,
        }
    }

    /// The host's name, which is also its hostname.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn index(&self) -> u8 {
        self.index
    }

    /// Its network namespace (under `/run/netns`).
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// PID of its systemd, as the machine sees it, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Writes the state directory and starts `host-init.sh` as PID 1 of new namespaces.
    pub(crate) fn launch(&mut self, cfg: &Config) -> Result<()> {
        self.prepare(cfg).map_err(|e| {
            format!(
                "host {}: cannot prepare {}: {e}",
                self.name,
                self.state.display()
            )
        })?;
        fs::create_dir_all(&self.cgroup)
            .map_err(|e| format!("cannot create cgroup {}: {e}", self.cgroup.display()))?;
        let log = fs::File::create(self.state.join("init.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let private = cfg.private_dirs.join(" ");
        let cow = if cfg.cow_root { "1" } else { "0" };
        let child = Command::new("setsid")
            .args(["nsenter", &format!("--net=/run/netns/{}", self.netns), "--"])
            .args([
                "unshare",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--mount",
                "--uts",
                "--ipc",
                "--",
            ])
            .arg("sh")
            .arg(self.state.join("host-init.sh"))
            .args([
                self.name.as_str(),
                path_str(&self.state),
                path_str(&self.cgroup),
                private.as_str(),
                cow,
            ])
            .arg(cfg.bin_dir.as_deref().unwrap_or(Path::new("")))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot launch host {}: {e}", self.name))?;
        self.launcher = Some(child);
        self.pid = None;
        Ok(())
    }

    fn prepare(&self, cfg: &Config) -> std::io::Result<()> {
        let units = self.state.join("units");
        let _ = fs::remove_dir_all(&units);
        fs::create_dir_all(units.join("tb-host.target.wants"))?;
        fs::write(self.state.join("hostname"), format!("{}\n", self.name))?;
        fs::write(
            self.state.join("machine-id"),
            format!("{}\n", random_hex(16)?),
        )?;
        fs::write(self.state.join("host-init.sh"), HOST_INIT)?;
        // The mount point host-init holds `bin_dir` on until the host's /run exists.
        fs::create_dir_all(self.state.join("bin"))?;
        fs::create_dir_all(self.state.join("run"))?;
        fs::write(
            self.state.join("run").join(crate::probe::ECHO_SCRIPT_NAME),
            crate::probe::ECHO_SCRIPT,
        )?;
        for unit in cfg
            .units
            .iter()
            .filter(|u| u.hosts.as_ref().is_none_or(|h| h.contains(&self.name)))
        {
            fs::write(units.join(&unit.name), &unit.text)?;
            if unit.at_boot {
                std::os::unix::fs::symlink(
                    format!("../{}", unit.name),
                    units.join("tb-host.target.wants").join(&unit.name),
                )?;
            }
        }
        Ok(())
    }

    /// Waits until the host's systemd reports `running` (or `degraded`, which is an error too).
    pub(crate) fn wait_booted(&mut self, deadline: Instant) -> Result<()> {
        let pid = loop {
            if let Some(pid) = self.init_pid()
                && Path::new(&format!("/proc/{pid}/root/run/systemd/private")).exists()
            {
                break pid;
            }
            self.check_launcher()?;
            if Instant::now() > deadline {
                return Err(format!(
                    "host {} did not start systemd in time; {}",
                    self.name,
                    self.init_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.pid = Some(pid);
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1)
            .to_string();
        let out = self.exec(&["timeout", &left, "systemctl", "is-system-running", "--wait"]);
        let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if state != "running" {
            let failed = String::from_utf8_lossy(
                &self.exec(&["systemctl", "--failed", "--no-legend"]).stdout,
            )
            .into_owned();
            return Err(format!(
                "host {} booted into state `{state}`; failed units: {failed}",
                self.name
            ));
        }
        Ok(())
    }

    /// The launcher exits early only when host-init failed.
    fn check_launcher(&mut self) -> Result<()> {
        if let Some(child) = &mut self.launcher
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(format!(
                "host {} exited during boot ({status}); {}",
                self.name,
                self.init_log()
            ));
        }
        Ok(())
    }

    fn init_log(&self) -> String {
        let log = fs::read_to_string(self.state.join("init.log")).unwrap_or_default();
        format!("init.log: {}", log.trim())
    }

    /// systemd moves itself into `init.scope`; the first PID there is the host's PID 1.
    fn init_pid(&self) -> Option<u32> {
        let procs = fs::read_to_string(self.cgroup.join("init.scope/cgroup.procs")).ok()?;
        procs.lines().next()?.trim().parse().ok()
    }

    fn running_pid(&self) -> u32 {
        self.pid
            .unwrap_or_else(|| panic!("host {} is not running", self.name))
    }

    /// Runs a command inside the host (all its namespaces), with a clean environment.
    pub fn exec(&self, args: &[&str]) -> Output {
        let pid = self.running_pid().to_string();
        let mut all = vec![
            "-t",
            pid.as_str(),
            "-a",
            "--wd=/",
            "--",
            "env",
            "-i",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=dumb",
            "SYSTEMD_PAGER=cat",
        ];
        all.extend_from_slice(args);
        run_output("nsenter", &all)
    }

    /// Runs a shell command inside the host; fails with its output when it fails.
    pub fn sh(&self, script: &str) -> Result<String> {
        let out = self.exec(&["sh", "-c", script]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "host {}: `{script}` failed ({}): {stdout}{}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The host's journal (of one unit, if given), as plain messages.
    pub fn journal(&self, unit: Option<&str>) -> String {
        let mut args = vec!["journalctl", "--no-pager", "-o", "cat"];
        if let Some(u) = unit {
            args.extend(["-u", u]);
        }
        String::from_utf8_lossy(&self.exec(&args).stdout).into_owned()
    }

    /// Writes a file inside the running host (parents created), through `/proc/PID/root`.
    pub fn write_file(&self, path: &str, data: &[u8], mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let target = PathBuf::from(format!("/proc/{}/root{path}", self.running_pid()));
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&target, data).map_err(|e| format!("{}: {e}", target.display()))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())
    }

    /// Copies a file of the machine into the host.
    pub fn copy_in(&self, src: &Path, dest: &str, mode: u32) -> Result<()> {
        let data = fs::read(src).map_err(|e| format!("{}: {e}", src.display()))?;
        self.write_file(dest, &data, mode)
    }

    /// Asks systemd to power off (SIGRTMIN+4 needs no D-Bus).
    pub(crate) fn poweroff_signal(&mut self) {
        if let Some(pid) = self.pid.or_else(|| self.init_pid()) {
            let _ = run_output("kill", &["-s", "RTMIN+4", &pid.to_string()]);
        }
    }

    /// Waits for the host's cgroup to empty (killing what is left after 10 s) and reaps it.
    pub(crate) fn reap(&mut self) {
        cleanup::empty_cgroup(&self.cgroup, Duration::from_secs(10));
        if let Some(mut child) = self.launcher.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        cleanup::remove_cgroup(&self.cgroup);
        self.pid = None;
    }

    /// Clean shutdown.
    pub(crate) fn stop(&mut self) -> Result<()> {
        self.running_pid();
        self.poweroff_signal();
        self.reap();
        Ok(())
    }

    /// Freezes (or thaws) every process of the host at once, its systemd too, with
    /// `cgroup.freeze`: a paused VM as its neighbours see it.
    pub(crate) fn freeze(&self, on: bool) -> Result<()> {
        let file = self.cgroup.join("cgroup.freeze");
        fs::write(&file, if on { "1" } else { "0" })
            .map_err(|e| format!("cannot write {}: {e}", file.display()))
    }

    /// Power cut: `cgroup.kill` ends every process of the host at once.
    pub(crate) fn kill(&mut self) -> Result<()> {
        self.running_pid();
        cleanup::empty_cgroup(&self.cgroup, Duration::ZERO);
        self.reap();
        Ok(())
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("state paths are UTF-8")
}

fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
