//! The connection limits of `serve`, over real sockets: the header-read
//! timeout, the connection cap, and graceful shutdown with busy and idle
//! connections.

use crate::support::*;
use blindspot_server::ServerConfig;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(fx: &Fixture, config: ServerConfig) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let state = fx.state.clone();
    let task = tokio::spawn(async move {
        blindspot_server::serve(listener, state, &config, async {
            let _ = stopped.await;
        })
        .await
    });
    Server { addr, stop, task }
}

impl Server {
    async fn shutdown(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("graceful shutdown completes")
            .unwrap()
            .unwrap();
    }
}

/// Reads until `complete` holds for what was read, the server closes the
/// connection or `limit` passes; returns what was read, or `None` if the
/// connection was still open at `limit` with the answer incomplete.
async fn read_until(
    stream: &mut TcpStream,
    limit: Duration,
    complete: impl Fn(&[u8]) -> bool,
) -> Option<String> {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        while !complete(&answer) {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&answer).into_owned())
}

/// Reads until the server closes the connection or `limit` passes; returns
/// what was read, or `None` if the connection was still open at `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    read_until(stream, limit, |_| false).await
}

/// Reads one `/healthz` answer (its body is the last thing sent).
async fn read_healthz(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    read_until(stream, limit, |answer| {
        answer.ends_with(b"{\"status\":\"ok\"}")
    })
    .await
}

fn short_timeout(header_read_timeout: Duration) -> ServerConfig {
    ServerConfig {
        header_read_timeout,
        ..ServerConfig::default()
    }
}

/// At most `max_connections` at once, each idle for at most
/// `header_read_timeout` before its request headers.
fn capped(max_connections: usize, header_read_timeout: Duration) -> ServerConfig {
    ServerConfig {
        max_connections,
        header_read_timeout,
        ..ServerConfig::default()
    }
}

#[tokio::test]
async fn half_a_request_line_is_cut_off_after_the_header_read_timeout() {
    let fx = fixture();
    let server = start(&fx, short_timeout(Duration::from_millis(300))).await;

    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /heal").await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut slow, Duration::from_secs(5))
        .await
        .expect("the server closes a connection that never finishes its request line");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
    // hyper may say why before closing; it never answers the request.
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408 "),
        "{answer}"
    );

    // Meanwhile, and afterwards, complete requests are served.
    let mut prompt = TcpStream::connect(server.addr).await.unwrap();
    prompt.write_all(HEALTHZ).await.unwrap();
    let answer = read_healthz(&mut prompt, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_header_read_timeout() {
    let fx = fixture();
    let server = start(&fx, short_timeout(Duration::from_millis(300))).await;

    // One that never sends a byte.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // One that is idle after a keep-alive response.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(HEALTHZ).await.unwrap();
    let answer = read_healthz(&mut kept, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(!answer.to_ascii_lowercase().contains("connection: close"));
    let idle_since = Instant::now();

    let rest = read_until_closed(&mut kept, Duration::from_secs(5))
        .await
        .expect("an idle keep-alive connection is closed");
    assert_eq!(rest, "");
    assert!(idle_since.elapsed() >= Duration::from_millis(250));
    assert_eq!(
        read_until_closed(&mut silent, Duration::from_secs(5)).await,
        Some(String::new()),
        "a connection that sends nothing is closed without an answer"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn at_the_connection_cap_a_new_connection_waits_for_a_free_slot() {
    let fx = fixture();
    let server = start(&fx, capped(2, Duration::from_secs(30))).await;

    // Two idle connections take both slots.
    let first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();
    // The third completes its TCP handshake (the kernel's backlog) but is not
    // accepted, so its request is not answered...
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(HEALTHZ).await.unwrap();
    assert_eq!(
        read_healthz(&mut third, Duration::from_millis(500)).await,
        None,
        "a connection beyond the cap is not served"
    );
    // ...until one of the others closes; then it is, without resending.
    drop(first);
    let answer = read_healthz(&mut third, Duration::from_secs(5))
        .await
        .expect("the waiting connection is served once a slot frees");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_connection_holds_its_slot_no_longer_than_the_header_read_timeout() {
    let fx = fixture();
    let server = start(&fx, capped(1, Duration::from_millis(300))).await;

    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let mut waiting = TcpStream::connect(server.addr).await.unwrap();
    waiting.write_all(HEALTHZ).await.unwrap();
    let started = Instant::now();
    let answer = read_healthz(&mut waiting, Duration::from_secs(5))
        .await
        .expect("served once the idle connection timed out");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(
        read_until_closed(&mut idle, Duration::from_secs(1)).await,
        Some(String::new())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_busy_requests_and_closes_idle_connections() {
    let fx = fixture();
    // Readiness reads the store, which the fake makes take 600 ms.
    fx.store.slow.store(true, Ordering::SeqCst);
    let server = start(&fx, ServerConfig::default()).await;
    let addr = server.addr;

    let mut idle = TcpStream::connect(addr).await.unwrap();
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    // Let the request reach the store (600 ms) before shutting down.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shutting_down = Instant::now();
    server.stop.send(()).unwrap();

    assert_eq!(
        read_until_closed(&mut idle, Duration::from_secs(2)).await,
        Some(String::new()),
        "an idle connection is closed without waiting for the busy one"
    );
    let answer = read_until_closed(&mut busy, Duration::from_secs(5))
        .await
        .expect("the busy connection closes after its answer");
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(answer.contains("\"store_writable\":true"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(shutting_down.elapsed() >= Duration::from_millis(100));

    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("graceful shutdown completes")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens after shutdown"
    );
}
