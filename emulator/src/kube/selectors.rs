//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and field selectors
//! (`=`, `==`, `!=` on a dotted path such as `metadata.name`, `status.phase`).

use serde_json::Value as Json;

use super::objects::meta;

/// One label requirement.
#[derive(Debug, Clone, PartialEq)]
enum LabelReq {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct LabelSelector(Vec<LabelReq>);

/// Split at commas outside parentheses.
fn requirements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn set_values(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn parse_requirement(text: &str) -> Result<LabelReq, String> {
    let bad = || format!("unable to parse requirement: {text:?}");
    if let Some(key) = text.strip_prefix('!') {
        let key = key.trim();
        return valid_key(key)
            .then(|| LabelReq::NotExists(key.to_string()))
            .ok_or_else(bad);
    }
    for (op, ctor) in [
        ("!=", LabelReq::NotEquals as fn(String, String) -> LabelReq),
        ("==", LabelReq::Equals),
        ("=", LabelReq::Equals),
    ] {
        if let Some((k, v)) = text.split_once(op) {
            let k = k.trim();
            return valid_key(k)
                .then(|| ctor(k.to_string(), v.trim().to_string()))
                .ok_or_else(bad);
        }
    }
    let words: Vec<&str> = text.splitn(3, char::is_whitespace).collect();
    match words.as_slice() {
        [key] if valid_key(key) => Ok(LabelReq::Exists(key.to_string())),
        [key, op, values] if valid_key(key) => {
            let values = set_values(values).ok_or_else(bad)?;
            match *op {
                "in" => Ok(LabelReq::In(key.to_string(), values)),
                "notin" => Ok(LabelReq::NotIn(key.to_string(), values)),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

impl LabelSelector {
    /// Parse `text`; the error names the requirement that does not parse.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        requirements(text)
            .iter()
            .map(|r| parse_requirement(r))
            .collect::<Result<Vec<_>, _>>()
            .map(LabelSelector)
    }

    /// Whether the labels of `object` satisfy it.
    pub fn matches(&self, object: &Json) -> bool {
        let labels = meta(object, "labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Json::as_str);
        self.0.iter().all(|req| match req {
            LabelReq::Equals(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEquals(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|l| !vs.iter().any(|v| v == l)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// Whether `object` carries every label of a `matchLabels`-style map.
pub(crate) fn has_labels(object: &Json, wanted: &Json) -> bool {
    let Some(wanted) = wanted.as_object() else {
        return false;
    };
    let labels = meta(object, "labels");
    wanted
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// A parsed field selector: every `path op value` must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FieldSelector(Vec<(Vec<String>, bool, String)>);

impl FieldSelector {
    /// Parse `text` (`metadata.name=x,metadata.namespace!=y`).
    pub fn parse(text: &str) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, equal, value) = if let Some((p, v)) = part.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = part.split_once("==") {
                (p, true, v)
            } else if let Some((p, v)) = part.split_once('=') {
                (p, true, v)
            } else {
                return Err(format!("invalid selector: '{part}'; can't understand it"));
            };
            let path: Vec<String> = path.trim().split('.').map(str::to_string).collect();
            if path.iter().any(String::is_empty) {
                return Err(format!("invalid field selector: '{part}'"));
            }
            reqs.push((path, equal, value.trim().to_string()));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether `object` satisfies it (a missing field reads as "").
    pub fn matches(&self, object: &Json) -> bool {
        self.0.iter().all(|(path, equal, value)| {
            let mut node = Some(object);
            for step in path {
                node = node.and_then(|n| n.get(step));
            }
            let actual = match node {
                None | Some(Json::Null) => String::new(),
                Some(Json::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(labels: Json) -> Json {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}, "status": {"phase": "Running"}})
    }

    #[test]
    fn label_selectors() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        let yes = [
            "app=web",
            "app==web",
            "app!=db",
            "tier in (front, back)",
            "tier notin (back)",
            "app",
            "!missing",
            "app=web,tier in (front,back),!x",
            "",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&o), "{s}");
        }
        let no = [
            "app=db",
            "app!=web",
            "tier in (back)",
            "tier notin (front)",
            "missing",
            "!app",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(&o), "{s}");
        }
        assert!(LabelSelector::parse("tier in front").is_err());
        assert!(LabelSelector::parse("a b").is_err());
    }

    #[test]
    fn field_selectors() {
        let o = obj(json!({}));
        for s in [
            "metadata.name=a",
            "metadata.namespace==ns",
            "metadata.name!=b",
            "status.phase=Running",
            "spec.nodeName=",
        ] {
            assert!(FieldSelector::parse(s).unwrap().matches(&o), "{s}");
        }
        assert!(!FieldSelector::parse("metadata.name=b").unwrap().matches(&o));
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
