//! A group's VIP resources: the address with its prefix (a host address of its subnet), the
//! interface and label, and the announcements sent when it is acquired and while it is held.

use std::net::IpAddr;
use std::time::Duration;

use super::super::diag::Diagnostic;
use super::super::limits;
use super::super::model::{Announce, Vip};
use super::super::raw::RawResource;
use super::super::tree::YamlPath;
use super::names::ip;
use super::{Ctx, interface_name};

/// The VIP of resource `r` at `path`, its `vip:` being `text`; `None` after an error.
pub(super) fn vip(cx: &mut Ctx, path: &YamlPath, text: &str, r: &RawResource) -> Option<Vip> {
    let vpath = path.key("vip");
    let (address, prefix) = vip_address(cx, vpath, text)?;
    let interface = match &r.interface {
        Some(i) => {
            interface_name(cx, path.key("interface"), i);
            i.clone()
        }
        None => {
            cx.push(
                Diagnostic::error(path.clone(), format!("VIP {text} has no interface"))
                    .hint("add `interface: eth0` (the interface facing the VIP's clients)"),
            );
            return None;
        }
    };
    if let Some(label) = &r.label {
        if address.is_ipv6() {
            cx.push(
                Diagnostic::error(path.key("label"), "IPv6 addresses have no labels")
                    .hint("remove `label`"),
            );
        } else if label.is_empty() || label.len() > 15 {
            cx.push(
                Diagnostic::error(
                    path.key("label"),
                    format!(
                        "label `{label}` is {} bytes; the kernel allows 1 to 15",
                        label.len()
                    ),
                )
                .hint(format!("shorten it, e.g. `{interface}:vip`")),
            );
        }
    }
    Some(Vip {
        address,
        prefix,
        interface,
        label: r.label.clone(),
        announce: announce(cx, path, r),
        track_interface: r.track_interface.unwrap_or(false),
    })
}

fn vip_address(cx: &mut Ctx, vpath: YamlPath, text: &str) -> Option<(IpAddr, u8)> {
    let Some((addr, prefix)) = text.split_once('/') else {
        cx.push(
            Diagnostic::error(vpath, format!("VIP `{text}` has no prefix length")).hint(format!(
                "write it with the subnet's prefix, e.g. `{text}/24` (or /64 for IPv6)"
            )),
        );
        return None;
    };
    let address = ip(cx, vpath.clone(), addr)?;
    let max = if address.is_ipv6() { 128 } else { 32 };
    let Some(prefix) = prefix.parse::<u8>().ok().filter(|p| *p <= max) else {
        cx.push(
            Diagnostic::error(vpath, format!("`/{prefix}` is not a prefix length"))
                .hint(format!("use 0 to {max}")),
        );
        return None;
    };
    if let Some(why) = not_a_host(address, prefix) {
        cx.push(
            Diagnostic::error(
                vpath,
                format!("{address}/{prefix} is {why}, not a host address"),
            )
            .hint("use an unused host address of the clients' subnet"),
        );
        return None;
    }
    Some((address, prefix))
}

fn not_a_host(address: IpAddr, prefix: u8) -> Option<&'static str> {
    if address.is_unspecified() {
        return Some("unspecified");
    }
    if address.is_multicast() {
        return Some("a multicast address");
    }
    if address.is_loopback() {
        return Some("a loopback address");
    }
    if let IpAddr::V4(v4) = address {
        let host_bits = 32 - u32::from(prefix);
        if v4.is_broadcast() {
            return Some("the broadcast address");
        }
        // /31 and /32 have no network or broadcast address (RFC 3021).
        if host_bits >= 2 {
            let mask = (1u32 << host_bits) - 1;
            let bits = u32::from(v4) & mask;
            if bits == 0 {
                return Some("the subnet's network address");
            }
            if bits == mask {
                return Some("the subnet's broadcast address");
            }
        }
    }
    None
}

fn announce(cx: &mut Ctx, path: &YamlPath, r: &RawResource) -> Announce {
    let apath = path.key("announce");
    let a = r.announce.as_ref();
    let count = match a.and_then(|a| a.count) {
        None => 5,
        Some(c @ 1..=100) => c,
        Some(c) => {
            cx.push(
                Diagnostic::error(apath.key("count"), format!("count {c} is out of range"))
                    .hint("send 1 to 100 announcements; 5 is usual"),
            );
            5
        }
    };
    let interval = cx.duration(
        apath.key("interval"),
        a.and_then(|a| a.interval.as_ref()),
        Duration::from_millis(200),
        &limits::ANNOUNCE_INTERVAL,
    );
    let refresh = match a.and_then(|a| a.refresh.as_deref()) {
        None => Some(Duration::from_secs(10)),
        Some("off") => {
            cx.push(Diagnostic::warning(apath.key("refresh"), "periodic announcements are off").hint("a switch or client that missed the burst keeps the old MAC until its cache expires"));
            None
        }
        Some(t) => match super::super::duration::parse(t) {
            Ok(d) => cx
                .within(&apath.key("refresh"), d, &limits::ANNOUNCE_REFRESH)
                .then_some(d),
            Err(why) => {
                cx.push(
                    Diagnostic::error(apath.key("refresh"), why.to_string())
                        .hint("write a duration such as `10s`, or `off`"),
                );
                None
            }
        },
    };
    Announce {
        count,
        interval,
        refresh,
    }
}
