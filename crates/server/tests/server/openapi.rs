//! Keeps `docs/openapi.json` true: every route is documented and every
//! documented operation is routed, with the statuses it really answers.

use crate::support::*;
use axum::http::Method;
use std::collections::BTreeSet;

fn document() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

fn documented_operations(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (key, _) in item.as_object().unwrap() {
            assert!(
                METHODS.contains(&key.as_str()),
                "unexpected key {key} under {path}"
            );
            ops.insert((key.to_uppercase(), path.clone()));
        }
    }
    ops
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_route_is_documented_and_vice_versa() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let routed: BTreeSet<(String, String)> = blindspot_server::route_table()
        .iter()
        .flat_map(|r| {
            r.methods
                .iter()
                .map(|m| ((*m).to_owned(), r.path.to_owned()))
        })
        .collect();
    assert_eq!(routed, documented_operations(&doc));
}

#[test]
fn every_reference_resolves_and_path_parameters_are_declared() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        let pointer = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "dangling {r}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        let wanted: BTreeSet<&str> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            let p = match p.get("$ref") {
                                Some(r) => doc
                                    .pointer(r.as_str().unwrap().strip_prefix('#').unwrap())
                                    .unwrap(),
                                None => p,
                            };
                            p.clone()
                        })
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            let wanted: BTreeSet<String> = wanted.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(declared, wanted, "{method} {path}");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        }
    }
}

#[tokio::test]
async fn every_documented_operation_answers_a_documented_status() {
    let doc = document();
    let fx = fixture().with_token();
    let bearer = format!("Bearer {TOKEN}");
    for (method, path) in documented_operations(&doc) {
        let uri = path.replace("{id}", "inspector-exclusions");
        let method_value: Method = method.parse().unwrap();
        let reply = request(
            fx.app(),
            method_value,
            &uri,
            &[("authorization", &bearer)],
            Vec::new(),
        )
        .await;
        let status = reply.status.as_u16().to_string();
        assert_ne!(reply.status, 405, "{method} {path} is routed");
        if reply.status == 404 {
            let (_, message) = reply.error();
            assert!(
                !message.starts_with("no such endpoint"),
                "{method} {path} is routed"
            );
        }
        let responses = &doc["paths"][&path][method.to_lowercase()]["responses"];
        assert!(
            responses.get(&status).is_some(),
            "{method} {path} answered {status}, which is not documented"
        );
    }
}
