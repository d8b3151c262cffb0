//! `blindspot check --rule inspector-exclusions` against every shape in which
//! a retired Inspector Classic has been seen to answer: each reads
//! `unavailable`, which never changes the exit code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{check_json, sim, TWO_CLASSIC_REGIONS};

#[tokio::test(flavor = "multi_thread")]
async fn every_retired_shape_reads_unavailable_and_exits_zero() {
    for shape in ["unknown_operation", "unrecognized_client", "message"] {
        let sim = sim(&format!(
            "[faults]\nclassic_retired = [\"*\"]\nretired_shape = \"{shape}\"\n{TWO_CLASSIC_REGIONS}"
        ))
        .await;
        let out = check_json(&sim, "inspector-exclusions", "us-east-1,eu-west-1").await;
        assert_eq!(
            out.code, 0,
            "{shape}: unavailable is not a failure; stderr:\n{}",
            out.stderr
        );
        let json = out.json();
        let evaluations = json["evaluations"].as_array().unwrap();
        assert_eq!(evaluations.len(), 2, "{shape}: {json}");
        for e in evaluations {
            assert_eq!(e["status"], "unavailable", "{shape}: {e}");
        }
        assert_eq!(json["findings"], serde_json::json!([]), "{shape}");
        // Expected, so not worth a warning.
        assert!(
            !out.stderr.contains("WARN") && !out.stderr.contains("ERROR"),
            "{shape}: {}",
            out.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_action_on_classic_is_still_an_error() {
    let sim = sim(&format!(
        "[faults]\naccess_denied = [{{ service = \"inspector\" }}]\n{TWO_CLASSIC_REGIONS}"
    ))
    .await;
    let out = check_json(&sim, "inspector-exclusions", "us-east-1").await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.json()["evaluations"][0]["status"], "error");
}
