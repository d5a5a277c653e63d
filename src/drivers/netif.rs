//! Facts about this host's network interfaces that the drivers need (index, MAC), read from
//! sysfs: a fresh read each time, because interfaces come and go under a running agent.

use std::fs;
use std::io;
use std::path::PathBuf;

fn attr(ifname: &str, name: &str) -> io::Result<String> {
    let path = PathBuf::from("/sys/class/net").join(ifname).join(name);
    fs::read_to_string(&path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| io::Error::new(e.kind(), format!("interface `{ifname}`: {e}")))
}

/// The interface's index.
pub fn index(ifname: &str) -> io::Result<u32> {
    attr(ifname, "ifindex")?
        .parse()
        .map_err(|e| io::Error::other(format!("interface `{ifname}`: bad ifindex: {e}")))
}

/// The name of the interface with index `index`, if there is one (a scan of sysfs: a host has
/// a handful of interfaces, and this is asked only when a VIP's address changes).
pub fn name_of(index: u32) -> Option<String> {
    let want = index.to_string();
    fs::read_dir("/sys/class/net").ok()?.find_map(|e| {
        let name = e.ok()?.file_name().into_string().ok()?;
        (attr(&name, "ifindex").ok()? == want).then_some(name)
    })
}

/// The interface's hardware (MAC) address.
pub fn mac(ifname: &str) -> io::Result<[u8; 6]> {
    parse_mac(&attr(ifname, "address")?)
        .ok_or_else(|| io::Error::other(format!("interface `{ifname}` has no Ethernet address")))
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_and_bad_ones_do_not() {
        assert_eq!(
            parse_mac("02:00:00:0a:ff:01"),
            Some([2, 0, 0, 0x0a, 0xff, 1])
        );
        assert_eq!(parse_mac("02:00:00:0a:ff"), None);
        assert_eq!(parse_mac("02:00:00:0a:ff:01:07"), None);
        assert_eq!(parse_mac("zz:00:00:0a:ff:01"), None);
    }

    #[test]
    fn loopback_has_an_index() {
        assert_eq!(index("lo").unwrap(), 1);
        assert_eq!(name_of(1).as_deref(), Some("lo"));
        assert_eq!(name_of(u32::MAX), None);
        assert!(
            index("no-such-if0")
                .unwrap_err()
                .to_string()
                .contains("no-such-if0")
        );
    }
}
