//! Wire-level tests of SSM and Inspector2 against the demo scenario and
//! generated fleets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_sim::generate::{fleet, FleetSpec};
use blindspot_sim::{Faults, Scenario, SimServer};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn demo() -> blindspot_sim::SimHandle {
    SimServer::start(Scenario::embedded_demo()).await.unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v["Associations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AssociationName"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn ssm_associations_per_region() {
    let h = demo().await;
    let a = ssm(&h, "us-east-1", "ListAssociations", &json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let v = a.json();
    assert_eq!(
        names(&v),
        vec![
            "InspectorInventoryCollection-do-not-delete",
            "InspectorDistributor-do-not-delete",
            "InvokeInspectorSsmPlugin-do-not-delete"
        ]
    );
    let inv = &v["Associations"][0];
    assert_eq!(inv["Name"], "AWS-GatherSoftwareInventory");
    assert_eq!(inv["ScheduleExpression"], "rate(30 minutes)");
    assert_eq!(inv["Overview"]["Status"], "Success");
    assert_eq!(
        inv["Overview"]["AssociationStatusAggregatedCount"],
        json!({"Success": 5})
    );
    assert_eq!(
        inv["Targets"],
        json!([{"Key": "InstanceIds", "Values": ["*"]}])
    );
    assert!(inv["LastExecutionDate"].is_f64());

    // eu-west-1: a user's 12-hour inventory replaced Inspector's.
    let v = ssm(
        &h,
        "eu-west-1",
        "ListAssociations",
        &json!({"AssociationFilterList": [{"key": "Name", "value": "AWS-GatherSoftwareInventory"}]}),
    )
    .await
    .json();
    assert_eq!(names(&v), vec!["nightly-inventory"]);
    assert_eq!(v["Associations"][0]["ScheduleExpression"], "rate(12 hours)");

    // ap-southeast-2: two inventory associations.
    let v = ssm(
        &h,
        "ap-southeast-2",
        "ListAssociations",
        &json!({"AssociationFilterList": [{"key": "Name", "value": "AWS-GatherSoftwareInventory"}]}),
    )
    .await
    .json();
    assert_eq!(names(&v).len(), 2);

    let v = ssm(
        &h,
        "eu-west-1",
        "ListAssociations",
        &json!({"AssociationFilterList": [{"key": "AssociationStatusName", "value": "Failed"}]}),
    )
    .await
    .json();
    assert_eq!(names(&v), vec!["InvokeInspectorSsmPlugin-do-not-delete"]);

    let a = ssm(
        &h,
        "eu-west-1",
        "ListAssociations",
        &json!({"AssociationFilterList": [{"key": "Nmae", "value": "x"}]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["__type"], "ValidationException");
    let a = ssm(
        &h,
        "eu-west-1",
        "ListAssociations",
        &json!({"MaxResults": 51}),
    )
    .await;
    assert_eq!(a.json()["__type"], "ValidationException");
    assert!(a.json()["Message"].is_string());
    let a = ssm(
        &h,
        "eu-west-1",
        "ListAssociations",
        &json!({"NextToken": "nope"}),
    )
    .await;
    assert_eq!(a.json()["__type"], "InvalidNextToken");
}

#[tokio::test]
async fn ssm_describe_association_and_executions() {
    let h = demo().await;
    let id = "d1a7f4c2-0002-4a00-a000-000000000003";
    let v = ssm(
        &h,
        "eu-west-1",
        "DescribeAssociation",
        &json!({"AssociationId": id}),
    )
    .await
    .json();
    let d = &v["AssociationDescription"];
    assert_eq!(d["AssociationId"], id);
    assert_eq!(d["Name"], "AmazonInspector2-InvokeInspectorSsmPlugin");
    assert_eq!(d["Status"]["Name"], "Failed");
    assert!(d["Status"]["Date"].is_f64() && d["Status"]["Message"].is_string());
    assert_eq!(d["Overview"]["DetailedStatus"], "Failed");
    assert!(
        d["LastSuccessfulExecutionDate"].as_f64().unwrap()
            < d["LastExecutionDate"].as_f64().unwrap()
    );

    let v = ssm(
        &h,
        "eu-west-1",
        "DescribeAssociation",
        &json!({"Name": "AWS-GatherSoftwareInventory", "InstanceId": "i-0e1e2e3e4e5e60001"}),
    )
    .await
    .json();
    assert_eq!(
        v["AssociationDescription"]["AssociationName"],
        "nightly-inventory"
    );

    // Association IDs are per region.
    let a = ssm(
        &h,
        "us-east-1",
        "DescribeAssociation",
        &json!({"AssociationId": id}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "AssociationDoesNotExist");

    // Executions newest first, paged.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"AssociationId": id, "MaxResults": 2});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let v = ssm(&h, "eu-west-1", "DescribeAssociationExecutions", &body)
            .await
            .json();
        for e in v["AssociationExecutions"].as_array().unwrap() {
            seen.push((
                e["CreatedTime"].as_f64().unwrap(),
                e["Status"].as_str().unwrap().to_string(),
            ));
            assert!(e["ExecutionId"].is_string());
            assert!(e["ResourceCountByStatus"].is_string());
        }
        match v.get("NextToken") {
            Some(Value::String(t)) => token = Some(t.clone()),
            _ => break,
        }
    }
    assert_eq!(seen.len(), 3);
    assert!(seen.windows(2).all(|w| w[0].0 > w[1].0));
    assert_eq!(seen[0].1, "Failed");
    assert_eq!(seen[2].1, "Success");

    let a = ssm(
        &h,
        "eu-west-1",
        "DescribeAssociationExecutions",
        &json!({"AssociationId": "00000000-0000-0000-0000-000000000000"}),
    )
    .await;
    assert_eq!(a.json()["__type"], "AssociationDoesNotExist");
}

#[tokio::test]
async fn ssm_instances_page_with_ec2_compatible_limits() {
    let spec = FleetSpec {
        regions: vec!["us-east-1".into()],
        instances_per_region: 37,
        coverage_reasons: vec![("SUCCESSFUL".into(), 1)],
        ..FleetSpec::default()
    };
    let h = SimServer::start(fleet(&spec)).await.unwrap();
    let mut sizes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let v = aws_json(
            &h,
            "ssm",
            "us-east-1",
            "AKIDGEN0",
            "AmazonSSM.DescribeInstanceInformation",
            &body,
        )
        .await
        .json();
        sizes.push(v["InstanceInformationList"].as_array().unwrap().len());
        match v.get("NextToken") {
            Some(Value::String(t)) => token = Some(t.clone()),
            _ => break,
        }
    }
    assert_eq!(sizes, vec![10, 10, 10, 7]);
    for bad in [4, 51] {
        let a = ssm(
            &h,
            "us-east-1",
            "DescribeInstanceInformation",
            &json!({"MaxResults": bad}),
        )
        .await;
        assert_eq!(a.json()["__type"], "ValidationException", "{bad}");
    }
    let v = ssm(
        &h,
        "us-east-1",
        "DescribeInstanceInformation",
        &json!({"MaxResults": 50, "Filters": [{"Key": "PlatformTypes", "Values": ["Windows"]}]}),
    )
    .await
    .json();
    let list = v["InstanceInformationList"].as_array().unwrap();
    assert!(!list.is_empty() && list.len() < 37);
    assert!(list.iter().all(|i| i["PlatformType"] == "Windows"));
    let a = ssm(
        &h,
        "us-east-1",
        "DescribeInstanceInformation",
        &json!({"InstanceInformationFilterList": [{"key": "Colour", "valueSet": ["x"]}]}),
    )
    .await;
    assert_eq!(a.json()["__type"], "InvalidFilterKey");
}

#[tokio::test]
async fn inspector2_account_status_and_configuration() {
    let h = demo().await;
    let a = i2(&h, "us-east-1", "/status/batch/get", &json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.headers["content-type"].to_str().unwrap(),
        "application/json"
    );
    let v = a.json();
    let acct = &v["accounts"][0];
    assert_eq!(acct["accountId"], "123456789012");
    assert_eq!(acct["state"]["status"], "ENABLED");
    for rt in ["ec2", "ecr", "lambda", "lambdaCode"] {
        let s = &acct["resourceState"][rt];
        assert!(
            s["status"].is_string() && s["errorCode"].is_string() && s["errorMessage"].is_string(),
            "{rt}"
        );
    }

    let v = i2(
        &h,
        "ap-southeast-2",
        "/status/batch/get",
        &json!({"accountIds": ["123456789012", "999999999999"]}),
    )
    .await
    .json();
    assert_eq!(
        v["accounts"][0]["resourceState"]["ec2"]["status"],
        "DISABLED"
    );
    assert_eq!(
        v["accounts"][0]["resourceState"]["ecr"]["status"],
        "ENABLED"
    );
    assert_eq!(v["failedAccounts"][0]["accountId"], "999999999999");
    assert!(v["failedAccounts"][0]["errorCode"].is_string());

    // Error codes can be scripted per state.
    let custom = r#"
[[region]]
region = "us-east-1"
[region.inspector2]
status = "ENABLED"
ec2 = "ENABLING"
error_codes = { ec2 = "SSM_UNAVAILABLE" }
"#;
    let h2 = start(custom).await;
    let v = i2(&h2, "us-east-1", "/status/batch/get", &json!({}))
        .await
        .json();
    assert_eq!(v["accounts"][0]["state"]["errorCode"], "ALREADY_ENABLED");
    let ec2 = &v["accounts"][0]["resourceState"]["ec2"];
    assert_eq!(
        (ec2["status"].as_str(), ec2["errorCode"].as_str()),
        (Some("ENABLING"), Some("SSM_UNAVAILABLE"))
    );
    let bad = custom.replace("SSM_UNAVAILABLE", "SSM_SLEEPY");
    assert!(Scenario::from_toml_str(&bad)
        .unwrap_err()
        .to_string()
        .contains("SSM_SLEEPY"));

    // The member account, known to the scenario, has nothing in eu-west-1.
    let v = i2(
        &h,
        "eu-west-1",
        "/status/batch/get",
        &json!({"accountIds": ["210987654321"]}),
    )
    .await
    .json();
    assert_eq!(v["accounts"][0]["state"]["status"], "DISABLED");

    let v = i2(&h, "eu-west-1", "/configuration/get", &json!({}))
        .await
        .json();
    assert_eq!(
        v["ec2Configuration"]["scanModeState"],
        json!({"scanMode": "EC2_HYBRID", "scanModeStatus": "SUCCESS"})
    );
    let a = i2(&h, "sa-east-1", "/configuration/get", &json!({})).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.error_type(), "ResourceNotFoundException");

    let a = i2(&h, "us-east-1", "/findings/list", &json!({})).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.error_type(), "UnknownOperationException");
}

#[tokio::test]
async fn inspector2_coverage_filters() {
    let h = demo().await;
    let v = i2(&h, "us-east-1", "/coverage/list", &json!({}))
        .await
        .json();
    let all = v["coveredResources"].as_array().unwrap();
    assert_eq!(all.len(), 7);
    let first = &all[0];
    assert_eq!(first["resourceType"], "AWS_EC2_INSTANCE");
    assert_eq!(first["accountId"], "123456789012");
    assert_eq!(first["scanType"], "PACKAGE");
    assert_eq!(
        first["scanStatus"],
        json!({"statusCode": "ACTIVE", "reason": "SUCCESSFUL"})
    );
    assert_eq!(
        first["resourceMetadata"]["ec2"]["amiId"],
        "ami-0abcdef1234567890"
    );
    assert_eq!(first["resourceMetadata"]["ec2"]["tags"]["Env"], "prod");
    assert_eq!(first["resourceMetadata"]["ec2"]["platform"], "LINUX");
    assert_eq!(first["scanMode"], "EC2_SSM_AGENT_BASED");
    assert!(first["lastScannedAt"].is_f64());

    let v = i2(
        &h,
        "us-east-1",
        "/coverage/list",
        &json!({"filterCriteria": {"scanStatusCode": [{"comparison": "EQUALS", "value": "INACTIVE"}]}}),
    )
    .await
    .json();
    let reasons: Vec<&str> = v["coveredResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scanStatus"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "UNSUPPORTED_OS",
            "UNMANAGED_EC2_INSTANCE",
            "EXCLUDED_BY_TAG",
            "EC2_INSTANCE_STOPPED"
        ]
    );
    let v = i2(
        &h,
        "us-east-1",
        "/coverage/list",
        &json!({"filterCriteria": {
            "scanStatusReason": [
                {"comparison": "NOT_EQUALS", "value": "SUCCESSFUL"},
                {"comparison": "NOT_EQUALS", "value": "UNSUPPORTED_OS"}
            ],
            "resourceType": [{"comparison": "EQUALS", "value": "AWS_EC2_INSTANCE"}],
            "resourceId": [
                {"comparison": "EQUALS", "value": "i-0a1b2c3d4e5f60006"},
                {"comparison": "EQUALS", "value": "i-0a1b2c3d4e5f60002"}
            ]
        }}),
    )
    .await
    .json();
    assert_eq!(v["coveredResources"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["coveredResources"][0]["resourceId"],
        "i-0a1b2c3d4e5f60006"
    );

    // The member account sees its own coverage.
    let v = i2_as(
        &h,
        "AKIDDEMOMEMBER",
        "us-east-1",
        "/coverage/list",
        &json!({}),
    )
    .await
    .json();
    assert_eq!(v["coveredResources"][0]["accountId"], "210987654321");

    let a = i2(
        &h,
        "us-east-1",
        "/coverage/list",
        &json!({"filterCriteria": {"scanStatusCode": [{"comparison": "PREFIX", "value": "A"}]}}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "ValidationException");
    assert!(a.json()["reason"].is_string());
    let a = i2(
        &h,
        "us-east-1",
        "/coverage/list",
        &json!({"maxResults": 201}),
    )
    .await;
    assert_eq!(a.json()["reason"], "FIELD_VALIDATION_FAILED");
    let a = i2(
        &h,
        "us-east-1",
        "/coverage/list",
        &json!({"nextToken": "abc"}),
    )
    .await;
    assert_eq!(a.error_type(), "ValidationException");
}

#[tokio::test]
async fn inspector2_faults_use_rest_status_codes() {
    let h = demo().await;
    let mut throttle = std::collections::BTreeMap::new();
    throttle.insert("ListCoverage".to_string(), 1);
    h.set_faults(Faults {
        throttle_first_n: throttle,
        access_denied: vec![blindspot_sim::AccessDenied {
            operation: Some("BatchGetAccountStatus".into()),
            ..Default::default()
        }],
        ..Faults::default()
    });
    let a = i2(&h, "us-east-1", "/coverage/list", &json!({})).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.error_type(), "ThrottlingException");
    assert!(a.json()["message"].is_string());
    assert_eq!(
        i2(&h, "us-east-1", "/coverage/list", &json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let a = i2(&h, "us-east-1", "/status/batch/get", &json!({})).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.error_type(), "AccessDeniedException");
    h.set_faults(Faults {
        server_error_probability: 1.0,
        ..Faults::default()
    });
    let a = i2(&h, "us-east-1", "/configuration/get", &json!({})).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.error_type(), "InternalServerException");
    let a = ssm(&h, "us-east-1", "ListAssociations", &json!({})).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.error_type(), "InternalServerError");
}

#[tokio::test]
async fn hundred_thousand_coverage_pages_of_200() {
    let spec = FleetSpec {
        regions: vec!["us-east-1".into()],
        instances_per_region: 100_000,
        ..FleetSpec::default()
    };
    let scenario = fleet(&spec);
    let inactive = scenario.regions[0]
        .coverage
        .iter()
        .filter(|c| c.status_code.as_deref() == Some("INACTIVE"))
        .count();
    let h = SimServer::start(scenario).await.unwrap();
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let mut total = 0;
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"maxResults": 200});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let v: Value = client
            .post(format!("{}/coverage/list", h.endpoint()))
            .header("content-type", "application/json")
            .header("authorization", auth("AKIDGEN0", "us-east-1", "inspector2"))
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = v["coveredResources"].as_array().unwrap().len();
        assert!(n == 200 || v.get("nextToken").is_none());
        total += n;
        pages += 1;
        match v.get("nextToken") {
            Some(Value::String(t)) => token = Some(t.clone()),
            _ => break,
        }
    }
    assert_eq!(total, 100_000);
    assert_eq!(pages, 500);
    eprintln!("ListCoverage: 500 pages of 200 in {:?}", started.elapsed());

    // A filtered listing resumes where it left off.
    let mut filtered = 0;
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"maxResults": 200, "filterCriteria": {"scanStatusCode": [{"comparison": "EQUALS", "value": "INACTIVE"}]}});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let v = i2_as(&h, "AKIDGEN0", "us-east-1", "/coverage/list", &body)
            .await
            .json();
        filtered += v["coveredResources"].as_array().unwrap().len();
        match v.get("nextToken") {
            Some(Value::String(t)) => token = Some(t.clone()),
            _ => break,
        }
    }
    assert_eq!(filtered, inactive);
}
