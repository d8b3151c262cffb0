//! `deploy/iam/`, the README's "Against your AWS account" and the AWS adapter
//! stay in step: the policy of the account blindspot runs in allows every
//! operation the adapter calls and nothing else, the member role of the
//! StackSet template allows exactly what is called in a member (nothing of
//! the organisation's), trusts blindspot's account only with the external
//! ID, and the README names exactly the policy's actions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn policy() -> Value {
    let text = std::fs::read_to_string(root().join("deploy/iam/blindspot-policy.json")).unwrap();
    serde_json::from_str(&text).expect("deploy/iam/blindspot-policy.json is JSON")
}

/// The StackSet template of the member role.
fn member_template() -> Value {
    let text =
        std::fs::read_to_string(root().join("deploy/iam/member-role.template.json")).unwrap();
    serde_json::from_str(&text).expect("deploy/iam/member-role.template.json is JSON")
}

/// The member role's resource in the template.
fn member_role(template: &Value) -> &Value {
    &template["Resources"]["BlindspotAuditRole"]
}

/// Calls made only from the account blindspot runs in: listing the
/// organisation, the delegated administrator's view, and assuming roles.
const HOME_ONLY: [&str; 5] = [
    "organizations:ListAccounts",
    "inspector2:ListMembers",
    "inspector2:DescribeOrganizationConfiguration",
    "inspector2:GetDelegatedAdminAccount",
    "sts:AssumeRole",
];

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
            [
                "inspector",
                "inspector2",
                "ssm",
                "sts",
                "lambda",
                "ecr",
                "organizations",
            ]
            .contains(&service)
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
        "README \"Against your AWS account\" vs deploy/iam/blindspot-policy.json"
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
            "deploy/iam/blindspot-policy.json does not allow {operation}"
        );
    }
    for action in &policy {
        assert!(
            operations.iter().any(|op| allows(action, op)),
            "deploy/iam/blindspot-policy.json allows {action}, which blindspot never calls"
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

#[test]
fn the_member_role_allows_what_is_called_in_a_member_and_nothing_of_the_organisations() {
    let template = member_template();
    let role = member_role(&template);
    assert_eq!(role["Type"], "AWS::IAM::Role");
    let policies = role["Properties"]["Policies"].as_array().unwrap();
    let mut member = BTreeSet::new();
    for policy in policies {
        member.extend(policy_actions(&policy["PolicyDocument"]));
    }
    let mut expected = adapter_operations();
    expected.retain(|op| !HOME_ONLY.contains(&op.as_str()));
    assert!(expected.contains("ssm:ListAssociations"), "{expected:?}");
    assert_eq!(
        member, expected,
        "the member role must allow exactly the calls made in a member"
    );
    // The home policy holds the member's actions too: the account
    // blindspot runs in is evaluated like any member.
    let home = policy_actions(&policy());
    for action in &member {
        assert!(
            home.contains(action),
            "{action} missing from the home policy"
        );
    }
}

#[test]
fn the_member_role_trusts_blindspots_account_only_with_the_external_id() {
    let template = member_template();
    let properties = &member_role(&template)["Properties"];
    let trust = properties["AssumeRolePolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert_eq!(trust.len(), 1, "{trust:?}");
    let statement = &trust[0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "sts:AssumeRole");
    let principal = statement["Principal"]["AWS"]["Fn::Sub"].as_str().unwrap();
    assert!(principal.contains("${BlindspotAccountId}"), "{principal}");
    assert_eq!(
        statement["Condition"]["StringEquals"]["sts:ExternalId"]["Ref"],
        "ExternalId"
    );
    assert_eq!(template["Parameters"]["ExternalId"]["NoEcho"], true);
    // STS's ExternalId is 2 to 1224 characters.
    assert_eq!(template["Parameters"]["ExternalId"]["MinLength"], 2);
    assert_eq!(template["Parameters"]["ExternalId"]["MaxLength"], 1224);
    // The role the home policy may assume is the template's default name.
    let default_name = template["Parameters"]["RoleName"]["Default"]
        .as_str()
        .unwrap();
    let policy = policy();
    let assume = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Action"] == "sts:AssumeRole")
        .expect("the home policy may assume the member role");
    assert_eq!(
        assume["Resource"],
        format!("arn:aws:iam::*:role/{default_name}")
    );
}
