//! One test over a real socket, with graceful shutdown.

use crate::support::*;
use blindspot_server::ServerConfig;

#[tokio::test]
async fn serves_over_a_socket_and_shuts_down() {
    let fx = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig {
        listen: addr,
        api_token: Some(TOKEN.to_owned()),
        ..ServerConfig::default()
    };
    let state = fx.state.clone();
    let server = tokio::spawn(async move {
        blindspot_server::serve(listener, state, &config, async {
            let _ = stopped.await;
        })
        .await
    });

    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let findings: serde_json::Value = client
        .get(format!("{base}/api/v1/findings?status=open"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(findings["findings"].as_array().unwrap().len(), 2);

    // The token comes from the config passed to `serve`.
    let run = client
        .post(format!("{base}/api/v1/rules/inspector2-coverage/run"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 202);
    assert_eq!(
        *fx.control.runs.lock().unwrap(),
        vec!["inspector2-coverage".to_owned()]
    );

    let missing = client.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "not_found"
    );

    stop.send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("graceful shutdown completes")
        .unwrap();
    assert!(result.is_ok());
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());
}
