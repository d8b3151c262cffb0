//! The organisation over the wire: Organizations ListAccounts (awsJson1_1),
//! Inspector2's delegated-administrator view (restJson1), STS AssumeRole
//! denial and credential expiry (awsQuery), each as aws-sdk-rust sends it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const MGMT: &str = "111111111111";
const ADMIN: &str = "222222222222";
const MEMBER: &str = "333333333333";
const OUTSIDER: &str = "999999999999";

/// An organisation: the management account, a separate delegated
/// administrator, one member, and `extra` members `4000000000NN`; the
/// outsider has data but is not in it. `tail` is appended.
fn org_scenario(extra: usize, tail: &str) -> String {
    let mut s = format!(
        r#"
default_account = "{OUTSIDER}"
[access_keys]
AKIDMGMT = "{MGMT}"
AKIDADMIN = "{ADMIN}"
AKIDMEMBER = "{MEMBER}"
AKIDOUTSIDE = "{OUTSIDER}"

[organization]
management_account = "{MGMT}"
delegated_admin = "{ADMIN}"
auto_enable = {{ ec2 = true, ecr = false, lambda = false }}
auto_enable_by_region = {{ "eu-west-1" = {{ lambda = true }} }}
max_account_limit_reached = true

[[organization.account]]
id = "{MGMT}"
name = "management"
[[organization.account]]
id = "{ADMIN}"
name = "security"
[[organization.account]]
id = "{MEMBER}"
name = "payments"
email = "payments@example.com"
joined_method = "INVITED"
"#
    );
    for i in 1..=extra {
        let _ = writeln!(
            s,
            "[[organization.account]]\nid = \"{:012}\"",
            400_000_000_000u64 + i as u64
        );
    }
    s.push_str(tail);
    s
}

fn extra_id(i: usize) -> String {
    format!("{:012}", 400_000_000_000u64 + i as u64)
}

/// Every page of ListAccounts as `akid`, with `max` per page.
async fn all_accounts(
    h: &blindspot_sim::SimHandle,
    akid: &str,
    max: Option<i64>,
) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({});
        if let Some(m) = max {
            body["MaxResults"] = json!(m);
        }
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let a = organizations(h, akid, "ListAccounts", &body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let v = a.json();
        pages.push(v["Accounts"].as_array().unwrap().clone());
        match v.get("NextToken") {
            Some(t) => token = Some(t.as_str().unwrap().to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 50, "pagination does not end");
    }
}

fn ids(pages: &[Vec<Value>]) -> Vec<String> {
    pages
        .iter()
        .flatten()
        .map(|a| a["Id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_accounts_pages_through_the_organisation_with_state_only() {
    let h = start(&org_scenario(42, "")).await;
    let pages = all_accounts(&h, "AKIDMGMT", None).await;
    // 45 accounts, 20 a page by default.
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![20, 20, 5]
    );
    let listed = ids(&pages);
    assert_eq!(&listed[..3], &[MGMT, ADMIN, MEMBER]);
    assert_eq!(listed[44], extra_id(42));
    assert_eq!(listed.iter().collect::<BTreeSet<_>>().len(), 45);

    let payments = &pages[0][2];
    let org_id = payments["Arn"]
        .as_str()
        .unwrap()
        .strip_prefix(&format!("arn:aws:organizations::{MGMT}:account/"))
        .and_then(|rest| rest.strip_suffix(&format!("/{MEMBER}")))
        .unwrap()
        .to_owned();
    assert!(org_id.starts_with("o-") && org_id.len() == 12, "{org_id}");
    assert_eq!(payments["Name"], "payments");
    assert_eq!(payments["Email"], "payments@example.com");
    assert_eq!(payments["State"], "ACTIVE");
    assert_eq!(payments["JoinedMethod"], "INVITED");
    assert!(payments["JoinedTimestamp"].as_f64().unwrap() > 1.0e9);
    // AWS retired Status on 2026-09-09: not sent unless asked for.
    assert!(payments.get("Status").is_none(), "{payments}");
    let generated = &pages[2][4];
    assert_eq!(generated["Name"], format!("account-{}", extra_id(42)));
    assert_eq!(
        generated["Email"],
        format!("aws+{}@example.com", extra_id(42))
    );
    assert_eq!(generated["JoinedMethod"], "CREATED");

    // MaxResults is honoured, and the delegated administrator may list too.
    let pages = all_accounts(&h, "AKIDADMIN", Some(7)).await;
    assert_eq!(pages.len(), 7);
    assert_eq!(pages[6].len(), 3);
    assert_eq!(ids(&pages), listed);

    for (max, reason) in [(21, "MAX_VALUE_EXCEEDED"), (0, "MIN_VALUE_EXCEEDED")] {
        let a = organizations(&h, "AKIDMGMT", "ListAccounts", &json!({"MaxResults": max})).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(a.error_type(), "InvalidInputException");
        assert_eq!(a.json()["Reason"], reason);
        assert!(a.json()["Message"].as_str().unwrap().contains("MaxResults"));
    }
    let a = organizations(
        &h,
        "AKIDMGMT",
        "ListAccounts",
        &json!({"NextToken": "garbage"}),
    )
    .await;
    assert_eq!(a.error_type(), "InvalidInputException");
    assert_eq!(a.json()["Reason"], "INVALID_PAGINATION_TOKEN");
    assert_eq!(
        a.headers["content-type"].to_str().unwrap(),
        "application/x-amz-json-1.1"
    );
}

#[tokio::test]
async fn the_retired_status_is_sent_only_when_the_scenario_asks() {
    let toml = org_scenario(0, "")
        .replace(
            "max_account_limit_reached = true",
            "max_account_limit_reached = true\nlegacy_status = true",
        )
        .replace(
            "joined_method = \"INVITED\"",
            "joined_method = \"INVITED\"\nstate = \"CLOSED\"",
        );
    let h = start(&toml).await;
    let pages = all_accounts(&h, "AKIDMGMT", None).await;
    let accounts = &pages[0];
    assert_eq!(
        (
            accounts[0]["State"].as_str(),
            accounts[0]["Status"].as_str()
        ),
        (Some("ACTIVE"), Some("ACTIVE"))
    );
    // AccountStatus has no CLOSED: a closed account read SUSPENDED.
    assert_eq!(
        (
            accounts[2]["State"].as_str(),
            accounts[2]["Status"].as_str()
        ),
        (Some("CLOSED"), Some("SUSPENDED"))
    );
}

#[tokio::test]
async fn only_the_management_account_and_the_administrator_read_the_organisation() {
    let h = start(&org_scenario(0, "")).await;
    let a = organizations(&h, "AKIDMEMBER", "ListAccounts", &json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "AccessDeniedException");
    assert!(a.json()["Message"].is_string(), "{}", a.text);
    let a = organizations(&h, "AKIDOUTSIDE", "ListAccounts", &json!({})).await;
    assert_eq!(a.error_type(), "AWSOrganizationsNotInUseException");

    let lone = start("default_account = \"111111111111\"\n").await;
    let a = organizations(&lone, "AKIDANY", "ListAccounts", &json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "AWSOrganizationsNotInUseException");
    assert_eq!(
        a.json()["Message"],
        "Your account is not a member of an organization."
    );

    // Inspector2's organisation calls: who may make which.
    let member = |path: &'static str, akid: &'static str| {
        let h = &h;
        async move { i2_as(h, akid, "us-east-1", path, &json!({})).await }
    };
    for (path, allowed) in [
        ("/members/list", ["AKIDADMIN", "AKIDMGMT"].as_slice()),
        (
            "/organizationconfiguration/describe",
            ["AKIDADMIN"].as_slice(),
        ),
        ("/delegatedadminaccounts/get", ["AKIDMGMT"].as_slice()),
    ] {
        for akid in ["AKIDMGMT", "AKIDADMIN", "AKIDMEMBER", "AKIDOUTSIDE"] {
            let a = member(path, akid).await;
            if allowed.contains(&akid) {
                assert_eq!(a.status, StatusCode::OK, "{path} {akid}: {}", a.text);
            } else {
                assert_eq!(a.status, StatusCode::FORBIDDEN, "{path} {akid}: {}", a.text);
                assert_eq!(a.error_type(), "AccessDeniedException");
                assert!(a.json()["message"].is_string());
            }
        }
    }
}

#[tokio::test]
async fn accounts_join_and_leave_after_their_delays() {
    let tail = r#"
[[organization.account]]
id = "555555555555"
name = "joiner"
joins_after = "1s"
[[organization.account]]
id = "666666666666"
name = "leaver"
leaves_after = "1s"
"#;
    let h = start(&org_scenario(0, tail)).await;
    let listed = || async {
        let accounts = ids(&all_accounts(&h, "AKIDMGMT", None).await);
        let members: Vec<String> = i2_as(&h, "AKIDADMIN", "us-east-1", "/members/list", &json!({}))
            .await
            .json()["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["accountId"].as_str().unwrap().to_owned())
            .collect();
        (accounts, members)
    };
    let (accounts, members) = listed().await;
    assert_eq!(accounts, [MGMT, ADMIN, MEMBER, "666666666666"]);
    assert_eq!(members, [MGMT, MEMBER, "666666666666"]);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (accounts, members) = listed().await;
    assert_eq!(accounts, [MGMT, ADMIN, MEMBER, "555555555555"]);
    assert_eq!(members, [MGMT, MEMBER, "555555555555"]);
    // It joined when its delay ended, not a year ago like the others.
    let pages = all_accounts(&h, "AKIDMGMT", None).await;
    let joined = pages[0][3]["JoinedTimestamp"].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - 5.0..=now).contains(&joined), "{joined} vs {now}");
    assert!(pages[0][0]["JoinedTimestamp"].as_f64().unwrap() < now - 86400.0);

    // Replacing the scenario starts the clock again.
    h.set_scenario(blindspot_sim::Scenario::from_toml_str(&org_scenario(0, tail)).unwrap());
    assert_eq!(listed().await.0, [MGMT, ADMIN, MEMBER, "666666666666"]);

    let bad = org_scenario(
        0,
        "[[organization.account]]\nid = \"777777777777\"\njoins_after = \"2s\"\nleaves_after = \"1s\"\n",
    );
    let err = blindspot_sim::Scenario::from_toml_str(&bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("leaves_after"), "{err}");
    let err = blindspot_sim::Scenario::from_toml_str(&org_scenario(
        0,
        "[[organization.account]]\nid = \"777777777777\"\njoins_after = \"soon\"\n",
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("soon") || err.contains("line"), "{err}");
}

#[tokio::test]
async fn list_members_pages_and_filters_associated_members() {
    let mut tail = String::new();
    for (id, status) in [
        ("555555555555", "CREATED"),
        ("666666666666", "DISABLED"),
        ("777777777777", "none"),
    ] {
        let _ = writeln!(
            tail,
            "[[organization.account]]\nid = \"{id}\"\ninspector_member = \"{status}\""
        );
    }
    let h = start(&org_scenario(60, &tail)).await;
    let list = |body: Value| {
        let h = &h;
        async move {
            let a = i2_as(h, "AKIDADMIN", "us-east-1", "/members/list", &body).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            a.json()
        }
    };
    // The administrator is not its own member; 62 associated members.
    let first = list(json!({})).await;
    let members = first["members"].as_array().unwrap();
    assert_eq!(members.len(), 50);
    assert_eq!(members[0]["accountId"], MGMT);
    assert_eq!(members[0]["relationshipStatus"], "ENABLED");
    assert_eq!(members[0]["delegatedAdminAccountId"], ADMIN);
    assert!(members[0]["updatedAt"].as_f64().unwrap() > 1.0e9);
    let token = first["nextToken"].as_str().unwrap();
    let second = list(json!({"nextToken": token})).await;
    assert_eq!(second["members"].as_array().unwrap().len(), 12);
    assert!(second.get("nextToken").is_none());
    // The token belongs to its listing.
    let a = i2_as(
        &h,
        "AKIDADMIN",
        "us-east-1",
        "/members/list",
        &json!({"nextToken": token, "onlyAssociated": false}),
    )
    .await;
    assert_eq!(a.error_type(), "ValidationException");

    let all = list(json!({"onlyAssociated": false, "maxResults": 50})).await;
    let t = all["nextToken"].as_str().unwrap();
    let rest = list(json!({"onlyAssociated": false, "nextToken": t})).await;
    let statuses: Vec<(String, String)> = all["members"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["members"].as_array().unwrap())
        .map(|m| {
            (
                m["accountId"].as_str().unwrap().to_owned(),
                m["relationshipStatus"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(_, s)| s != "ENABLED")
        .collect();
    assert_eq!(
        statuses,
        [
            ("555555555555".to_owned(), "CREATED".to_owned()),
            ("666666666666".to_owned(), "DISABLED".to_owned())
        ]
    );
    let small = list(json!({"maxResults": 1})).await;
    assert_eq!(small["members"].as_array().unwrap().len(), 1);
    for bad in [0, 51] {
        let a = i2_as(
            &h,
            "AKIDADMIN",
            "us-east-1",
            "/members/list",
            &json!({"maxResults": bad}),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(a.error_type(), "ValidationException");
    }
}

#[tokio::test]
async fn the_administrator_reads_the_organisation_configuration_per_region() {
    let h = start(&org_scenario(0, "")).await;
    let a = i2_as(
        &h,
        "AKIDADMIN",
        "us-east-1",
        "/organizationconfiguration/describe",
        &json!({}),
    )
    .await;
    assert_eq!(
        a.json(),
        json!({
            "autoEnable": {"ec2": true, "ecr": false, "lambda": false, "lambdaCode": false},
            "maxAccountLimitReached": true,
        })
    );
    let a = i2_as(
        &h,
        "AKIDADMIN",
        "eu-west-1",
        "/organizationconfiguration/describe",
        &json!({}),
    )
    .await;
    assert_eq!(a.json()["autoEnable"]["lambda"], true);
    assert_eq!(a.json()["autoEnable"]["ecr"], false);

    let a = i2_as(
        &h,
        "AKIDMGMT",
        "us-east-1",
        "/delegatedadminaccounts/get",
        &json!({}),
    )
    .await;
    assert_eq!(
        a.json(),
        json!({"delegatedAdmin": {"accountId": ADMIN, "relationshipStatus": "ENABLED"}})
    );
    let none =
        start(&org_scenario(0, "").replace("delegated_admin = \"222222222222\"\n", "")).await;
    let a = i2_as(
        &none,
        "AKIDMGMT",
        "us-east-1",
        "/delegatedadminaccounts/get",
        &json!({}),
    )
    .await;
    assert_eq!((a.status, a.json()), (StatusCode::OK, json!({})));
    // Without an administrator nobody reads the organisation configuration.
    let a = i2_as(
        &none,
        "AKIDADMIN",
        "us-east-1",
        "/organizationconfiguration/describe",
        &json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

/// Inspector2 data: the administrator, the member and a joiner enabled in
/// us-east-1 with their own coverage; the member with EC2 off in eu-west-1.
fn i2_tail() -> String {
    let mut s = String::from(
        r#"
[[organization.account]]
id = "555555555555"
joins_after = "1h"
[[organization.account]]
id = "666666666666"
inspector_member = "DISABLED"
"#,
    );
    for (account, n) in [
        (ADMIN, 2),
        (MEMBER, 3),
        ("555555555555", 4),
        ("666666666666", 5),
        (OUTSIDER, 6),
        (MGMT, 250),
    ] {
        let _ = writeln!(
            s,
            "[[region]]\nregion = \"us-east-1\"\naccount = \"{account}\"\n[region.inspector2]\nstatus = \"ENABLED\""
        );
        for i in 0..n {
            let _ = writeln!(
                s,
                "[[region.coverage]]\nresource_id = \"i-{}{i:05}\"",
                &account[..12]
            );
        }
    }
    s.push_str(&format!(
        "[[region]]\nregion = \"eu-west-1\"\naccount = \"{MEMBER}\"\n[region.inspector2]\nstatus = \"ENABLED\"\nec2 = \"DISABLED\"\n"
    ));
    s
}

#[tokio::test]
async fn batch_get_account_status_reads_members_for_the_administrator_only() {
    let h = start(&org_scenario(0, &i2_tail())).await;
    let batch = |akid: &'static str, region: &'static str, ids: Vec<&'static str>| {
        let h = &h;
        async move {
            let a = i2_as(
                h,
                akid,
                region,
                "/status/batch/get",
                &json!({ "accountIds": ids }),
            )
            .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            a.json()
        }
    };
    let v = batch(
        "AKIDADMIN",
        "eu-west-1",
        vec![
            ADMIN,
            MEMBER,
            MGMT,
            "555555555555",
            "666666666666",
            OUTSIDER,
        ],
    )
    .await;
    let accounts = v["accounts"].as_array().unwrap();
    let states: Vec<(&str, &str, &str)> = accounts
        .iter()
        .map(|a| {
            (
                a["accountId"].as_str().unwrap(),
                a["state"]["status"].as_str().unwrap(),
                a["resourceState"]["ec2"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    // Each member's own [region.inspector2] in the called region: the
    // member has eu-west-1 with EC2 off; the others have nothing there.
    assert_eq!(
        states,
        [
            (ADMIN, "DISABLED", "DISABLED"),
            (MEMBER, "ENABLED", "DISABLED"),
            (MGMT, "DISABLED", "DISABLED"),
        ]
    );
    let failed: Vec<(&str, &str)> = v["failedAccounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(f["errorMessage"].is_string());
            (
                f["accountId"].as_str().unwrap(),
                f["errorCode"].as_str().unwrap(),
            )
        })
        .collect();
    // Not joined yet, not associated, not in the organisation.
    assert_eq!(
        failed,
        [
            ("555555555555", "RESOURCE_NOT_FOUND"),
            ("666666666666", "RESOURCE_NOT_FOUND"),
            (OUTSIDER, "RESOURCE_NOT_FOUND"),
        ]
    );
    let v = batch("AKIDADMIN", "us-east-1", vec![MEMBER]).await;
    assert_eq!(v["accounts"][0]["state"]["status"], "ENABLED");
    assert_eq!(
        v["accounts"][0]["resourceState"]["ec2"]["status"],
        "ENABLED"
    );

    // A member asking for another account is denied that account.
    let v = batch("AKIDMEMBER", "us-east-1", vec![MEMBER, ADMIN]).await;
    assert_eq!(v["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(v["accounts"][0]["accountId"], MEMBER);
    assert_eq!(v["failedAccounts"][0]["accountId"], ADMIN);
    assert_eq!(v["failedAccounts"][0]["errorCode"], "ACCESS_DENIED");

    // AccountIdSet holds at most 100.
    let too_many: Vec<String> = (0..101)
        .map(|i| format!("{:012}", 500_000_000_000u64 + i))
        .collect();
    let a = i2_as(
        &h,
        "AKIDADMIN",
        "us-east-1",
        "/status/batch/get",
        &json!({ "accountIds": too_many }),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "ValidationException");
}

#[tokio::test]
async fn list_coverage_spans_the_members_for_the_administrator() {
    let h = start(&org_scenario(0, &i2_tail())).await;
    let sweep = |akid: &'static str, filter: Option<Value>| {
        let h = &h;
        async move {
            let mut ids = Vec::new();
            let mut pages = 0;
            let mut token: Option<String> = None;
            loop {
                let mut body = json!({"maxResults": 100});
                if let Some(f) = &filter {
                    body["filterCriteria"] = f.clone();
                }
                if let Some(t) = &token {
                    body["nextToken"] = json!(t);
                }
                let a = i2_as(h, akid, "us-east-1", "/coverage/list", &body).await;
                assert_eq!(a.status, StatusCode::OK, "{}", a.text);
                let v = a.json();
                pages += 1;
                for r in v["coveredResources"].as_array().unwrap() {
                    ids.push(r["accountId"].as_str().unwrap().to_owned());
                }
                match v.get("nextToken") {
                    Some(t) => token = Some(t.as_str().unwrap().to_owned()),
                    None => return (ids, pages),
                }
            }
        }
    };
    // Its own 2, the management account's 250 and the member's 3: not the
    // joiner's (not joined), the unassociated member's or the outsider's.
    let (accounts, pages) = sweep("AKIDADMIN", None).await;
    assert_eq!(accounts.len(), 255);
    assert_eq!(pages, 3);
    let count = |id: &str| accounts.iter().filter(|a| *a == id).count();
    assert_eq!((count(ADMIN), count(MGMT), count(MEMBER)), (2, 250, 3));
    assert_eq!(accounts[0], ADMIN);

    let only = json!({"accountId": [{"comparison": "EQUALS", "value": MEMBER}]});
    let (accounts, pages) = sweep("AKIDADMIN", Some(only.clone())).await;
    assert_eq!((accounts.len(), pages), (3, 1));
    assert!(accounts.iter().all(|a| a == MEMBER));

    // A member sees only its own, filter or not.
    let (accounts, _) = sweep("AKIDMEMBER", None).await;
    assert_eq!(accounts, vec![MEMBER.to_owned(); 3]);
    let other = json!({"accountId": [{"comparison": "EQUALS", "value": MGMT}]});
    assert_eq!(sweep("AKIDMEMBER", Some(other)).await.0.len(), 0);
}

#[tokio::test]
async fn a_denied_assume_role_answers_access_denied_as_sts_xml() {
    let tail = "[[organization.account]]\nid = \"555555555555\"\ndeny_assume_role = true\n";
    let h = start(&org_scenario(0, tail)).await;
    let assume = |account: &'static str| {
        let h = &h;
        async move {
            sts(
                h,
                "AKIDADMIN",
                "us-east-1",
                &format!(
                    "Action=AssumeRole&Version=2011-06-15\
                     &RoleArn=arn%3Aaws%3Aiam%3A%3A{account}%3Arole%2Fblindspot-audit\
                     &RoleSessionName=blindspot"
                ),
            )
            .await
        }
    };
    let a = assume("555555555555").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.headers["content-type"].to_str().unwrap(), "text/xml");
    let request_id = xml_text(&a.text, "RequestId").unwrap();
    assert_eq!(
        a.text,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>AccessDenied</Code><Message>User: \
             arn:aws:iam::{ADMIN}:user/blindspot-sim-AKIDADMIN is not authorized to perform: \
             sts:AssumeRole on resource: arn:aws:iam::555555555555:role/blindspot-audit\
             </Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    );
    assert!(!request_id.is_empty());
    // Other accounts' roles are granted; the counts say who was asked.
    for _ in 0..2 {
        assert_eq!(assume(MEMBER).await.status, StatusCode::OK);
    }
    assert_eq!(h.credentials_issued(MEMBER), 2);
    assert_eq!(h.credentials_issued("555555555555"), 0);
    let counts: Vec<blindspot_sim::AssumeRoleCount> =
        reqwest::get(format!("{}/_sim/assume_role", h.endpoint()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        counts,
        [
            blindspot_sim::AssumeRoleCount {
                account: MEMBER.into(),
                issued: 2,
                denied: 0
            },
            blindspot_sim::AssumeRoleCount {
                account: "555555555555".into(),
                issued: 0,
                denied: 1
            },
        ]
    );
}

/// AssumeRole into the member's role as the administrator: (key, token,
/// expiration).
async fn assume_member(
    h: &blindspot_sim::SimHandle,
    duration: Option<u32>,
) -> (String, String, String) {
    let mut form = format!(
        "Action=AssumeRole&Version=2011-06-15\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A{MEMBER}%3Arole%2Faudit&RoleSessionName=blindspot"
    );
    if let Some(d) = duration {
        let _ = write!(form, "&DurationSeconds={d}");
    }
    let a = sts(h, "AKIDADMIN", "us-east-1", &form).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let text = |tag| xml_text(&a.text, tag).unwrap().to_owned();
    (
        text("AccessKeyId"),
        text("SessionToken"),
        text("Expiration"),
    )
}

fn expires_in(expiration: &str) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(expiration).unwrap();
    (t.with_timezone(&chrono::Utc) - chrono::Utc::now()).as_seconds_f64()
}

#[tokio::test]
async fn assumed_credentials_expire_after_the_configured_lifetime() {
    let h = start(&org_scenario(
        0,
        &format!("{}\n[sts]\ncredential_lifetime = \"2s\"\n", i2_tail()),
    ))
    .await;
    let (key, token, expiration) = assume_member(&h, Some(900)).await;
    assert_eq!(key, format!("ASIA{MEMBER}SIMR"));
    // The configured lifetime wins over DurationSeconds, whole seconds.
    let left = expires_in(&expiration);
    assert!((0.0..=2.0).contains(&left), "{left} s left");
    let as_member = |service: &'static str| Signed {
        akid: &key,
        token: Some(&token),
        region: "us-east-1",
        service,
    };
    let a = as_member("inspector2")
        .rest(&h, "/coverage/list", &json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["coveredResources"].as_array().unwrap().len(), 3);

    tokio::time::sleep(Duration::from_secs_f64(left.max(0.0) + 0.2)).await;
    let a = as_member("inspector2")
        .rest(&h, "/coverage/list", &json!({}))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "ExpiredTokenException");
    assert_eq!(
        a.json()["message"],
        "The security token included in the request is expired"
    );
    let a = as_member("ssm")
        .json(&h, "AmazonSSM.ListAssociations", &json!({}))
        .await;
    assert_eq!(a.json()["__type"], "ExpiredTokenException");
    let a = as_member("sts")
        .query(&h, "Action=GetCallerIdentity&Version=2011-06-15")
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(xml_text(&a.text, "Code"), Some("ExpiredToken"));
    // A fresh session works again; its count shows the refresh.
    let (key, token, _) = assume_member(&h, None).await;
    let a = Signed {
        akid: &key,
        token: Some(&token),
        region: "us-east-1",
        service: "inspector2",
    }
    .rest(&h, "/coverage/list", &json!({}))
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(h.credentials_issued(MEMBER), 2);
}

#[tokio::test]
async fn without_a_lifetime_credentials_live_as_long_as_requested() {
    let h = start(&org_scenario(0, "")).await;
    let (_, token, expiration) = assume_member(&h, Some(900)).await;
    let left = expires_in(&expiration);
    assert!((895.0..=900.0).contains(&left), "{left}");
    let (_, _, expiration) = assume_member(&h, None).await;
    let left = expires_in(&expiration);
    assert!((3595.0..=3600.0).contains(&left), "{left}");
    // The session token names the account and its expiry.
    assert!(
        token.starts_with(&format!("blindspot-sim-session.{MEMBER}.")),
        "{token}"
    );
}
