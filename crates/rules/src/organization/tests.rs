//! Tests of `inspector2-organization`: the judge on snapshots built by hand
//! (a table of verdicts, then the wording, details and measurements, and two
//! insta snapshots), the config, and the fetch and the whole rule against the
//! scripted fakes of `blindspot_aws::testing`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::fetch::{self, Calls};
use super::judge::{self, AdminSource};
use super::*;
use blindspot_aws::inspector2::{AutoEnable, DelegatedAdmin, Member, OrganizationConfiguration};
use blindspot_aws::organizations::OrgAccount;
use blindspot_aws::testing::{FakeInspector2, FakeOrganizations, Fakes};
use blindspot_aws::{AwsError, AwsErrorKind};
use blindspot_core::{Finding, NoPeers, PeerError, PeerFindings, Scope};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The account blindspot runs in: Inspector's delegated administrator.
const CALLER: &str = "111122223333";
const REGION: &str = "eu-west-1";
/// The management account.
const MANAGEMENT: &str = "999900000000";
const PROD: &str = "222200000001";
const DEV: &str = "222200000002";
const SANDBOX: &str = "222200000003";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn scope() -> Scope {
    Scope::new(CALLER, REGION)
}

// ---------------------------------------------------------------- the data

fn account(id: &str, name: &str, state: &str) -> OrgAccount {
    OrgAccount {
        id: id.into(),
        arn: Some(format!(
            "arn:aws:organizations::{MANAGEMENT}:account/o-abc/{id}"
        )),
        name: Some(name.into()),
        email: Some(format!("{name}@example.com")),
        state: Some(state.into()),
        status: None,
        joined_at: Some(Utc.with_ymd_and_hms(2026, 1, 15, 9, 0, 0).unwrap()),
    }
}

fn member(id: &str, status: &str) -> Member {
    Member {
        account_id: id.into(),
        relationship_status: Some(status.into()),
        delegated_admin_account_id: Some(CALLER.into()),
        updated_at: Some(Utc.with_ymd_and_hms(2026, 2, 1, 9, 0, 0).unwrap()),
    }
}

/// The organisation: the management account, the administrator (which is
/// not in its own ListMembers) and two workload accounts.
fn accounts() -> Vec<OrgAccount> {
    vec![
        account(MANAGEMENT, "management", "ACTIVE"),
        account(CALLER, "security", "ACTIVE"),
        account(PROD, "prod", "ACTIVE"),
        account(DEV, "dev", "ACTIVE"),
    ]
}

fn members() -> Vec<Member> {
    vec![
        member(MANAGEMENT, "ENABLED"),
        member(PROD, "ENABLED"),
        member(DEV, "ENABLED"),
    ]
}

fn auto_enable(ec2: bool, ecr: bool, lambda: bool, lambda_code: bool) -> AutoEnable {
    AutoEnable {
        ec2: Some(ec2),
        ecr: Some(ecr),
        lambda: Some(lambda),
        lambda_code: Some(lambda_code),
    }
}

fn configuration(auto: Option<AutoEnable>, limit: Option<bool>) -> OrganizationConfiguration {
    OrganizationConfiguration {
        auto_enable: auto,
        max_account_limit_reached: limit,
    }
}

fn denied(operation: &'static str) -> AwsError {
    AwsError::from_code(
        "inspector2",
        operation,
        "AccessDeniedException",
        format!("not authorized to perform inspector2:{operation}"),
    )
}

fn admin(id: &str) -> Seen<Option<DelegatedAdmin>> {
    Seen::Read(Some(DelegatedAdmin {
        account_id: Some(id.into()),
        relationship_status: Some("ENABLED".into()),
    }))
}

/// A healthy organisation as the delegated administrator sees it:
/// GetDelegatedAdminAccount denied (it answers only in the management
/// account), everything else read.
fn healthy() -> Snapshot {
    Snapshot {
        accounts: accounts(),
        inactive_accounts: BTreeMap::new(),
        members: Seen::Read(members()),
        organization_configuration: Seen::Read(configuration(
            Some(auto_enable(true, true, true, true)),
            Some(false),
        )),
        delegated_admin: Seen::Denied(denied("GetDelegatedAdminAccount")),
        calls: Calls {
            list_accounts: 1,
            list_members: 1,
            describe_organization_configuration: 1,
            get_delegated_admin_account: 1,
        },
    }
}

fn config(json: serde_json::Value) -> OrganizationConfig {
    serde_json::from_value(json).unwrap()
}

/// One of the rule's own open findings, as the store hands it back.
fn own(code: &str, resource: &str) -> Finding {
    Finding::new(
        ID,
        code,
        Severity::Medium,
        &scope(),
        resource,
        "as last seen",
    )
    .detail("enabled", false)
}

fn codes(report: &RuleReport) -> Vec<(&str, &str, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.resource.as_str(), f.severity))
        .collect()
}

fn only<'a>(report: &'a RuleReport, code: &str) -> &'a Finding {
    let matching: Vec<&Finding> = report.findings.iter().filter(|f| f.code == code).collect();
    assert_eq!(matching.len(), 1, "{code} in {:?}", codes(report));
    matching[0]
}

fn measured(report: &RuleReport, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    report
        .measurements
        .iter()
        .find(|m| {
            m.name == name
                && match label {
                    Some((k, v)) => m.labels.get(k).map(String::as_str) == Some(v),
                    None => m.labels.is_empty(),
                }
        })
        .map(|m| m.value)
}

// ------------------------------------------------------ the judge: verdicts

/// One judge case: a snapshot, a config and the rule's own open findings in;
/// every finding expected, in order, or the error's text.
struct Case {
    name: &'static str,
    snapshot: Snapshot,
    config: serde_json::Value,
    own: Vec<Finding>,
    expected: Result<Vec<(&'static str, &'static str, Severity)>, &'static str>,
}

impl Case {
    fn new(name: &'static str, change: impl FnOnce(&mut Snapshot)) -> Self {
        let mut snapshot = healthy();
        change(&mut snapshot);
        Case {
            name,
            snapshot,
            config: serde_json::json!({}),
            own: Vec::new(),
            expected: Ok(Vec::new()),
        }
    }

    fn config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }

    fn own(mut self, own: Vec<Finding>) -> Self {
        self.own = own;
        self
    }

    fn expect(mut self, expected: &[(&'static str, &'static str, Severity)]) -> Self {
        self.expected = Ok(expected.to_vec());
        self
    }

    fn fails_with(mut self, text: &'static str) -> Self {
        self.expected = Err(text);
        self
    }
}

fn cases() -> Vec<Case> {
    use Severity::{Critical, High, Info, Low, Medium};
    vec![
        Case::new("healthy", |_| {}),
        Case::new("auto-enable off for Lambda and Lambda code", |s| {
            s.organization_configuration = Seen::Read(configuration(
                Some(auto_enable(true, true, false, false)),
                Some(false),
            ));
        })
        .expect(&[
            (AUTO_ENABLE_OFF, "LAMBDA", Medium),
            (AUTO_ENABLE_OFF, "LAMBDA_CODE", Low),
        ]),
        Case::new("auto-enable off everywhere, severities configured", |s| {
            s.organization_configuration = Seen::Read(configuration(
                Some(auto_enable(false, false, false, false)),
                Some(false),
            ));
        })
        .config(serde_json::json!({"severities": {
            "auto_enable_off_ec2": "critical",
            "auto_enable_off_lambda_code": "info",
        }}))
        .expect(&[
            (AUTO_ENABLE_OFF, "EC2", Critical),
            (AUTO_ENABLE_OFF, "ECR", Medium),
            (AUTO_ENABLE_OFF, "LAMBDA", Medium),
            (AUTO_ENABLE_OFF, "LAMBDA_CODE", Info),
        ]),
        Case::new("no autoEnable in the answer: unknown, never off", |s| {
            s.organization_configuration = Seen::Read(configuration(None, None));
        })
        .expect(&[
            (AUTO_ENABLE_UNKNOWN, "EC2", Info),
            (AUTO_ENABLE_UNKNOWN, "ECR", Info),
            (AUTO_ENABLE_UNKNOWN, "LAMBDA", Info),
            (AUTO_ENABLE_UNKNOWN, "LAMBDA_CODE", Info),
        ]),
        Case::new("an absent member keeps its open finding instead", |s| {
            let mut auto = auto_enable(true, true, true, true);
            auto.lambda = None;
            auto.lambda_code = None;
            s.organization_configuration = Seen::Read(configuration(Some(auto), None));
        })
        .own(vec![
            own(AUTO_ENABLE_OFF, "LAMBDA_CODE"),
            own(MAX_ACCOUNT_LIMIT_REACHED, judge::ORGANIZATION_RESOURCE),
        ])
        .expect(&[
            (AUTO_ENABLE_UNKNOWN, "LAMBDA", Info),
            (AUTO_ENABLE_OFF, "LAMBDA_CODE", Medium),
            (MAX_ACCOUNT_LIMIT_REACHED, "organization", Medium),
        ]),
        Case::new("a setting seen on resolves its open finding", |_| {})
            .own(vec![own(AUTO_ENABLE_OFF, "EC2")]),
        Case::new("configuration denied: one finding, the rest carried", |s| {
            s.organization_configuration =
                Seen::Denied(denied("DescribeOrganizationConfiguration"));
        })
        .own(vec![
            own(AUTO_ENABLE_OFF, "EC2"),
            own(MAX_ACCOUNT_LIMIT_REACHED, judge::ORGANIZATION_RESOURCE),
        ])
        .expect(&[
            (
                CONFIGURATION_UNREADABLE,
                "organization-configuration",
                Medium,
            ),
            (AUTO_ENABLE_OFF, "EC2", Medium),
            (MAX_ACCOUNT_LIMIT_REACHED, "organization", Medium),
        ]),
        Case::new("member limit reached", |s| {
            s.organization_configuration = Seen::Read(configuration(
                Some(auto_enable(true, true, true, true)),
                Some(true),
            ));
        })
        .expect(&[(MAX_ACCOUNT_LIMIT_REACHED, "organization", High)]),
        Case::new(
            "an account missing, one removed, one in a disabled region",
            |s| {
                s.accounts.push(account(SANDBOX, "sandbox", "ACTIVE"));
                s.members = Seen::Read(vec![
                    member(MANAGEMENT, "ENABLED"),
                    member(PROD, "REMOVED"),
                    member(DEV, "REGION_DISABLED"),
                ]);
            },
        )
        .expect(&[
            (MEMBER_NOT_ENABLED, PROD, High),
            (MEMBER_NOT_ENABLED, DEV, High),
            (ACCOUNT_NOT_MEMBER, SANDBOX, High),
        ]),
        Case::new("the management account is judged like any member", |s| {
            s.members = Seen::Read(vec![member(PROD, "ENABLED"), member(DEV, "ENABLED")]);
        })
        .expect(&[(ACCOUNT_NOT_MEMBER, MANAGEMENT, High)]),
        Case::new("ignored accounts are not reported", |s| {
            s.accounts.push(account(SANDBOX, "sandbox", "ACTIVE"));
            s.members = Seen::Read(vec![
                member(MANAGEMENT, "ENABLED"),
                member(PROD, "DISABLED"),
                member(DEV, "ENABLED"),
            ]);
        })
        .config(serde_json::json!({"ignore_accounts": [SANDBOX, PROD]})),
        Case::new(
            "the administrator, listed or not, is never its own member",
            |s| {
                s.members = Seen::Read(vec![
                    member(MANAGEMENT, "ENABLED"),
                    member(CALLER, "CREATED"),
                    member(PROD, "ENABLED"),
                    member(DEV, "ENABLED"),
                ]);
            },
        ),
        Case::new("a member without a status is not judged", |s| {
            s.members = Seen::Read(vec![
                member(MANAGEMENT, "ENABLED"),
                Member {
                    relationship_status: None,
                    ..member(PROD, "")
                },
                member(DEV, "enabled"),
            ]);
        }),
        Case::new("the configured administrator", |s| {
            s.delegated_admin = admin(CALLER);
        })
        .config(serde_json::json!({"delegated_admin": CALLER})),
        Case::new("another administrator than configured", |s| {
            s.delegated_admin = admin(CALLER);
        })
        .config(serde_json::json!({"delegated_admin": PROD}))
        .expect(&[(DELEGATED_ADMIN_MISMATCH, "delegated-administrator", High)]),
        Case::new("another administrator, named by the members", |_| {})
            .config(serde_json::json!({"delegated_admin": PROD}))
            .expect(&[(DELEGATED_ADMIN_MISMATCH, "delegated-administrator", High)]),
        Case::new("no administrator: nobody is a member", |s| {
            s.delegated_admin = Seen::Read(None);
            s.members = Seen::Read(Vec::new());
        })
        .expect(&[
            (NO_DELEGATED_ADMIN, "delegated-administrator", High),
            (ACCOUNT_NOT_MEMBER, MANAGEMENT, High),
            (ACCOUNT_NOT_MEMBER, CALLER, High),
            (ACCOUNT_NOT_MEMBER, PROD, High),
            (ACCOUNT_NOT_MEMBER, DEV, High),
        ]),
        Case::new("no administrator, seen from the management account", |s| {
            s.delegated_admin = Seen::Read(None);
            s.members = Seen::Denied(denied("ListMembers"));
            s.organization_configuration =
                Seen::Denied(denied("DescribeOrganizationConfiguration"));
        })
        .config(serde_json::json!({"ignore_accounts": [MANAGEMENT, CALLER]}))
        .expect(&[
            (NO_DELEGATED_ADMIN, "delegated-administrator", High),
            (
                CONFIGURATION_UNREADABLE,
                "organization-configuration",
                Medium,
            ),
            (ACCOUNT_NOT_MEMBER, PROD, High),
            (ACCOUNT_NOT_MEMBER, DEV, High),
        ]),
        Case::new("an answer naming none, but the members name one", |s| {
            s.delegated_admin = Seen::Read(None);
        }),
        Case::new("members denied, administrator unknown", |s| {
            s.members = Seen::Denied(denied("ListMembers"));
        })
        .fails_with("GetDelegatedAdminAccount was denied too"),
        Case::new("members denied, seen from the management account", |s| {
            s.members = Seen::Denied(denied("ListMembers"));
            s.delegated_admin = admin(PROD);
        })
        .fails_with("ListMembers answers only in the delegated administrator (222200000001)"),
        Case::new("no members listed, another account administers", |s| {
            s.members = Seen::Read(Vec::new());
            s.delegated_admin = admin(PROD);
        })
        .fails_with("only the delegated administrator lists the organisation's members"),
        Case::new("no members listed by the administrator itself", |s| {
            s.members = Seen::Read(Vec::new());
            s.delegated_admin = admin(CALLER);
        })
        .expect(&[
            (ACCOUNT_NOT_MEMBER, MANAGEMENT, High),
            (ACCOUNT_NOT_MEMBER, PROD, High),
            (ACCOUNT_NOT_MEMBER, DEV, High),
        ]),
    ]
}

#[test]
fn every_case_gives_its_findings_or_its_error() {
    let mut failures = Vec::new();
    for case in cases() {
        let got = judge::judge(&case.snapshot, &config(case.config), &scope(), &case.own);
        match (&got, &case.expected) {
            (Ok(report), Ok(expected)) if codes(report) == *expected => {}
            (Err(err), Err(text)) if err.to_string().contains(text) => {}
            _ => failures.push(format!(
                "{}:\n  expected {:?}\n  got      {:?}",
                case.name,
                case.expected,
                got.as_ref().map(codes)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------ the judge: what it says

#[test]
fn auto_enable_off_says_what_new_accounts_miss_and_the_exact_fix() {
    let mut snapshot = healthy();
    snapshot.organization_configuration = Seen::Read(configuration(
        Some(auto_enable(true, true, false, true)),
        Some(false),
    ));
    let report = judge::judge(&snapshot, &OrganizationConfig::default(), &scope(), &[]).unwrap();
    let finding = only(&report, AUTO_ENABLE_OFF);
    assert_eq!(finding.resource, "LAMBDA");
    assert_eq!(
        finding.title,
        "Inspector does not turn on Lambda standard scanning for new accounts in eu-west-1"
    );
    assert!(
        finding.description.contains("autoEnable.lambda off"),
        "{}",
        finding.description
    );
    assert_eq!(
        finding.remediation.as_deref(),
        Some(
            "aws inspector2 update-organization-configuration --auto-enable \
             ec2=true,ecr=true,lambda=true,lambdaCode=true --region eu-west-1"
        )
    );
    assert_eq!(finding.details["scan_type"], "LAMBDA");
    assert_eq!(
        measured(
            &report,
            "organization_auto_enable",
            Some(("scan_type", "LAMBDA"))
        ),
        Some(0.0)
    );
    assert_eq!(
        measured(
            &report,
            "organization_auto_enable",
            Some(("scan_type", "EC2"))
        ),
        Some(1.0)
    );
}

#[test]
fn an_unknown_setting_is_not_measured_and_not_called_off() {
    let mut snapshot = healthy();
    let mut auto = auto_enable(true, true, true, true);
    auto.lambda_code = None;
    snapshot.organization_configuration = Seen::Read(configuration(Some(auto), Some(false)));
    let report = judge::judge(&snapshot, &OrganizationConfig::default(), &scope(), &[]).unwrap();
    let finding = only(&report, AUTO_ENABLE_UNKNOWN);
    assert!(finding
        .description
        .contains("without autoEnable.lambdaCode"));
    assert!(finding.description.contains("not reported as off"));
    assert_eq!(finding.details["enabled"], serde_json::Value::Null);
    assert_eq!(
        measured(
            &report,
            "organization_auto_enable",
            Some(("scan_type", "LAMBDA_CODE"))
        ),
        None
    );
}

#[test]
fn what_could_not_be_read_keeps_its_finding_as_it_was_and_says_why() {
    let mut snapshot = healthy();
    snapshot.organization_configuration = Seen::Denied(denied("DescribeOrganizationConfiguration"));
    let open = own(AUTO_ENABLE_OFF, "ECR");
    // Another scope's and another rule's findings are never carried.
    let elsewhere = Finding::new(
        ID,
        AUTO_ENABLE_OFF,
        Severity::Medium,
        &Scope::new(CALLER, "us-east-1"),
        "EC2",
        "other region",
    );
    let report = judge::judge(
        &snapshot,
        &OrganizationConfig::default(),
        &scope(),
        &[open.clone(), elsewhere],
    )
    .unwrap();
    let carried = only(&report, AUTO_ENABLE_OFF);
    assert_eq!(carried.id, open.id, "the same finding, so it stays open");
    assert_eq!(carried.title, open.title);
    assert_eq!(
        carried.details["unverified"],
        "DescribeOrganizationConfiguration was denied; kept as last seen"
    );
    let unreadable = only(&report, CONFIGURATION_UNREADABLE);
    assert!(unreadable.description.contains("AccessDeniedException"));
    assert!(unreadable.description.contains("111122223333"));
    assert_eq!(report.counts["denied.DescribeOrganizationConfiguration"], 1);
    assert!(report
        .measurements
        .iter()
        .all(|m| m.name != "organization_auto_enable"));
}

#[test]
fn member_findings_name_the_account_and_the_fix() {
    let mut snapshot = healthy();
    snapshot
        .accounts
        .push(account(SANDBOX, "sandbox", "ACTIVE"));
    snapshot.members = Seen::Read(vec![
        member(MANAGEMENT, "ENABLED"),
        member(PROD, "RESIGNED"),
        member(DEV, "REGION_DISABLED"),
    ]);
    let report = judge::judge(&snapshot, &OrganizationConfig::default(), &scope(), &[]).unwrap();

    let missing = only(&report, ACCOUNT_NOT_MEMBER);
    assert_eq!(missing.resource, SANDBOX);
    assert_eq!(
        missing.account, CALLER,
        "recorded under the organisation's scope"
    );
    assert_eq!(
        missing.title,
        "Account sandbox (222200000003) is not a member of Inspector's organisation in eu-west-1"
    );
    assert!(missing
        .description
        .contains("delegated administrator 111122223333 does not list it"));
    assert_eq!(
        missing.remediation.as_deref(),
        Some(
            "aws inspector2 associate-member --account-id 222200000003 --region eu-west-1 && \
             aws inspector2 enable --account-ids 222200000003 --resource-types EC2 ECR LAMBDA \
             LAMBDA_CODE --region eu-west-1"
        )
    );
    assert_eq!(missing.details["account_name"], "sandbox");

    let resigned = report
        .findings
        .iter()
        .find(|f| f.code == MEMBER_NOT_ENABLED && f.resource == PROD)
        .unwrap();
    assert_eq!(
        resigned.title,
        "Account prod (222200000001) is an Inspector member with status RESIGNED, not ENABLED"
    );
    assert_eq!(resigned.details["relationship_status"], "RESIGNED");
    assert!(resigned
        .remediation
        .as_deref()
        .unwrap()
        .starts_with("aws inspector2 associate-member --account-id 222200000001"));

    let region_disabled = report
        .findings
        .iter()
        .find(|f| f.code == MEMBER_NOT_ENABLED && f.resource == DEV)
        .unwrap();
    assert_eq!(
        region_disabled.remediation.as_deref(),
        Some("aws account enable-region --account-id 222200000002 --region-name eu-west-1")
    );
    assert_ne!(resigned.id, region_disabled.id);
}

#[test]
fn a_mismatch_says_where_the_administrator_was_learnt() {
    let cfg = config(serde_json::json!({"delegated_admin": PROD}));
    // From the management account: GetDelegatedAdminAccount answers.
    let mut snapshot = healthy();
    snapshot.delegated_admin = admin(CALLER);
    let report = judge::judge(&snapshot, &cfg, &scope(), &[]).unwrap();
    let finding = only(&report, DELEGATED_ADMIN_MISMATCH);
    assert_eq!(
        finding.title,
        "Inspector's delegated administrator is security (111122223333), not prod (222200000001)"
    );
    assert_eq!(
        finding.details["delegated_admin_source"],
        "GetDelegatedAdminAccount"
    );
    assert_eq!(finding.details["relationship_status"], "ENABLED");
    assert_eq!(
        finding.remediation.as_deref(),
        Some(
            "aws inspector2 disable-delegated-admin-account --delegated-admin-account-id \
             111122223333 --region eu-west-1 && aws inspector2 enable-delegated-admin-account \
             --delegated-admin-account-id 222200000001 --region eu-west-1"
        )
    );
    assert!(!report.counts.contains_key("delegated_admin_inferred"));

    // From the administrator: the members name it.
    let report = judge::judge(&healthy(), &cfg, &scope(), &[]).unwrap();
    let finding = only(&report, DELEGATED_ADMIN_MISMATCH);
    assert_eq!(finding.details["delegated_admin_source"], "ListMembers");
    assert!(finding.description.contains("delegatedAdminAccountId"));
    assert_eq!(report.counts["delegated_admin_inferred"], 1);
}

#[test]
fn the_administrator_is_learnt_from_the_api_then_the_members_then_the_caller() {
    let mut snapshot = healthy();
    snapshot.delegated_admin = admin(PROD);
    let found = judge::delegated_admin(&snapshot, &scope());
    assert_eq!(
        (found.account.as_deref(), found.source),
        (Some(PROD), AdminSource::Api)
    );

    // Most members name one; a tie goes to the lowest ID.
    let mut snapshot = healthy();
    let mut listed = members();
    listed[0].delegated_admin_account_id = Some(DEV.into());
    listed.push(Member {
        delegated_admin_account_id: Some(DEV.into()),
        ..member(SANDBOX, "ENABLED")
    });
    snapshot.members = Seen::Read(listed);
    let found = judge::delegated_admin(&snapshot, &scope());
    assert_eq!(found.account.as_deref(), Some(CALLER), "{found:?}");
    assert_eq!(found.source, AdminSource::Members);

    // No member names one: the caller, which could list them.
    let mut snapshot = healthy();
    snapshot.members = Seen::Read(
        members()
            .into_iter()
            .map(|m| Member {
                delegated_admin_account_id: None,
                ..m
            })
            .collect(),
    );
    let found = judge::delegated_admin(&snapshot, &scope());
    assert_eq!(
        (found.account.as_deref(), found.source),
        (Some(CALLER), AdminSource::Caller)
    );
}

#[test]
fn no_administrator_says_how_to_designate_one() {
    let mut snapshot = healthy();
    snapshot.delegated_admin = Seen::Read(None);
    snapshot.members = Seen::Read(Vec::new());
    let report = judge::judge(&snapshot, &OrganizationConfig::default(), &scope(), &[]).unwrap();
    let finding = only(&report, NO_DELEGATED_ADMIN);
    assert_eq!(
        finding.remediation.as_deref(),
        Some(
            "aws inspector2 enable-delegated-admin-account --delegated-admin-account-id \
             <account-id> --region eu-west-1"
        )
    );
    assert!(finding.recommendation.contains("set delegated_admin"));
    let missing = report
        .findings
        .iter()
        .find(|f| f.code == ACCOUNT_NOT_MEMBER)
        .unwrap();
    assert!(missing
        .recommendation
        .starts_with("Designate a delegated administrator first"));

    let cfg = config(serde_json::json!({"delegated_admin": CALLER}));
    let report = judge::judge(&snapshot, &cfg, &scope(), &[]).unwrap();
    assert_eq!(
        only(&report, NO_DELEGATED_ADMIN).remediation.as_deref(),
        Some(
            "aws inspector2 enable-delegated-admin-account --delegated-admin-account-id \
             111122223333 --region eu-west-1"
        )
    );
}

#[test]
fn measurements_and_counts_describe_the_organisation_without_account_ids() {
    let mut snapshot = healthy();
    snapshot
        .accounts
        .push(account(SANDBOX, "sandbox", "ACTIVE"));
    snapshot.inactive_accounts = BTreeMap::from([
        ("SUSPENDED".to_owned(), 2),
        ("".to_owned(), 1),
        ("weird value".to_owned(), 1),
    ]);
    snapshot.members = Seen::Read(vec![
        member(MANAGEMENT, "ENABLED"),
        member(PROD, "ENABLED"),
        member(DEV, "CREATED"),
        member("333300000009", "REMOVED"),
    ]);
    let report = judge::judge(&snapshot, &OrganizationConfig::default(), &scope(), &[]).unwrap();
    let accounts = |state| measured(&report, "organization_accounts", Some(("state", state)));
    assert_eq!(accounts("ACTIVE"), Some(5.0));
    assert_eq!(accounts("SUSPENDED"), Some(2.0));
    assert_eq!(accounts("UNKNOWN"), Some(1.0));
    assert_eq!(accounts("OTHER"), Some(1.0));
    let members = |status| measured(&report, "organization_members", Some(("status", status)));
    assert_eq!(members("ENABLED"), Some(2.0));
    assert_eq!(members("CREATED"), Some(1.0));
    assert_eq!(members("REMOVED"), Some(1.0));
    assert_eq!(
        measured(&report, "organization_accounts_not_members", None),
        Some(1.0)
    );
    let ids: Vec<&str> = snapshot.accounts.iter().map(|a| a.id.as_str()).collect();
    for m in &report.measurements {
        assert!(
            m.labels.values().all(|v| !ids.contains(&v.as_str())),
            "no account ID in labels: {m:?}"
        );
    }
    let declared: Vec<&str> = OrganizationRule::new(&OrganizationConfig::default())
        .meta()
        .measurements
        .iter()
        .map(|m| m.name)
        .collect();
    for m in &report.measurements {
        assert!(declared.contains(&m.name.as_str()), "{} undeclared", m.name);
    }
    let expected: BTreeMap<String, u64> = [
        ("calls.ListAccounts", 1),
        ("calls.ListMembers", 1),
        ("calls.DescribeOrganizationConfiguration", 1),
        ("calls.GetDelegatedAdminAccount", 1),
        ("denied.GetDelegatedAdminAccount", 1),
        ("delegated_admin_inferred", 1),
        ("accounts_active", 5),
        ("accounts_inactive", 4),
        ("accounts_ignored", 0),
        ("accounts_not_members", 1),
        ("members_not_enabled", 1),
        ("members_enabled", 2),
        ("members_listed", 4),
        ("members_not_active_in_organization", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(report.counts, expected);
}

fn insta_snapshot(name: &str, value: &impl serde::Serialize) {
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!(name, value);
    });
}

/// The main outputs, as the administrator of a troubled organisation sees
/// them: Lambda auto-enable off, code scanning unknown, an account missing,
/// one removed, and another administrator than configured.
#[test]
fn snapshot_of_a_troubled_organisation() {
    let mut snapshot = healthy();
    snapshot
        .accounts
        .push(account(SANDBOX, "sandbox", "ACTIVE"));
    snapshot.inactive_accounts = BTreeMap::from([("SUSPENDED".to_owned(), 1)]);
    snapshot.members = Seen::Read(vec![
        member(MANAGEMENT, "ENABLED"),
        member(PROD, "ENABLED"),
        member(DEV, "REMOVED"),
    ]);
    let mut auto = auto_enable(true, true, false, true);
    auto.lambda_code = None;
    snapshot.organization_configuration = Seen::Read(configuration(Some(auto), Some(false)));
    let cfg = config(serde_json::json!({"delegated_admin": "444400000004"}));
    let report = judge::judge(&snapshot, &cfg, &scope(), &[]).unwrap();
    insta_snapshot("organization_troubled", &report);
}

/// An organisation without a delegated administrator, seen from the
/// management account.
#[test]
fn snapshot_of_an_organisation_without_administrator() {
    let mut snapshot = healthy();
    snapshot.delegated_admin = Seen::Read(None);
    snapshot.members = Seen::Denied(denied("ListMembers"));
    snapshot.organization_configuration = Seen::Denied(denied("DescribeOrganizationConfiguration"));
    let report = judge::judge(
        &snapshot,
        &OrganizationConfig::default(),
        &Scope::new(MANAGEMENT, REGION),
        &[],
    )
    .unwrap();
    insta_snapshot("organization_no_administrator", &report);
}

// ------------------------------------------------------------- the config

#[test]
fn config_defaults_and_severities() {
    let config = OrganizationConfig::default();
    assert!(config.enabled);
    assert_eq!(config.interval, std::time::Duration::from_secs(3_600));
    assert_eq!(config.delegated_admin, None);
    assert!(config.ignore_accounts.is_empty());
    assert_eq!(config.severities.auto_enable_off_lambda_code, Severity::Low);
    assert_eq!(config.severities.account_not_member, Severity::High);

    let parsed = self::config(serde_json::json!({
        "interval": "2h",
        "delegated_admin": CALLER,
        "ignore_accounts": [SANDBOX],
        "severities": {"account_not_member": "critical"},
    }));
    assert_eq!(parsed.interval, std::time::Duration::from_secs(7_200));
    assert_eq!(parsed.severities.account_not_member, Severity::Critical);
    assert_eq!(parsed.severities.member_not_enabled, Severity::High);
    assert!(parsed.validate().is_ok());

    for bad in [
        serde_json::json!({"delegated_admins": CALLER}),
        serde_json::json!({"severities": {"account_missing": "high"}}),
        serde_json::json!({"severities": {"account_not_member": "urgent"}}),
    ] {
        assert!(
            serde_json::from_value::<OrganizationConfig>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn account_ids_are_validated_with_the_key_named() {
    let cases = [
        (
            serde_json::json!({"delegated_admin": "12345"}),
            "rules.inspector2-organization.delegated_admin",
            "`12345` is not an account ID; expected 12 digits",
        ),
        (
            serde_json::json!({"ignore_accounts": [PROD, "22220000000x"]}),
            "rules.inspector2-organization.ignore_accounts[1]",
            "`22220000000x` is not an account ID; expected 12 digits",
        ),
        (
            serde_json::json!({"ignore_accounts": [PROD, DEV, PROD]}),
            "rules.inspector2-organization.ignore_accounts[2]",
            "`222200000001` is already listed at ignore_accounts[0]",
        ),
    ];
    for (table, key, message) in cases {
        let rules: crate::RulesConfig =
            serde_json::from_value(serde_json::json!({ ID: table })).unwrap();
        let err = rules.validate().unwrap_err();
        assert_eq!((err.key.as_str(), err.message.as_str()), (key, message));
    }
}

#[test]
fn the_rule_sees_the_organisation_and_reads_only_its_own_carried_findings() {
    let rule = OrganizationRule::new(&OrganizationConfig::default());
    let meta = rule.meta();
    assert_eq!(meta.id, ID);
    assert_eq!(meta.reach, Reach::Organization);
    assert_eq!(
        meta.reads,
        &[PeerRead {
            rule: ID,
            codes: &[AUTO_ENABLE_OFF, MAX_ACCOUNT_LIMIT_REACHED],
        }]
    );
    assert!(crate::RULE_IDS.contains(&ID));
}

// ---------------------------------------------- the fetch and the rule

fn fakes(organizations: FakeOrganizations, inspector2: FakeInspector2) -> Fakes {
    Fakes {
        organizations: Arc::new(organizations),
        inspector2: Arc::new(inspector2),
        ..Fakes::default()
    }
}

fn fake_organization() -> Fakes {
    fakes(
        FakeOrganizations {
            accounts: accounts(),
            ..FakeOrganizations::default()
        },
        FakeInspector2 {
            members: members(),
            organization_configuration: configuration(
                Some(auto_enable(true, true, false, true)),
                Some(false),
            ),
            delegated_admin: Some(DelegatedAdmin {
                account_id: Some(CALLER.into()),
                relationship_status: Some("ENABLED".into()),
            }),
            ..FakeInspector2::default()
        },
    )
}

/// The rule's own findings, as the store hands them back.
struct OwnFindings(Vec<Finding>);

impl PeerFindings for OwnFindings {
    fn open_findings(&self, rule: &str, _scope: &Scope) -> Result<Vec<Finding>, PeerError> {
        assert_eq!(rule, ID, "reads only its own findings");
        Ok(self.0.clone())
    }
}

/// Peers whose store cannot answer.
struct UnreadablePeers;

impl PeerFindings for UnreadablePeers {
    fn open_findings(&self, rule: &str, _scope: &Scope) -> Result<Vec<Finding>, PeerError> {
        Err(PeerError {
            rule: rule.to_owned(),
            message: "database is locked".to_owned(),
        })
    }
}

async fn evaluate(
    config: &OrganizationConfig,
    fakes: &Fakes,
    peers: &dyn PeerFindings,
) -> Result<RuleReport, RuleError> {
    let rule = OrganizationRule::new(config);
    crate::test_support::evaluate(&rule, fakes, &scope(), now(), peers).await
}

/// 45 accounts (three of them not ACTIVE) take three ListAccounts pages of
/// 20; 120 members, some not ENABLED, take three ListMembers pages of 50.
#[tokio::test]
async fn every_page_of_accounts_and_members_is_read() {
    let id = |i: usize| format!("5555{i:08}");
    let mut org_accounts: Vec<OrgAccount> = (0..45)
        .map(|i| account(&id(i), &format!("account-{i}"), "ACTIVE"))
        .collect();
    org_accounts[10].state = Some("SUSPENDED".into());
    org_accounts[20].state = None;
    org_accounts[20].status = Some("PENDING_CLOSURE".into());
    org_accounts[30].state = Some("CLOSED".into());
    let listed: Vec<Member> = (0..120)
        .map(|i| member(&id(i), if i % 40 == 7 { "REMOVED" } else { "ENABLED" }))
        .collect();
    let fakes = fakes(
        FakeOrganizations {
            accounts: org_accounts,
            ..FakeOrganizations::default()
        },
        FakeInspector2 {
            members: listed,
            ..FakeInspector2::default()
        },
    );
    let snapshot = fetch::fetch(fakes.organizations.as_ref(), fakes.inspector2.as_ref())
        .await
        .unwrap();
    assert_eq!(fakes.organizations.script.count("ListAccounts"), 3);
    assert_eq!(fakes.inspector2.script.count("ListMembers"), 3);
    assert_eq!(snapshot.calls.list_accounts, 3);
    assert_eq!(snapshot.calls.list_members, 3);
    assert_eq!(snapshot.accounts.len(), 42);
    assert!(snapshot.accounts.iter().all(OrgAccount::is_active));
    assert_eq!(
        snapshot.inactive_accounts,
        BTreeMap::from([
            ("CLOSED".to_owned(), 1),
            ("PENDING_CLOSURE".to_owned(), 1),
            ("SUSPENDED".to_owned(), 1),
        ])
    );
    // onlyAssociated false: the members that are not ENABLED are listed too.
    let listed = snapshot.members.read().unwrap();
    assert_eq!(listed.len(), 120);
    assert_eq!(
        listed
            .iter()
            .filter(|m| m.relationship_status.as_deref() == Some("REMOVED"))
            .count(),
        3
    );

    // Judged: the REMOVED members among the ACTIVE accounts (7 and 47 are
    // beyond the organisation's 45), nothing about the inactive ones.
    let report = judge::judge(&snapshot, &OrganizationConfig::default(), &scope(), &[]).unwrap();
    let flagged: Vec<(&str, &str)> = report
        .findings
        .iter()
        .filter(|f| f.code != AUTO_ENABLE_UNKNOWN && f.code != AUTO_ENABLE_OFF)
        .map(|f| (f.code.as_str(), f.resource.as_str()))
        .collect();
    assert_eq!(flagged, [(MEMBER_NOT_ENABLED, id(7).as_str())]);
    assert_eq!(report.counts["members_not_active_in_organization"], 78);
}

#[tokio::test]
async fn the_rule_reads_the_organisation_and_reports_it() {
    let fakes = fake_organization();
    let report = evaluate(&OrganizationConfig::default(), &fakes, &NoPeers)
        .await
        .unwrap();
    assert_eq!(
        codes(&report),
        [(AUTO_ENABLE_OFF, "LAMBDA", Severity::Medium)]
    );
    let calls: Vec<&str> = fakes
        .inspector2
        .script
        .calls()
        .iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        calls,
        [
            "GetDelegatedAdminAccount",
            "ListMembers",
            "DescribeOrganizationConfiguration"
        ]
    );
}

/// In the delegated administrator GetDelegatedAdminAccount is denied: the
/// members name the administrator instead.
#[tokio::test]
async fn a_denied_delegated_admin_call_falls_back_to_the_members() {
    let fakes = fake_organization();
    fakes.inspector2.script.fail_next(
        "GetDelegatedAdminAccount",
        denied("GetDelegatedAdminAccount"),
    );
    let cfg = config(serde_json::json!({"delegated_admin": PROD}));
    let report = evaluate(&cfg, &fakes, &NoPeers).await.unwrap();
    let finding = only(&report, DELEGATED_ADMIN_MISMATCH);
    assert_eq!(finding.details["delegated_admin"], CALLER);
    assert_eq!(finding.details["delegated_admin_source"], "ListMembers");
    assert_eq!(report.counts["denied.GetDelegatedAdminAccount"], 1);
    assert!(report.findings.iter().all(|f| f.code != NO_DELEGATED_ADMIN));
}

#[tokio::test]
async fn listing_failures_are_errors_never_empty_lists() {
    let throttled = |service, operation| {
        AwsError::from_code(service, operation, "ThrottlingException", "slow down")
    };
    type Script = Box<dyn Fn(&Fakes)>;
    let cases: Vec<(&str, Script, &str)> = vec![
        (
            "ListMembers denied",
            Box::new(|f: &Fakes| {
                f.inspector2
                    .script
                    .fail_next("ListMembers", denied("ListMembers"));
            }),
            "ListMembers answers only in the delegated administrator (111122223333)",
        ),
        (
            "ListMembers throttled",
            Box::new(move |f: &Fakes| {
                f.inspector2
                    .script
                    .fail_next("ListMembers", throttled("inspector2", "ListMembers"));
            }),
            "inspector2:ListMembers failed (throttled",
        ),
        (
            "ListAccounts denied",
            Box::new(|f: &Fakes| {
                f.organizations.script.fail_next(
                    "ListAccounts",
                    AwsError::from_code(
                        "organizations",
                        "ListAccounts",
                        "AccessDeniedException",
                        "You don't have permissions to access this resource.",
                    ),
                );
            }),
            "organizations:ListAccounts failed (access_denied",
        ),
        (
            "DescribeOrganizationConfiguration throttled",
            Box::new(move |f: &Fakes| {
                f.inspector2.script.fail_next(
                    "DescribeOrganizationConfiguration",
                    throttled("inspector2", "DescribeOrganizationConfiguration"),
                );
            }),
            "DescribeOrganizationConfiguration failed (throttled",
        ),
    ];
    for (name, script, text) in cases {
        let fakes = fake_organization();
        script(&fakes);
        let result = evaluate(&OrganizationConfig::default(), &fakes, &NoPeers).await;
        assert!(
            matches!(&result, Err(RuleError::Failed(m)) if m.contains(text)),
            "{name}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_denied_configuration_is_one_finding_and_keeps_the_open_ones() {
    let fakes = fake_organization();
    fakes.inspector2.script.fail_next(
        "DescribeOrganizationConfiguration",
        denied("DescribeOrganizationConfiguration"),
    );
    let open = own(AUTO_ENABLE_OFF, "LAMBDA");
    let report = evaluate(
        &OrganizationConfig::default(),
        &fakes,
        &OwnFindings(vec![open.clone()]),
    )
    .await
    .unwrap();
    assert_eq!(
        codes(&report),
        [
            (
                CONFIGURATION_UNREADABLE,
                "organization-configuration",
                Severity::Medium
            ),
            (AUTO_ENABLE_OFF, "LAMBDA", Severity::Medium),
        ]
    );
    assert_eq!(report.findings[1].id, open.id);
}

#[tokio::test]
async fn a_failed_read_of_its_own_findings_is_an_error_before_any_call() {
    let fakes = fake_organization();
    let result = evaluate(&OrganizationConfig::default(), &fakes, &UnreadablePeers).await;
    assert!(
        matches!(&result, Err(RuleError::Failed(m)) if m.contains("database is locked")),
        "{result:?}"
    );
    assert!(fakes.organizations.script.calls().is_empty());
    assert!(fakes.inspector2.script.calls().is_empty());
}

#[tokio::test]
async fn an_unavailable_service_reads_unavailable() {
    let fakes = fake_organization();
    fakes.inspector2.script.fail_next(
        "GetDelegatedAdminAccount",
        AwsError::new(
            "inspector2",
            "GetDelegatedAdminAccount",
            AwsErrorKind::Unavailable,
            "no endpoint in this region",
        ),
    );
    let result = evaluate(&OrganizationConfig::default(), &fakes, &NoPeers).await;
    assert!(
        matches!(result, Err(RuleError::Unavailable(_))),
        "{result:?}"
    );
}
