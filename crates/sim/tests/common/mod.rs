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

/// A call signed as the SDK signs with temporary credentials: the session
/// token in `X-Amz-Security-Token`. `target` makes it awsJson1_1, `form` an
/// awsQuery (STS) call; otherwise restJson1 `POST path`.
pub struct Signed<'a> {
    pub akid: &'a str,
    pub token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
}

impl Signed<'_> {
    async fn send(
        &self,
        h: &SimHandle,
        path: &str,
        content_type: &str,
        target: Option<&str>,
        body: String,
    ) -> Answer {
        let mut req = reqwest::Client::new()
            .post(format!("{}{path}", h.endpoint()))
            .header("content-type", content_type)
            .header("authorization", auth(self.akid, self.region, self.service));
        if let Some(t) = target {
            req = req.header("x-amz-target", t);
        }
        if let Some(t) = self.token {
            req = req.header("x-amz-security-token", t);
        }
        finish(req.body(body).send().await.unwrap()).await
    }

    /// awsJson1_1 with `X-Amz-Target: target`.
    pub async fn json(&self, h: &SimHandle, target: &str, body: &Value) -> Answer {
        self.send(
            h,
            "/",
            "application/x-amz-json-1.1",
            Some(target),
            body.to_string(),
        )
        .await
    }

    /// restJson1 `POST path`.
    pub async fn rest(&self, h: &SimHandle, path: &str, body: &Value) -> Answer {
        self.send(h, path, "application/json", None, body.to_string())
            .await
    }

    /// awsQuery with a form body.
    pub async fn query(&self, h: &SimHandle, form: &str) -> Answer {
        self.send(
            h,
            "/",
            "application/x-www-form-urlencoded",
            None,
            form.to_string(),
        )
        .await
    }
}

/// Organizations `op` (awsJson1_1) signed with `akid` in us-east-1.
pub async fn organizations(h: &SimHandle, akid: &str, op: &str, body: &Value) -> Answer {
    aws_json(
        h,
        "organizations",
        "us-east-1",
        akid,
        &format!("AWSOrganizationsV20161128.{op}"),
        body,
    )
    .await
}

/// The text of the first `<tag>…</tag>` in an XML answer.
pub fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + end])
}
