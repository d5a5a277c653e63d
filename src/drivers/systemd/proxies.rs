//! The hand-written proxies of systemd's D-Bus interfaces this driver calls, and the
//! object path systemd gives a unit.

use zbus::{OwnedObjectPath, proxy};

pub(super) const UNIT_PATHS: &str = "/org/freedesktop/systemd1/unit";

#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
pub(super) trait Manager {
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
pub(super) trait Unit {
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
pub(super) trait Job {
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
