//! Helpers that send exactly what aws-sdk-rust puts on the wire.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use blindspot_sim::{Scenario, SimHandle, SimServer};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    pub fn error_type(&self) -> String {
        self.headers
            .get("x-amzn-ErrorType")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

pub async fn start(toml: &str) -> SimHandle {
    SimServer::start(Scenario::from_toml_str(toml).unwrap())
        .await
        .unwrap()
}

pub fn auth(akid: &str, region: &str, service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={akid}/20261122/{region}/{service}/aws4_request, SignedHeaders=amz-sdk-request;content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef"
    )
}

async fn finish(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Answer {
        status,
        headers,
        text,
    }
}

/// An awsJson1_1 call (Inspector classic or SSM).
pub async fn aws_json(
    h: &SimHandle,
    service: &str,
    region: &str,
    akid: &str,
    target: &str,
    body: &Value,
) -> Answer {
    aws_json_raw(h, service, region, akid, target, body.to_string()).await
}

pub async fn aws_json_raw(
    h: &SimHandle,
    service: &str,
    region: &str,
    akid: &str,
    target: &str,
    body: String,
) -> Answer {
    let resp = reqwest::Client::new()
        .post(format!("{}/", h.endpoint()))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header("amz-sdk-request", "attempt=1; max=3")
        .header("authorization", auth(akid, region, service))
        .body(body)
        .send()
        .await
        .unwrap();
    finish(resp).await
}

pub async fn classic(h: &SimHandle, region: &str, op: &str, body: &Value) -> Answer {
    aws_json(
        h,
        "inspector",
        region,
        "AKIDTEST",
        &format!("InspectorService.{op}"),
        body,
    )
    .await
}

pub async fn ssm(h: &SimHandle, region: &str, op: &str, body: &Value) -> Answer {
    aws_json(
        h,
        "ssm",
        region,
        "AKIDTEST",
        &format!("AmazonSSM.{op}"),
        body,
    )
    .await
}

/// A restJson1 call (Inspector2).
pub async fn i2_as(h: &SimHandle, akid: &str, region: &str, path: &str, body: &Value) -> Answer {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", h.endpoint()))
        .header("content-type", "application/json")
        .header("amz-sdk-request", "attempt=1; max=3")
        .header("authorization", auth(akid, region, "inspector2"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    finish(resp).await
}

pub async fn i2(h: &SimHandle, region: &str, path: &str, body: &Value) -> Answer {
    i2_as(h, "AKIDTEST", region, path, body).await
}

/// An awsQuery call (STS).
pub async fn sts(h: &SimHandle, akid: &str, region: &str, form: &str) -> Answer {
    let resp = reqwest::Client::new()
        .post(format!("{}/", h.endpoint()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", auth(akid, region, "sts"))
        .body(form.to_string())
        .send()
        .await
        .unwrap();
    finish(resp).await
}

/// STS `GetCallerIdentity` signed with `akid`.
pub async fn caller_identity(h: &SimHandle, akid: &str, region: &str) -> Answer {
    sts(
        h,
        akid,
        region,
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await
}

/// Replaces the simulator's faults with one access-denied rule.
pub fn deny(h: &SimHandle, rule: blindspot_sim::AccessDenied) {
    h.set_faults(blindspot_sim::Faults {
        access_denied: vec![rule],
        ..blindspot_sim::Faults::default()
    });
}
