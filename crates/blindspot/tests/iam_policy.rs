//! `deploy/iam-policy.json`, the README's "Against your AWS account" and the
//! AWS adapter stay in step: the policy allows every operation the adapter
//! calls and nothing else, and the README names exactly the policy's actions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn policy() -> Value {
    let text = std::fs::read_to_string(root().join("deploy/iam-policy.json")).unwrap();
    serde_json::from_str(&text).expect("deploy/iam-policy.json is JSON")
}

/// Every action of every `Allow` statement.
fn policy_actions(policy: &Value) -> BTreeSet<String> {
    let statements = policy["Statement"].as_array().expect("a Statement array");
    let mut actions = BTreeSet::new();
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        assert!(statement["Resource"].is_string(), "{statement}");
        match &statement["Action"] {
            Value::String(action) => {
                actions.insert(action.clone());
            }
            Value::Array(list) => {
                actions.extend(list.iter().map(|a| a.as_str().unwrap().to_owned()))
            }
            other => panic!("Action is {other}"),
        }
    }
    actions
}

/// `service:Action` names in backticks in the README's "Against your AWS
/// account" section.
fn readme_actions() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Against your AWS account\n"))
        .expect("the README has an \"Against your AWS account\" section");
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| is_action(quoted))
        .map(str::to_owned)
        .collect()
}

fn is_action(text: &str) -> bool {
    match text.split_once(':') {
        Some((service, action)) => {
            ["inspector", "inspector2", "ssm", "sts", "lambda", "ecr"].contains(&service)
                && !action.is_empty()
                && action
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '*')
        }
        None => false,
    }
}

/// `service:Operation` for every `const OP: &str = "..."` in the adapter,
/// the service being its file's `SERVICE` (the IAM prefix: `inspector` for
/// Inspector Classic, `inspector2`, `ssm`, `sts`, `lambda`, `ecr`).
fn adapter_operations() -> BTreeSet<String> {
    let quoted = |line: &str| line.split('"').nth(1).map(str::to_owned);
    let mut operations = BTreeSet::new();
    let dir = root().join("crates/aws-sdk/src");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let ops: Vec<String> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("const OP: &str = "))
            .filter_map(quoted)
            .collect();
        if ops.is_empty() {
            continue;
        }
        let service = text
            .lines()
            .find(|l| l.starts_with("pub const SERVICE: &str = "))
            .and_then(quoted)
            .unwrap_or_else(|| panic!("{} calls AWS but names no SERVICE", path.display()));
        operations.extend(ops.into_iter().map(|op| format!("{service}:{op}")));
    }
    operations
}

/// Whether `action` (`ssm:Describe*` or `ssm:DescribeAssociation`) allows
/// `operation`.
fn allows(action: &str, operation: &str) -> bool {
    match action.strip_suffix('*') {
        Some(prefix) => operation.starts_with(prefix),
        None => action == operation,
    }
}

#[test]
fn the_policy_is_an_iam_policy_document() {
    let policy = policy();
    assert_eq!(policy["Version"], "2012-10-17");
    assert!(!policy_actions(&policy).is_empty());
}

#[test]
fn the_readme_names_exactly_the_policys_actions() {
    let policy = policy_actions(&policy());
    let readme = readme_actions();
    assert_eq!(
        readme, policy,
        "README \"Against your AWS account\" vs deploy/iam-policy.json"
    );
}

#[test]
fn the_policy_allows_every_call_of_the_adapter_and_nothing_more() {
    let policy = policy_actions(&policy());
    let mut operations = adapter_operations();
    // The scan must have found the adapter's calls; a renamed constant
    // would otherwise pass with nothing checked.
    for known in [
        "inspector:ListExclusions",
        "inspector2:ListCoverage",
        "sts:GetCallerIdentity",
    ] {
        assert!(
            operations.contains(known),
            "{known} not found in {operations:?}"
        );
    }
    // The factory assumes member accounts' roles through aws-config's
    // AssumeRoleProvider, not through an operation of its own.
    let factory = std::fs::read_to_string(root().join("crates/aws-sdk/src/factory.rs")).unwrap();
    if factory.contains("AssumeRoleProvider") {
        operations.insert("sts:AssumeRole".to_owned());
    }
    for operation in &operations {
        assert!(
            policy.iter().any(|a| allows(a, operation)),
            "deploy/iam-policy.json does not allow {operation}"
        );
    }
    for action in &policy {
        assert!(
            operations.iter().any(|op| allows(action, op)),
            "deploy/iam-policy.json allows {action}, which blindspot never calls"
        );
    }
}

#[test]
fn wildcards_and_names_are_read_as_iam_does() {
    assert!(allows("ssm:Describe*", "ssm:DescribeAssociation"));
    assert!(!allows("ssm:Describe*", "ssm:ListAssociations"));
    assert!(allows("sts:AssumeRole", "sts:AssumeRole"));
    assert!(!allows("sts:AssumeRole", "sts:AssumeRoleWithSAML"));
    assert!(is_action("inspector2:ListCoverage"));
    assert!(!is_action("[[aws.accounts]]"));
    assert!(!is_action("arn:aws:iam::*:role/blindspot-audit"));
}
