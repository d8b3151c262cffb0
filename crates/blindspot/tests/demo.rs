//! `blindspot demo`: what a newcomer sees with no AWS account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread")]
async fn demo_once_shows_the_seed_finding_with_its_fix() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blindspot"));
    // The demo must not need (or touch) any AWS configuration of the machine.
    cmd.args(["demo", "--once"])
        .env("AWS_PROFILE", "does-not-exist")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("BLINDSPOT_LOG", "warn");
    let out = common::run(cmd).await;
    assert_eq!(
        out.code, 1,
        "findings, and no failed evaluation: {}",
        out.stderr
    );
    let text = &out.stdout;
    let block: Vec<&str> = text
        .split("\n\n")
        .filter(|b| b.contains("i-0abcd1234abcd1234"))
        .collect();
    assert_eq!(block.len(), 1, "{text}");
    let block = block[0];
    assert!(block.contains("Agent not found"), "{block}");
    assert!(
        block.contains(
            "Recommendation: Install or re-install the Inspector Agent on this instance."
        ),
        "{block}"
    );
    assert!(
        block.contains(
            "Fix: aws ssm send-command --document-name AmazonInspector-ManageAWSAgent --parameters \
             '{\"Operation\":[\"Install\"]}' --targets Key=InstanceIds,Values=i-0abcd1234abcd1234 --region us-east-1"
        ),
        "{block}"
    );
    // The retired classic region reads as unavailable, not as a failure.
    assert!(
        text.lines().any(|l| l.contains("inspector-exclusions")
            && l.contains("eu-west-1")
            && l.contains("unavailable")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_runs_the_daemon_and_serves_the_dashboard() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blindspot"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("BLINDSPOT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the demo prints its URL").unwrap();
        if let Some(url) = line.strip_prefix("blindspot listening on ") {
            break url.trim().to_owned();
        }
    };
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
    let mut ready = false;
    for _ in 0..150 {
        if reqwest::get(format!("{url}readyz"))
            .await
            .unwrap()
            .status()
            .as_u16()
            == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(ready, "every rule evaluates within 30 s");
    let body: serde_json::Value =
        reqwest::get(format!("{url}api/v1/findings?status=open&limit=1000"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let findings = body["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["resource"] == "i-0abcd1234abcd1234"),
        "{body}"
    );
    // SIGTERM: a graceful stop within the demo's grace.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// Another demo (or anything) on port 9477 does not stop a newcomer's demo:
/// it listens on a free port, says so in one line, and prints that URL.
#[tokio::test(flavor = "multi_thread")]
async fn demo_moves_to_a_free_port_when_9477_is_taken() {
    // Hold the default port. If another program holds it already, bind
    // fails here, and the port is taken all the same.
    let _held = std::net::TcpListener::bind("127.0.0.1:9477");
    assert!(
        std::net::TcpListener::bind("127.0.0.1:9477").is_err(),
        "port 9477 should be taken"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_blindspot"))
        .arg("demo")
        .env("BLINDSPOT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained on a thread, so a chatty demo cannot fill the pipe and stall.
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the demo prints its URL").unwrap();
        if let Some(url) = line.strip_prefix("blindspot listening on ") {
            break url.trim().to_owned();
        }
    };
    let port = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected URL {url}"));
    assert_ne!(port, "9477", "{url}");
    let health = reqwest::get(format!("{url}healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);

    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let stderr = stderr.join().unwrap();
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains("in use")).collect();
    assert_eq!(
        said,
        [format!(
            "port 9477 is in use; the demo listens on port {port} instead (choose one with --listen)"
        )],
        "{stderr}"
    );
}

/// An address the user chose is not replaced: a taken one is exit 5, said
/// before the simulated AWS starts.
#[tokio::test(flavor = "multi_thread")]
async fn demo_with_a_taken_listen_address_exits_5_before_starting() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blindspot"));
    cmd.args(["demo", "--listen", &addr])
        .env("BLINDSPOT_LOG", "warn");
    let out = common::run(cmd).await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("error: cannot listen on {addr}")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("simulated AWS"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}
