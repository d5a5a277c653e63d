//! The links on loopback, with the kernel's filter: only an authentic datagram from a
//! manifest address reaches the loop, once; its copy, a forgery and a stranger's datagrams are
//! counted by reason and source and reach nothing.

use std::net::UdpSocket as StdSocket;
use std::time::Duration;

use super::*;
use crate::protocol::wire::Kind;

const KEY: &str = "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

fn manifest(port: u16) -> Manifest {
    let text = format!(
        "cluster: t\nnodes:\n  alpha: {{ address: 127.0.0.1 }}\n  beta: {{ address: 127.0.0.2 }}\n  gamma: {{ address: 127.0.0.3 }}\nheartbeat:\n  port: {port}\nauth: {{ key_file: /etc/haagent/authkey }}\ngroups:\n  web:\n    nodes: [alpha, beta, gamma]\n    resources:\n      - unit: web.service\n"
    );
    let report = crate::manifest::parse(&text);
    report
        .manifest
        .unwrap_or_else(|| panic!("{:#?}", report.problems))
}

#[tokio::test(flavor = "current_thread")]
async fn only_authentic_datagrams_from_the_manifests_addresses_reach_the_loop() {
    let port = StdSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .unwrap()
        .port();
    let m = manifest(port);
    let ring = KeyRing::parse(KEY).unwrap();
    let (_keys_tx, keys) = watch::channel(Arc::new(ring.clone()));
    let drops = Drops::default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _links = Links::open(&m, "alpha", keys, drops.clone(), &tx).unwrap();

    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let d = Datagram::bare(Kind::Heartbeat, "t", "beta", 1, 1);
    let page = wire::encode(&d, ring.signing(), wire::VERSION)
        .unwrap()
        .remove(0);
    let mut forged = page.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let beta = StdSocket::bind("127.0.0.2:0").unwrap();
    let stranger = StdSocket::bind("127.0.0.9:0").unwrap();
    for bytes in [&page, &page, &forged] {
        beta.send_to(bytes, to).unwrap();
    }
    for _ in 0..641 {
        stranger.send_to(&page, to).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let got = rx.try_recv().expect("the authentic datagram");
    assert_eq!(
        (got.link.as_str(), got.datagram.sender.as_str()),
        ("link0", "beta")
    );
    assert!(
        rx.try_recv().is_err(),
        "one datagram reached the loop, no more"
    );
    let r = drops.lock().unwrap().report();
    let from = |reason: &str, src: &str| r.get(reason).and_then(|d| d.from.get(src)).copied();
    assert_eq!(from("replay", "127.0.0.2"), Some(1), "{r:?}");
    assert_eq!(from("bad_mac", "127.0.0.2"), Some(1), "{r:?}");
    // The kernel drops the stranger's datagrams; the samples it lets through count 64 each
    // (without the kernel filter, each would count once: 641 is no multiple of 64).
    let sampled = from(drops::WRONG_SOURCE, "127.0.0.9").unwrap_or(0);
    assert_eq!(sampled % 64, 0, "{r:?}");
    assert!(sampled <= 641 * 64, "{r:?}");
    assert_eq!(
        r.len(),
        2 + usize::from(sampled > 0),
        "no other reason: {r:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_reload_keeps_the_bound_socket_and_its_new_filter_applies() {
    let port = StdSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .unwrap()
        .port();
    let m = manifest(port);
    let ring = KeyRing::parse(KEY).unwrap();
    let (_keys_tx, keys) = watch::channel(Arc::new(ring.clone()));
    let drops = Drops::default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let old = Links::open(&m, "alpha", keys, drops.clone(), &tx).unwrap();

    // gamma leaves the cluster: its address is no longer accepted. Binding the address again
    // would fail (no SO_REUSEADDR), so the socket must be the one kept.
    let mut next = m.clone();
    next.nodes.remove("gamma");
    next.heartbeat.interval = Duration::from_millis(500);
    let new = old
        .reopen(&next, "alpha", &tx)
        .expect("reopened beside the old links");
    drop(old);

    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let page = |sender: &str| {
        let d = Datagram::bare(Kind::Heartbeat, "t", sender, 1, 1);
        wire::encode(&d, ring.signing(), wire::VERSION)
            .unwrap()
            .remove(0)
    };
    let beta = StdSocket::bind("127.0.0.2:0").unwrap();
    let gamma = StdSocket::bind("127.0.0.3:0").unwrap();
    beta.send_to(&page("beta"), to).unwrap();
    for _ in 0..65 {
        gamma.send_to(&page("gamma"), to).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = rx
        .try_recv()
        .expect("beta's datagram through the kept socket");
    assert_eq!(got.datagram.sender, "beta");
    assert!(rx.try_recv().is_err(), "gamma's were filtered out");
    assert!(new.open["link0"].filtered);
    // In the kernel: samples only (65 is no multiple of 64), none decoded, and about one in
    // 64 (with the old filter still on, all 65 would pass and count 64 each).
    let r = drops.lock().unwrap().report();
    let from_gamma: Vec<(&String, u64)> = r
        .iter()
        .filter_map(|(why, d)| d.from.get("127.0.0.3").map(|n| (why, *n)))
        .collect();
    assert!(
        from_gamma
            .iter()
            .all(|(why, n)| why.as_str() == drops::WRONG_SOURCE && n % 64 == 0),
        "{r:?}"
    );
    let sampled: u64 = from_gamma.iter().map(|(_, n)| n).sum();
    assert!(sampled < 32 * 64, "{r:?}");
}
