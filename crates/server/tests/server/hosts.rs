//! The Host allow-list against DNS rebinding: foreign hosts get a JSON 421,
//! loopback names, the listen IP and configured names are served.

use crate::support::*;
use axum::http::Method;
use axum::Router;
use blindspot_server::{app_with_config, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn app_for(config: &ServerConfig) -> Router {
    app_with_config(fixture().state, config)
}

async fn get_as(app: Router, uri: &str, host: &str) -> Reply {
    request(app, Method::GET, uri, &[("host", host)], Vec::new()).await
}

#[tokio::test]
async fn a_foreign_host_is_misdirected() {
    for host in [
        "evil.example",
        "evil.example:9477",
        "localhost.evil.example",
        "sub.localhost",
        "10.0.0.5:9477",
        "not a host",
        "",
    ] {
        let reply = get_as(fixture().app(), "/healthz", host).await;
        assert_eq!(reply.status, 421, "Host: {host}");
        let (code, message) = reply.error();
        assert_eq!(code, "misdirected_request");
        assert!(message.contains("allowed_hosts"), "{message}");
    }
}

#[tokio::test]
async fn a_foreign_host_is_refused_before_anything_else() {
    // Neither a valid token nor an unknown path gets past the Host check.
    let fx = fixture().with_token();
    let bearer = format!("Bearer {TOKEN}");
    let run = request(
        fx.app(),
        Method::POST,
        "/api/v1/rules/inspector2-coverage/run",
        &[("host", "evil.example"), ("authorization", &bearer)],
        Vec::new(),
    )
    .await;
    assert_eq!(run.status, 421);
    assert!(fx.control.runs.lock().unwrap().is_empty());
    let missing = get_as(fx.app(), "/nope", "evil.example").await;
    assert_eq!(missing.status, 421);
    assert_eq!(missing.error().0, "misdirected_request");
}

#[tokio::test]
async fn loopback_names_are_served_with_or_without_port() {
    for host in [
        "localhost",
        "localhost:9477",
        "LocalHost:9477",
        "localhost.",
        "127.0.0.1",
        "127.0.0.1:9477",
        "[::1]",
        "[::1]:9477",
    ] {
        let reply = get_as(fixture().app(), "/healthz", host).await;
        assert_eq!(reply.status, 200, "Host: {host}");
        assert_eq!(reply.json()["status"], "ok");
    }
}

#[tokio::test]
async fn configured_names_are_served() {
    let config = ServerConfig {
        allowed_hosts: vec!["blindspot.example.com".to_owned(), "fd00::5".to_owned()],
        ..ServerConfig::default()
    };
    for host in [
        "blindspot.example.com",
        "Blindspot.Example.COM:8443",
        "[fd00::5]:9477",
        "localhost:9477",
    ] {
        let reply = get_as(app_for(&config), "/api/v1/rules", host).await;
        assert_eq!(reply.status, 200, "Host: {host}");
    }
    for host in ["example.com", "other.example.com", "[fd00::6]"] {
        let reply = get_as(app_for(&config), "/api/v1/rules", host).await;
        assert_eq!(reply.status, 421, "Host: {host}");
    }
}

#[tokio::test]
async fn a_specific_listen_ip_is_served() {
    let config = ServerConfig {
        listen: "10.0.0.5:9477".parse().unwrap(),
        ..ServerConfig::default()
    };
    assert_eq!(
        get_as(app_for(&config), "/healthz", "10.0.0.5:9477")
            .await
            .status,
        200
    );
    assert_eq!(
        get_as(app_for(&config), "/healthz", "10.0.0.6:9477")
            .await
            .status,
        421
    );
    // A wildcard listen address names no IP of its own.
    let config = ServerConfig {
        listen: "0.0.0.0:9477".parse().unwrap(),
        ..ServerConfig::default()
    };
    assert_eq!(
        get_as(app_for(&config), "/healthz", "0.0.0.0:9477")
            .await
            .status,
        421
    );
}

#[tokio::test]
async fn every_authority_of_a_request_is_checked() {
    // An absolute-form target names the host too, whatever Host says.
    let reply = get_as(fixture().app(), "http://evil.example/healthz", "localhost").await;
    assert_eq!(reply.status, 421);
    let reply = get_as(
        fixture().app(),
        "http://localhost:9477/healthz",
        "localhost",
    )
    .await;
    assert_eq!(reply.status, 200);
    // Two Host headers: both must be allowed.
    let reply = request(
        fixture().app(),
        Method::GET,
        "/healthz",
        &[("host", "localhost"), ("host", "evil.example")],
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, 421);
}

#[tokio::test]
async fn a_request_without_host_is_served() {
    // Browsers always send Host, so a request without one cannot come through
    // DNS rebinding; HTTP/1.0 probes and hand-written requests work.
    let reply = get(fixture().app(), "/healthz").await;
    assert_eq!(reply.status, 200);
}

/// Sends `request` on a fresh connection and reads the whole answer.
async fn exchange(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers and closes")
    .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn over_a_socket() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = fixture().state;
    let server = tokio::spawn(async move {
        blindspot_server::serve(listener, state, &ServerConfig::default(), async {
            let _ = stopped.await;
        })
        .await
    });

    let foreign = exchange(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(foreign.starts_with("HTTP/1.1 421 "), "{foreign}");
    assert!(foreign.contains("application/json"), "{foreign}");
    assert!(foreign.contains("\"misdirected_request\""), "{foreign}");

    let own = exchange(
        addr,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            addr.port()
        ),
    )
    .await;
    assert!(own.starts_with("HTTP/1.1 200 "), "{own}");

    let http10 = exchange(addr, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert!(
        http10.starts_with("HTTP/1.") && http10.contains(" 200 OK\r\n"),
        "{http10}"
    );

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn serve_refuses_an_unusable_entry() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = ServerConfig {
        allowed_hosts: vec!["https://blindspot.example.com".to_owned()],
        ..ServerConfig::default()
    };
    assert!(config.validate().is_err());
    let err = blindspot_server::serve(listener, fixture().state, &config, async {})
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("https://blindspot.example.com"),
        "{err}"
    );
}
