//! The metrics endpoint: a tiny HTTP/1.0 responder on tokio's `TcpListener` (no HTTP stack
//! for one GET). Every input is bounded: at most [`MAX_CONNECTIONS`] at once (more are closed
//! at once), a request head of at most [`MAX_HEAD`] bytes, [`TIMEOUT`] for a whole exchange.
//! The loop is asked for a [`Scrape`] at most once per [`FRESH`]; rendering happens here.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use tokio::time::{Instant, timeout};

use super::{Scrape, render};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 8;
/// The longest request head read (request line and headers).
pub const MAX_HEAD: usize = 8192;
/// The longest a whole exchange may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a rendered scrape is served again: scrapers in a hurry cost the loop nothing.
pub const FRESH: Duration = Duration::from_millis(500);

/// A request for a scrape, answered by the loop.
pub type Ask = oneshot::Sender<Scrape>;

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /metrics` (or `HEAD`: no body).
    Metrics {
        /// Whether to send the body.
        body: bool,
    },
    /// Anything else: the status code and why.
    Refuse(u16, &'static str),
}

/// Reads a request head: its request line decides; headers are ignored.
pub fn route(head: &[u8]) -> Route {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let (Some(method), Some(target), Some(version), None) = (method, target, version, parts.next())
    else {
        return Route::Refuse(400, "Bad Request");
    };
    if !version.starts_with("HTTP/1.") {
        return Route::Refuse(400, "Bad Request");
    }
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET", "/metrics") => Route::Metrics { body: true },
        ("HEAD", "/metrics") => Route::Metrics { body: false },
        (_, "/metrics") => Route::Refuse(405, "Method Not Allowed"),
        _ => Route::Refuse(404, "Not Found"),
    }
}

/// Where a request head ends (after the blank line), if it has.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    crlf.or_else(|| buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
}

/// The last rendering and when it was made.
type Cache = Arc<Mutex<Option<(Instant, Arc<String>)>>>;

/// Serves `listener` until the loop's end of `ask` is gone.
pub async fn serve(listener: TcpListener, ask: mpsc::Sender<Ask>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let cache: Cache = Arc::default();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, say: wait a little rather than spin.
                tracing::debug!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if ask.is_closed() {
            return;
        }
        // Over the limit: closed at once, unread.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let (ask, cache) = (ask.clone(), cache.clone());
        tokio::spawn(async move {
            let _ = timeout(TIMEOUT, exchange(stream, &ask, &cache)).await;
            drop(slot);
        });
    }
}

async fn exchange(s: TcpStream, ask: &mpsc::Sender<Ask>, cache: &Cache) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() >= MAX_HEAD {
            return respond(&s, 431, "Request Header Fields Too Large", "", true).await;
        }
        let n = read(&s, &mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        let room = MAX_HEAD.saturating_sub(buf.len()).min(n);
        buf.extend_from_slice(&chunk[..room]);
    };
    match route(&buf[..end]) {
        Route::Refuse(code, why) => respond(&s, code, why, "", true).await,
        Route::Metrics { body } => match scrape(ask, cache).await {
            Some(text) => respond(&s, 200, "OK", &text, body).await,
            None => respond(&s, 503, "Service Unavailable", "", true).await,
        },
    }
}

/// The rendered metrics: the cached rendering while fresh, else a new scrape from the loop.
async fn scrape(ask: &mpsc::Sender<Ask>, cache: &Cache) -> Option<Arc<String>> {
    let mut cached = cache.lock().await;
    if let Some((at, text)) = &*cached
        && at.elapsed() < FRESH
    {
        return Some(text.clone());
    }
    let (tx, rx) = oneshot::channel();
    ask.send(tx).await.ok()?;
    let s = rx.await.ok()?;
    let text = Arc::new(render(&s));
    *cached = Some((Instant::now(), text.clone()));
    Some(text)
}

async fn respond(
    s: &TcpStream,
    code: u16,
    why: &str,
    body: &str,
    send_body: bool,
) -> std::io::Result<()> {
    let kind = if code == 200 {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let head = format!(
        "HTTP/1.0 {code} {why}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    write_all(s, head.as_bytes()).await?;
    if send_body {
        write_all(s, body.as_bytes()).await?;
    }
    Ok(())
}

// Readiness and `try_` calls rather than tokio's `io-util` extension traits: two small loops
// instead of another tokio feature.
async fn read(s: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        s.readable().await?;
        match s.try_read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

async fn write_all(s: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        s.writable().await?;
        match s.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
