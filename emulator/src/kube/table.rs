//! `Table` responses, which kubectl asks for to print `kubectl get` (`Accept:
//! application/json;as=Table;v=v1;g=meta.k8s.io`): a few columns per common kind, and Name and
//! Age for every kind.

use serde_json::{json, Value as Json};

use super::kinds::Kind;
use super::objects::meta_str;

/// Whether the client asked for a Table.
pub(crate) fn wanted(accept: &str) -> bool {
    accept.contains("as=Table")
}

/// `5s`, `3m`, `2h`, `4d`: how long ago `created` (RFC 3339) was.
fn age(created: &str, now: f64) -> String {
    let Ok(t) =
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
    else {
        return "<unknown>".to_string();
    };
    let seconds = (now - t.unix_timestamp() as f64).max(0.0) as u64;
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn text(v: &Json, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn count(v: &Json, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Json::as_i64).unwrap_or(0)
}

fn ports(service: &Json) -> String {
    let ports = service
        .pointer("/spec/ports")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    if ports.is_empty() {
        return "<none>".to_string();
    }
    ports
        .iter()
        .map(|p| match p["nodePort"].as_i64() {
            Some(node) => format!("{}:{node}/{}", text(p, "/port"), text(p, "/protocol")),
            None => format!("{}/{}", text(p, "/port"), text(p, "/protocol")),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The extra columns of a kind: (name, cell of an object).
type Column = (&'static str, fn(&Json) -> Json);

fn columns(kind: &Kind) -> Vec<Column> {
    match (kind.group.as_str(), kind.plural.as_str()) {
        ("", "pods") => vec![
            ("Ready", |p| {
                let statuses = p
                    .pointer("/status/containerStatuses")
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default();
                let total = p
                    .pointer("/spec/containers")
                    .and_then(Json::as_array)
                    .map_or(0, Vec::len);
                let ready = statuses
                    .iter()
                    .filter(|s| s["ready"] == json!(true))
                    .count();
                json!(format!("{ready}/{total}"))
            }),
            ("Status", |p| json!(text(p, "/status/phase"))),
            ("Restarts", |_| json!(0)),
        ],
        ("apps", "deployments") => vec![
            ("Ready", |d| {
                json!(format!(
                    "{}/{}",
                    count(d, "/status/readyReplicas"),
                    count(d, "/spec/replicas")
                ))
            }),
            ("Up-to-date", |d| json!(count(d, "/status/updatedReplicas"))),
            ("Available", |d| {
                json!(count(d, "/status/availableReplicas"))
            }),
        ],
        ("", "services") => vec![
            ("Type", |s| json!(text(s, "/spec/type"))),
            ("Cluster-IP", |s| json!(text(s, "/spec/clusterIP"))),
            ("External-IP", |s| {
                let ip = text(s, "/status/loadBalancer/ingress/0/ip");
                match (ip.is_empty(), text(s, "/spec/type").as_str()) {
                    (false, _) => json!(ip),
                    (true, "LoadBalancer") => json!("<pending>"),
                    _ => json!("<none>"),
                }
            }),
            ("Port(s)", |s| json!(ports(s))),
        ],
        ("", "namespaces") => vec![("Status", |n| json!(text(n, "/status/phase")))],
        ("", "secrets") => vec![
            ("Type", |s| json!(text(s, "/type"))),
            ("Data", |s| {
                json!(s
                    .get("data")
                    .and_then(Json::as_object)
                    .map_or(0, |d| d.len()))
            }),
        ],
        ("", "configmaps") => vec![("Data", |c| {
            let n = |f: &str| c.get(f).and_then(Json::as_object).map_or(0, |d| d.len());
            json!(n("data") + n("binaryData"))
        })],
        _ => Vec::new(),
    }
}

/// A Table of `objects` (already presented at `kind`'s version).
pub(crate) fn render(kind: &Kind, objects: &[Json], revision: &str, now: f64) -> Json {
    let extra = columns(kind);
    let mut definitions = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for (name, _) in &extra {
        definitions.push(
            json!({"name": name, "type": "string", "format": "", "description": "", "priority": 0}),
        );
    }
    definitions.push(json!({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp", "priority": 0}));
    let rows: Vec<Json> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![json!(meta_str(o, "name"))];
            cells.extend(extra.iter().map(|(_, cell)| cell(o)));
            cells.push(json!(age(meta_str(o, "creationTimestamp"), now)));
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": revision},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::super::kinds::builtin;
    use super::*;

    #[test]
    fn tables_have_name_kind_columns_and_age() {
        let svc = builtin("", "services").unwrap();
        let o = json!({"metadata": {"name": "web", "creationTimestamp": "1970-01-01T00:00:00Z"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.5", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30000}]}});
        let t = render(&svc, &[o], "7", 90.0);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "web",
                "LoadBalancer",
                "10.0.0.5",
                "<pending>",
                "80:30000/TCP",
                "90s"
            ])
        );
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 6);
        assert!(wanted(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
    }
}
