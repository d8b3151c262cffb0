//! What people read when AWS misbehaves, end to end: findings built from
//! answers that leave out required members, and the log lines and evaluation
//! errors of failed calls, never carry the SDK's internals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use blindspot_sim::{AccessDenied, Faults};
use common::{check_json, command, config_file, run, sim_file};
use serde_json::Value;

/// Text for people: one line, no `Debug` output, no SDK stand-ins.
fn assert_for_people(what: &str, text: &str) {
    assert!(!text.contains('\n'), "{what} spans lines: {text}");
    for internal in [
        "{",
        "}",
        "no value was set",
        "ErrorMetadata",
        "DispatchFailure",
        "ServiceError",
        "Some(",
    ] {
        assert!(
            !text.contains(internal),
            "{what} shows `{internal}`: {text}"
        );
    }
}

/// Every string a finding shows, details included.
fn finding_texts(f: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["title", "description", "recommendation", "remediation"] {
        if let Some(s) = f[key].as_str() {
            out.push(s.to_owned());
        }
    }
    if let Some(details) = f["details"].as_object() {
        out.extend(
            details
                .values()
                .filter_map(|v| v.as_str())
                .map(str::to_owned),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn required_members_left_out_never_reach_a_finding() {
    let sim = sim_file("coverage-disabled.toml").await;
    let check = || check_json(&sim, "inspector2-coverage", "eu-west-1,ap-southeast-2");
    // With every member, the error code is part of the description.
    let whole = check().await;
    assert_eq!(whole.code, 1, "{}", whole.stderr);
    assert!(whole.stdout.contains("(error "), "{}", whole.stdout);

    let mut omit = BTreeMap::new();
    omit.insert(
        "BatchGetAccountStatus".to_owned(),
        vec!["errorCode".to_owned(), "errorMessage".to_owned()],
    );
    sim.set_faults(Faults {
        omit_members: omit,
        ..Faults::default()
    });
    let out = check().await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let json = out.json();
    let findings = json["findings"].as_array().unwrap();
    assert!(findings.len() >= 3, "{json}");
    for f in findings {
        for text in finding_texts(f) {
            assert!(!text.contains("no value was set"), "{text}");
            assert!(!text.contains("(error"), "{text}");
            assert!(!text.contains("1970-01-01"), "{text}");
        }
        assert_eq!(f["details"]["error_code"], Value::Null, "{f}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_call_is_one_log_line_with_code_and_message() {
    let sim = sim_file("seed.toml").await;
    sim.set_faults(Faults {
        access_denied: vec![AccessDenied {
            service: Some("ssm".into()),
            ..AccessDenied::default()
        }],
        ..Faults::default()
    });
    let out = check_json(&sim, "inspector2-associations", "us-east-1").await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    let failed: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("AWS call failed"))
        .collect();
    assert!(!failed.is_empty(), "no log line:\n{}", out.stderr);
    for line in &failed {
        assert!(line.contains("AccessDeniedException"), "{line}");
        assert!(
            line.contains("is not authorized to perform: ssm:"),
            "{line}"
        );
        assert_for_people("the log line", line);
    }
    let json = out.json();
    let error = json["evaluations"][0]["error"].as_str().unwrap();
    assert!(error.contains("AccessDeniedException"), "{error}");
    assert_for_people("the evaluation's error", error);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_assume_role_is_one_log_line_with_code_and_message() {
    let sim = sim_file("seed.toml").await;
    sim.set_faults(Faults {
        access_denied: vec![AccessDenied {
            operation: Some("AssumeRole".into()),
            ..AccessDenied::default()
        }],
        ..Faults::default()
    });
    let (_dir, path) = config_file(
        "[aws]\nregions = [\"us-east-1\"]\n\
         [[aws.accounts]]\nname = \"member\"\nrole_arn = \"arn:aws:iam::210987654321:role/blindspot-audit\"\n",
    );
    let mut cmd = command(&sim.endpoint());
    cmd.args([
        "check",
        "--rule",
        "inspector-exclusions",
        "--format",
        "json",
        "--config",
    ])
    .arg(&path);
    let out = run(cmd).await;
    assert_eq!(
        out.code, 3,
        "an unresolved account is incomplete; {}",
        out.stderr
    );
    let mentions: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("AssumeRole"))
        .collect();
    assert_eq!(mentions.len(), 1, "one refusal, one line:\n{}", out.stderr);
    assert!(
        mentions[0].contains("AccessDenied")
            && mentions[0].contains("is not authorized to perform: sts:AssumeRole"),
        "no code and message:\n{}",
        out.stderr
    );
    for line in &mentions {
        assert_for_people("the log line", line);
    }
    let json = out.json();
    for e in json["evaluations"].as_array().unwrap() {
        assert_eq!(e["status"], "error", "{e}");
        let error = e["error"].as_str().unwrap();
        assert!(
            error.contains("AssumeRole was refused: AccessDenied"),
            "{error}"
        );
        assert_for_people("the evaluation's error", error);
    }
}
