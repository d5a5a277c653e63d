//! The metrics' counting, their text and the endpoint's limits, on a real socket.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::http::{self, Route, route};
use super::*;
use crate::control::status::{GroupStatus, LinkStatus, NodeStatus};

fn event(kind: EventKind) -> Event {
    Event {
        kind,
        node: Some("alpha".into()),
        group: Some("web".into()),
        reason: "r".into(),
    }
}

fn scrape() -> Scrape {
    let mut t = Tracker::default();
    let t0 = Instant::now();
    t.event(&event(EventKind::Acquire), t0);
    t.event(&event(EventKind::Running), t0 + Duration::from_millis(300));
    t.event(&event(EventKind::ResourceFailed), t0);
    t.event(&event(EventKind::Release), t0);
    t.event(&event(EventKind::Released), t0 + Duration::from_millis(40));
    t.loop_held.observe(Duration::from_micros(700));
    let mut status = Status {
        node: "alpha".into(),
        cluster: "c".into(),
        quorate: true,
        ..Default::default()
    };
    let link = LinkStatus {
        name: "l0".into(),
        up: true,
        last_heard_ms: 120,
    };
    status.nodes.insert(
        "alpha".into(),
        NodeStatus {
            state: "up".into(),
            ..Default::default()
        },
    );
    let beta = NodeStatus {
        state: "late".into(),
        last_heard_ms: Some(1500),
        links: vec![link],
        ..Default::default()
    };
    status.nodes.insert("beta".into(), beta);
    let g = GroupStatus {
        owner: Some("alpha".into()),
        state: "running".into(),
        preference: vec!["alpha".into(), "beta".into()],
        failover_budget_ms: 2250,
        checks: vec![crate::engine::snapshot::CheckSnapshot {
            resource: "web.service".into(),
            state: "failing".into(),
            consecutive: 3,
            ..Default::default()
        }],
        ..Default::default()
    };
    status.groups.insert("web".into(), g);
    status.dropped.insert(
        "bad_mac".into(),
        crate::drivers::links::drops::Dropped {
            total: 3,
            from: BTreeMap::new(),
        },
    );
    let mut reloads = Reloads::default();
    reloads.note(
        false,
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(10),
    );
    Scrape {
        status,
        tracker: t,
        notifications: [4, 1, 2],
        reloads,
        digest: 0xab,
    }
}

#[test]
fn counts_acquisitions_and_their_durations() {
    let s = scrape();
    let c = &s.tracker.groups["web"];
    assert_eq!((c.acquisitions, c.releases, c.failures), (1, 1, 1));
    let (buckets, sum) = c.acquire_seconds.cumulative();
    assert!((sum - 0.3).abs() < 1e-9, "{sum}");
    assert_eq!(buckets[2], ("0.25".into(), 0));
    assert_eq!(buckets[3], ("0.5".into(), 1));
    assert_eq!(buckets.last().unwrap(), &("+Inf".to_string(), 1));
    // The release's two events are one release, 40 ms long.
    let (buckets, sum) = c.release_seconds.cumulative();
    assert!(
        (sum - 0.04).abs() < 1e-9 && buckets[0] == ("0.05".into(), 1),
        "{buckets:?}"
    );
    // A running group with no acquire under way (adopted, say) is no observation.
    let mut t = Tracker::default();
    t.event(&event(EventKind::Running), Instant::now());
    assert_eq!(
        t.groups["web"]
            .acquire_seconds
            .cumulative()
            .0
            .last()
            .unwrap()
            .1,
        0
    );
}

#[test]
fn renders_every_listed_series_in_the_text_format() {
    let text = render(&scrape());
    for line in [
        "haagent_info{node=\"alpha\",cluster=\"c\"} 1",
        "haagent_manifest_digest_info{digest=\"00000000000000ab\"} 1",
        "haagent_quorate 1",
        "haagent_group_held{group=\"web\"} 1",
        "haagent_group_owner{group=\"web\",node=\"alpha\"} 1",
        "haagent_group_owner{group=\"web\",node=\"beta\"} 0",
        "haagent_group_state{group=\"web\",state=\"running\"} 1",
        "haagent_group_state{group=\"web\",state=\"failed\"} 0",
        "haagent_group_acquisitions_total{group=\"web\"} 1",
        "haagent_group_releases_total{group=\"web\"} 1",
        "haagent_group_release_duration_seconds_count{group=\"web\"} 1",
        "haagent_group_acquire_duration_seconds_bucket{group=\"web\",le=\"0.5\"} 1",
        "haagent_group_acquire_duration_seconds_count{group=\"web\"} 1",
        "haagent_group_failover_budget_seconds{group=\"web\"} 2.25",
        "haagent_check_state{group=\"web\",resource=\"web.service\",state=\"failing\"} 1",
        "haagent_check_state{group=\"web\",resource=\"web.service\",state=\"passing\"} 0",
        "haagent_check_running{group=\"web\",resource=\"web.service\"} 0",
        "haagent_check_consecutive{group=\"web\",resource=\"web.service\"} 3",
        "haagent_node_state{node=\"beta\",state=\"late\"} 1",
        "haagent_node_last_heard_seconds{node=\"beta\"} 1.5",
        "haagent_link_up{node=\"beta\",link=\"l0\"} 1",
        "haagent_dropped_datagrams_total{reason=\"bad_mac\"} 3",
        "haagent_notifications_dropped_total 2",
        "haagent_notifications_total{result=\"failed\"} 1",
        "haagent_loop_held_seconds_bucket{le=\"0.001\"} 1",
        "haagent_reloads_total{result=\"refused\"} 1",
        "haagent_last_reload_timestamp_seconds 10",
        "haagent_last_reload_success 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    // Each family once, its samples together, as the format requires.
    let mut seen = std::collections::BTreeSet::new();
    let mut current = String::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            current = rest.split(' ').next().unwrap().to_owned();
            assert!(seen.insert(current.clone()), "{current} twice");
        } else if !l.starts_with('#') {
            assert!(l.starts_with(&current), "{l} outside its family {current}");
        }
    }
}

#[test]
fn request_heads_are_routed() {
    assert_eq!(
        route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        Route::Metrics { body: true }
    );
    assert_eq!(
        route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
        Route::Metrics { body: true }
    );
    assert_eq!(
        route(b"HEAD /metrics HTTP/1.0\r\n\r\n"),
        Route::Metrics { body: false }
    );
    assert_eq!(
        route(b"POST /metrics HTTP/1.0\r\n\r\n"),
        Route::Refuse(405, "Method Not Allowed")
    );
    assert_eq!(
        route(b"GET / HTTP/1.0\r\n\r\n"),
        Route::Refuse(404, "Not Found")
    );
    assert_eq!(
        route(b"GET /metrics\r\n\r\n"),
        Route::Refuse(400, "Bad Request")
    );
    assert_eq!(
        route(b"\xff\xfe\r\n\r\n"),
        Route::Refuse(400, "Bad Request")
    );
}

/// Sends `request` to `addr` from a thread (blocking std I/O) and returns the whole answer.
fn ask(addr: std::net::SocketAddr, request: Vec<u8>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(&request);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
}

#[tokio::test(flavor = "current_thread")]
async fn the_endpoint_answers_and_refuses_what_is_too_big() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, mut rx) = mpsc::channel::<http::Ask>(4);
    tokio::spawn(http::serve(l, tx));
    // The loop's side: counts the scrapes it was asked for.
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = reply.send(scrape());
        }
    });
    let wait =
        |h: std::thread::JoinHandle<String>| tokio::task::spawn_blocking(move || h.join().unwrap());
    let ok = wait(ask(addr, b"GET /metrics HTTP/1.1\r\n\r\n".to_vec()))
        .await
        .unwrap();
    assert!(ok.starts_with("HTTP/1.0 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains("text/plain; version=0.0.4") && ok.contains("\nhaagent_quorate 1\n"),
        "{ok}"
    );
    // Fresh: a second scrape at once is served from the first, the loop not asked again.
    let again = wait(ask(addr, b"GET /metrics HTTP/1.0\r\n\r\n".to_vec()))
        .await
        .unwrap();
    assert!(again.contains("haagent_quorate 1"));
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A head of exactly the limit, unended: all of it read (nothing left unread to reset the
    // connection before the client reads the answer), then refused.
    let mut big = b"GET /metrics HTTP/1.0\r\nX: ".to_vec();
    big.resize(http::MAX_HEAD, b'a');
    let refused = wait(ask(addr, big)).await.unwrap();
    assert!(refused.starts_with("HTTP/1.0 431 "), "{refused}");
    let missing = wait(ask(addr, b"GET /x HTTP/1.0\r\n\r\n".to_vec()))
        .await
        .unwrap();
    assert!(missing.starts_with("HTTP/1.0 404 "), "{missing}");
}

#[tokio::test(flavor = "current_thread")]
async fn connections_beyond_the_limit_are_closed_unanswered() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, mut rx) = mpsc::channel::<http::Ask>(4);
    tokio::spawn(http::serve(l, tx));
    tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            let _ = reply.send(scrape());
        }
    });
    // Eight clients that connect and say nothing hold every slot (for up to TIMEOUT each).
    let idle: Vec<std::net::TcpStream> = (0..http::MAX_CONNECTIONS)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let started = Instant::now();
    let ninth = ask(addr, b"GET /metrics HTTP/1.0\r\n\r\n".to_vec());
    let said = tokio::task::spawn_blocking(move || ninth.join().unwrap())
        .await
        .unwrap();
    assert_eq!(said, "", "the ninth was answered");
    assert!(
        started.elapsed() < http::TIMEOUT,
        "the ninth waited for a slot"
    );
    // Once they leave, the endpoint answers again.
    drop(idle);
    let mut answered = String::new();
    for _ in 0..50 {
        let h = ask(addr, b"GET /metrics HTTP/1.0\r\n\r\n".to_vec());
        answered = tokio::task::spawn_blocking(move || h.join().unwrap())
            .await
            .unwrap();
        if !answered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered.starts_with("HTTP/1.0 200 OK"), "{answered:?}");
}
