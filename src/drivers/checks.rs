//! Runs one health check, within its timeout, and says whether it passed: a TCP connection,
//! an HTTP GET (HTTP/1.0, no TLS: the status line is all that is read), or a command run by
//! systemd as a transient service (never a child of the agent, so it gets systemd's sandbox,
//! accounting and journal, and a hung command is killed by systemd at its timeout). When a
//! check runs and what its results mean is the engine's (`engine/checks.rs`).

use std::time::Duration;

use tokio::net::TcpStream;

use super::systemd::Systemd;
use crate::manifest::model::{Check, CheckProbe, HttpTarget, split_host_port};

/// Runs `check` for resource `label` (`GROUP/RESOURCE`, for the transient unit's description);
/// `Ok` when it passed, else why not.
pub async fn run(check: &Check, label: &str, systemd: Option<&Systemd>) -> Result<(), String> {
    let work = async {
        match &check.probe {
            CheckProbe::Tcp(addr) => tcp(addr).await,
            CheckProbe::Http { url, status } => http(url, *status).await,
            CheckProbe::Exec(argv) => match systemd {
                Some(s) => s.run_transient(argv, label, check.timeout).await,
                None => Err("not connected to systemd".into()),
            },
        }
    };
    // systemd ends a command at the timeout itself; this bounds the D-Bus round trips too.
    let bound = match check.probe {
        CheckProbe::Exec(_) => check.timeout + Duration::from_secs(1),
        _ => check.timeout,
    };
    match tokio::time::timeout(bound, work).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {}ms", bound.as_millis())),
    }
}

async fn connect(addr: &str) -> Result<TcpStream, String> {
    let (host, port) = split_host_port(addr, None)?;
    TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))
}

async fn tcp(addr: &str) -> Result<(), String> {
    connect(addr).await.map(drop)
}

async fn http(url: &str, expected: u16) -> Result<(), String> {
    let target = HttpTarget::parse(url)?;
    let authority = if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let stream = connect(&authority).await?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: haagent-check\r\nConnection: close\r\n\r\n",
        target.path
    );
    write_all(&stream, request.as_bytes()).await?;
    let line = status_line(&stream).await?;
    match parse_status(&line) {
        Some(s) if s == expected => Ok(()),
        Some(s) => Err(format!("{url} answered {s}, not {expected}")),
        None => Err(format!("{url} answered no HTTP status line")),
    }
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        stream.writable().await.map_err(|e| e.to_string())?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("send the request: {e}")),
        }
    }
    Ok(())
}

/// The answer's first line (at most 1 KiB of it).
async fn status_line(stream: &TcpStream) -> Result<String, String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.contains(&b'\n') && got.len() < 1024 {
        stream.readable().await.map_err(|e| e.to_string())?;
        match stream.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("read the answer: {e}")),
        }
    }
    let end = got.iter().position(|b| *b == b'\n').unwrap_or(got.len());
    Ok(String::from_utf8_lossy(&got[..end]).trim_end().to_owned())
}

/// The status of `HTTP/1.x NNN reason`.
fn parse_status(line: &str) -> Option<u16> {
    let mut words = line.split_ascii_whitespace();
    let version = words.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read() {
        assert_eq!(parse_status("HTTP/1.0 200 OK"), Some(200));
        assert_eq!(parse_status("HTTP/1.1 404 Not Found"), Some(404));
        assert_eq!(parse_status("SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status(""), None);
    }

    fn check(probe: CheckProbe) -> Check {
        Check {
            probe,
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            rise: 1,
            fall: 1,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tcp_and_http_checks_pass_and_fail() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for answer in ["HTTP/1.0 200 OK\r\n\r\n", "HTTP/1.0 503 Busy\r\n\r\n", ""] {
                let (s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 256];
                s.readable().await.unwrap();
                let _ = s.try_read(&mut buf);
                write_all(&s, answer.as_bytes()).await.unwrap();
            }
        });
        let url = format!("http://{addr}/health");
        let http = |status| {
            check(CheckProbe::Http {
                url: url.clone(),
                status,
            })
        };
        assert_eq!(run(&http(200), "g/r", None).await, Ok(()));
        let busy = run(&http(200), "g/r", None).await.unwrap_err();
        assert!(busy.contains("answered 503, not 200"), "{busy}");
        assert_eq!(
            run(&check(CheckProbe::Tcp(addr.to_string())), "g/r", None).await,
            Ok(())
        );
        // Nothing listens on port 1.
        let refused = run(&check(CheckProbe::Tcp("127.0.0.1:1".into())), "g/r", None).await;
        assert!(refused.unwrap_err().contains("connect to 127.0.0.1:1"));
    }
}
