//! The state document: a versioned JSON snapshot of every resource instance.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::StateError;
use crate::journal::JournalEntry;

/// The state file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The version of mesh recorded in state files and locks (informative).
pub const WRITER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A whole state snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDocument {
    /// The file format version, [`FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// Incremented by the caller on every save that changes the state.
    pub serial: u64,
    /// A UUID (v4) set once when the state is first created; a different
    /// lineage means a different state, not a newer one.
    pub lineage: String,
    /// The version of mesh that wrote this snapshot (informative).
    pub mesh_version: String,
    /// Root module outputs by name.
    pub outputs: BTreeMap<String, OutputState>,
    /// Every resource instance object, in canonical order: sorted by
    /// address, the current object before the deposed ones, deposed ones by
    /// key. Decoding, [`upsert`](Self::upsert), the removals and the address
    /// edits keep that order, and the lookups rely on it (binary search); code
    /// that pushes to or renames in this list directly must call
    /// [`sort`](Self::sort) (or [`normalize`](Self::normalize)) afterwards.
    pub resources: Vec<ResourceInstanceState>,
    /// Operations that started and have not finished: written before mesh asks a provider to
    /// create, update or delete, cleared by the outcome (an upsert or removal of the same
    /// address). What is left here after a crash is looked up by the next command, which
    /// adopts what exists. Sorted by address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingOperation>,
}

/// An operation in flight: what mesh was about to do, with the object's identity (its
/// planned attributes carry the ARM ID or Kubernetes reference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// `create`, `update` or `delete`.
    pub operation: PendingKind,
    /// For create and update, the planned object; for delete, the object being deleted. Its
    /// `address` (and `deposed` key) name the instance.
    pub instance: ResourceInstanceState,
}

/// What a pending operation was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// Creating the object.
    Create,
    /// Updating it in place.
    Update,
    /// Deleting it.
    Delete,
}

/// A recorded root module output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputState {
    /// The output's value.
    pub value: serde_json::Value,
    /// Whether the value must be hidden in user-facing output.
    pub sensitive: bool,
}

/// Whether an instance is a managed resource or a data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceMode {
    /// A `resource` block: created, updated and destroyed by mesh.
    Managed,
    /// A `data` block: only read.
    Data,
}

/// One object of a resource instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceInstanceState {
    /// The instance address, e.g. `module.net["a"].mesh_data.x[0]`.
    pub address: String,
    /// Managed resource or data source.
    pub mode: ResourceMode,
    /// The provider's name, e.g. `mesh`.
    pub provider: String,
    /// The resource type, e.g. `mesh_data`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The attributes as last known, opaque to this crate.
    pub attributes: serde_json::Value,
    /// Paths into `attributes` whose values are sensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_paths: Vec<Vec<PathStep>>,
    /// Addresses of the instances (or resources) this one depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Whether replacement creates the new object before destroying the old.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    /// Set on a deposed object left by a failed create-before-destroy
    /// replacement; `None` for the current object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposed: Option<String>,
}

/// One step of a path into an attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PathStep {
    /// An object key.
    Key(String),
    /// A list index.
    Index(u64),
}

/// Just enough of a state file to decide whether it can be read at all.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format_version: Option<u32>,
}

impl Default for StateDocument {
    fn default() -> Self {
        Self::new()
    }
}

impl StateDocument {
    /// An empty state: serial 0 and a fresh lineage.
    pub fn new() -> Self {
        StateDocument {
            format_version: FORMAT_VERSION,
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            mesh_version: WRITER_VERSION.to_string(),
            outputs: BTreeMap::new(),
            resources: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Record an operation in flight (replacing one at the same address and deposed key).
    pub fn begin(&mut self, pending: PendingOperation) {
        let key = Self::pending_key(&pending);
        self.pending.retain(|p| Self::pending_key(p) != key);
        self.pending.push(pending);
        self.pending
            .sort_by(|a, b| Self::pending_key(a).cmp(&Self::pending_key(b)));
    }

    /// Forget the operation in flight at `address` (and deposed key), if any.
    pub fn settle(&mut self, address: &str, deposed: Option<&str>) {
        self.pending.retain(|p| {
            (p.instance.address.as_str(), p.instance.deposed.as_deref()) != (address, deposed)
        });
    }

    fn pending_key(p: &PendingOperation) -> (String, Option<String>) {
        (p.instance.address.clone(), p.instance.deposed.clone())
    }

    /// Where the object with this address and deposed key is in `resources`
    /// (`Ok`), or where it would be inserted (`Err`). `resources` must be in
    /// canonical order (see the field's documentation).
    fn position(&self, address: &str, deposed: Option<&str>) -> Result<usize, usize> {
        self.resources.binary_search_by(|r| {
            (r.address.as_str(), r.deposed.as_deref()).cmp(&(address, deposed))
        })
    }

    /// The range of `resources` holding the objects at `address`.
    fn range_of(&self, address: &str) -> std::ops::Range<usize> {
        let start = self
            .resources
            .partition_point(|r| r.address.as_str() < address);
        let len = self.resources[start..]
            .iter()
            .take_while(|r| r.address == address)
            .count();
        start..start + len
    }

    /// The current (not deposed) object at `address`.
    pub fn instance(&self, address: &str) -> Option<&ResourceInstanceState> {
        self.position(address, None)
            .ok()
            .map(|index| &self.resources[index])
    }

    /// Every object at `address`: the current one and any deposed ones.
    pub fn objects<'a>(
        &'a self,
        address: &'a str,
    ) -> impl Iterator<Item = &'a ResourceInstanceState> + 'a {
        self.resources[self.range_of(address)].iter()
    }

    /// Replace the object with the same address and deposed key, or insert it
    /// in canonical order; the instance's own lists are normalized. A binary
    /// search: O(log n) comparisons plus the move of the entries after it.
    pub fn upsert(&mut self, mut instance: ResourceInstanceState) {
        instance.normalize();
        self.settle(&instance.address, instance.deposed.as_deref());
        match self.position(&instance.address, instance.deposed.as_deref()) {
            Ok(index) => self.resources[index] = instance,
            Err(index) => self.resources.insert(index, instance),
        }
    }

    /// Remove and return the current (not deposed) object at `address`.
    pub fn remove(&mut self, address: &str) -> Option<ResourceInstanceState> {
        self.settle(address, None);
        let index = self.position(address, None).ok()?;
        Some(self.resources.remove(index))
    }

    /// Remove and return the deposed object `deposed` at `address`.
    pub fn remove_deposed(
        &mut self,
        address: &str,
        deposed: &str,
    ) -> Option<ResourceInstanceState> {
        self.settle(address, Some(deposed));
        let index = self.position(address, Some(deposed)).ok()?;
        Some(self.resources.remove(index))
    }

    /// Apply one journal entry (see [`JournalEntry`]).
    pub fn apply(&mut self, entry: JournalEntry) {
        match entry {
            JournalEntry::Upsert { instance } => self.upsert(*instance),
            JournalEntry::Remove { address, deposed } => {
                match deposed {
                    Some(id) => self.remove_deposed(&address, &id),
                    None => self.remove(&address),
                };
            }
            JournalEntry::Outputs { outputs } => self.outputs = outputs,
            JournalEntry::Begin { pending } => self.begin(*pending),
            JournalEntry::Settle { address, deposed } => self.settle(&address, deposed.as_deref()),
        }
    }

    /// The distinct addresses in the state, sorted.
    pub fn addresses(&self) -> Vec<String> {
        let mut addresses: Vec<String> = self.resources.iter().map(|r| r.address.clone()).collect();
        addresses.sort();
        addresses.dedup();
        addresses
    }

    /// Sort `resources` into canonical order (by address, the current object
    /// before deposed ones, deposed ones by key). Cheap when already sorted.
    pub fn sort(&mut self) {
        self.resources.sort_by(|a, b| {
            (a.address.as_str(), a.deposed.as_deref())
                .cmp(&(b.address.as_str(), b.deposed.as_deref()))
        });
    }

    /// Put the document in its canonical order: resources sorted by address
    /// (current object before deposed ones), dependencies and sensitive paths
    /// sorted and deduplicated. Saving does this, so files are deterministic.
    pub fn normalize(&mut self) {
        self.sort();
        for resource in &mut self.resources {
            resource.normalize();
        }
    }

    /// The canonical JSON encoding (normalized, pretty, trailing newline).
    pub fn to_json(&self) -> Result<Vec<u8>, StateError> {
        let mut doc = self.clone();
        doc.normalize();
        let mut bytes = serde_json::to_vec_pretty(&doc).map_err(StateError::Encode)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Decode a state file's contents; `path` is only used in errors.
    ///
    /// Rejects format versions other than [`FORMAT_VERSION`] before looking at
    /// the rest, and reports malformed JSON with the parser's line and column.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Self, StateError> {
        // serde reads a struct from an array too, which would make `[...]` fail with a
        // confusing message about its first element.
        if let Some(at) = bytes.iter().position(|b| !b.is_ascii_whitespace()) {
            if bytes[at] != b'{' {
                return Err(malformed_at(path, bytes, at, "expected a JSON object"));
            }
        }
        let header: Header = serde_json::from_slice(bytes).map_err(|e| malformed(path, &e))?;
        if let Some(found) = header.format_version {
            if found != FORMAT_VERSION {
                return Err(StateError::UnsupportedFormat {
                    path: path.to_path_buf(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
        }
        let mut doc: StateDocument =
            serde_json::from_slice(bytes).map_err(|e| malformed(path, &e))?;
        doc.normalize();
        doc.check_addresses(bytes, path)?;
        Ok(doc)
    }

    /// Every object has an instance address, and no address holds two current objects (or two
    /// deposed objects with one key): a file edited into another shape is refused, not guessed
    /// at. The document must be sorted.
    fn check_addresses(&self, bytes: &[u8], path: &Path) -> Result<(), StateError> {
        let addresses = self
            .resources
            .iter()
            .chain(self.pending.iter().map(|p| &p.instance))
            .map(|r| &r.address);
        for address in addresses {
            if !crate::address::is_instance_address(address) {
                let at = address_offset(bytes, address, 0);
                let message = format!("{address:?} is not a resource instance address");
                return Err(malformed_at(path, bytes, at, &message));
            }
        }
        for pair in self.resources.windows(2) {
            if pair[0].address == pair[1].address && pair[0].deposed == pair[1].deposed {
                let at = address_offset(bytes, &pair[1].address, 1);
                let message = format!(
                    "resource instance {} appears more than once",
                    pair[1].address
                );
                return Err(malformed_at(path, bytes, at, &message));
            }
        }
        Ok(())
    }
}

/// The byte offset of the `skip`-th (0-based) `"address": "ADDRESS"` in a state file, or 0.
fn address_offset(bytes: &[u8], address: &str, skip: usize) -> usize {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return 0;
    };
    let Ok(quoted) = serde_json::to_string(address) else {
        return 0;
    };
    text.match_indices("\"address\"")
        .filter(|(at, key)| {
            let rest = text[at + key.len()..].trim_start();
            rest.strip_prefix(':')
                .is_some_and(|r| r.trim_start().starts_with(&quoted))
        })
        .nth(skip)
        .map_or(0, |(at, _)| at)
}

/// A [`StateError::Malformed`] at a byte offset of the file.
fn malformed_at(path: &Path, bytes: &[u8], offset: usize, message: &str) -> StateError {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    StateError::Malformed {
        path: path.to_path_buf(),
        line: before.iter().filter(|&&b| b == b'\n').count() + 1,
        column: offset - line_start + 1,
        message: message.to_string(),
    }
}

impl ResourceInstanceState {
    /// Sort and deduplicate the dependencies and sensitive paths.
    pub fn normalize(&mut self) {
        self.dependencies.sort();
        self.dependencies.dedup();
        self.sensitive_paths.sort();
        self.sensitive_paths.dedup();
    }
}

fn malformed(path: &Path, error: &serde_json::Error) -> StateError {
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&position).unwrap_or(&full).to_string();
    StateError::Malformed {
        path: path.to_path_buf(),
        line: error.line(),
        column: error.column(),
        message,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn instance(address: &str) -> ResourceInstanceState {
        ResourceInstanceState {
            address: address.to_string(),
            mode: ResourceMode::Managed,
            provider: "mesh".to_string(),
            resource_type: "mesh_data".to_string(),
            attributes: json!({ "id": address }),
            sensitive_paths: Vec::new(),
            dependencies: Vec::new(),
            create_before_destroy: false,
            deposed: None,
        }
    }

    #[test]
    fn tampered_documents_are_refused_at_their_line() {
        let path = Path::new("state.json");
        let mut doc = StateDocument::new();
        doc.upsert(instance("mesh_data.a"));
        doc.upsert(instance("mesh_data.b"));
        let good = String::from_utf8(doc.to_json().unwrap()).unwrap();
        assert!(StateDocument::from_json(good.as_bytes(), path).is_ok());

        let twice = good.replace("\"mesh_data.b\"", "\"mesh_data.a\"");
        let err = StateDocument::from_json(twice.as_bytes(), path).unwrap_err();
        let line = 1 + twice[..twice.rfind("\"address\"").unwrap()]
            .matches('\n')
            .count();
        assert!(
            err.to_string().starts_with(&format!("state.json:{line}:")),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("mesh_data.a appears more than once"),
            "{err}"
        );

        let garbage = good.replace("\"mesh_data.b\"", "\"not an address!\"");
        let err = StateDocument::from_json(garbage.as_bytes(), path).unwrap_err();
        assert!(
            err.to_string()
                .contains("is not a resource instance address"),
            "{err}"
        );

        let err = StateDocument::from_json(format!("\n [{good}]").as_bytes(), path).unwrap_err();
        assert!(err.to_string().starts_with("state.json:2:2: "), "{err}");
        assert!(err.to_string().contains("expected a JSON object"), "{err}");
    }

    #[test]
    fn new_documents_have_distinct_lineages() {
        let a = StateDocument::new();
        let b = StateDocument::new();
        assert_eq!(a.serial, 0);
        assert_eq!(a.format_version, FORMAT_VERSION);
        assert!(uuid::Uuid::parse_str(&a.lineage).is_ok());
        assert_ne!(a.lineage, b.lineage);
    }

    #[test]
    fn upsert_replaces_by_address_and_deposed_key() {
        let mut doc = StateDocument::new();
        doc.upsert(instance("mesh_data.a"));
        let mut changed = instance("mesh_data.a");
        changed.attributes = json!({ "id": "changed" });
        doc.upsert(changed.clone());
        assert_eq!(doc.resources.len(), 1);
        assert_eq!(doc.instance("mesh_data.a"), Some(&changed));

        let mut deposed = instance("mesh_data.a");
        deposed.deposed = Some("d1".to_string());
        doc.upsert(deposed.clone());
        assert_eq!(doc.resources.len(), 2);
        assert_eq!(doc.instance("mesh_data.a"), Some(&changed));
        assert_eq!(doc.objects("mesh_data.a").count(), 2);
        assert_eq!(doc.addresses(), vec!["mesh_data.a".to_string()]);

        assert_eq!(doc.remove("mesh_data.a"), Some(changed));
        assert_eq!(doc.remove("mesh_data.a"), None);
        assert_eq!(doc.remove_deposed("mesh_data.a", "d1"), Some(deposed));
        assert!(doc.resources.is_empty());
    }

    #[test]
    fn resources_stay_in_canonical_order_for_lookups() {
        let mut doc = StateDocument::new();
        for address in [
            "mesh_data.b",
            "mesh_data.a[1]",
            "mesh_data.c",
            "mesh_data.a",
        ] {
            doc.upsert(instance(address));
        }
        let mut old = instance("mesh_data.a");
        old.deposed = Some("d2".into());
        doc.upsert(old.clone());
        old.deposed = Some("d1".into());
        doc.upsert(old);
        let order: Vec<(&str, Option<&str>)> = doc
            .resources
            .iter()
            .map(|r| (r.address.as_str(), r.deposed.as_deref()))
            .collect();
        assert_eq!(
            order,
            [
                ("mesh_data.a", None),
                ("mesh_data.a", Some("d1")),
                ("mesh_data.a", Some("d2")),
                ("mesh_data.a[1]", None),
                ("mesh_data.b", None),
                ("mesh_data.c", None),
            ]
        );
        assert_eq!(doc.objects("mesh_data.a").count(), 3);
        assert_eq!(doc.objects("mesh_data.a[1]").count(), 1);
        assert_eq!(doc.objects("mesh_data.zz").count(), 0);
        assert!(doc.remove_deposed("mesh_data.a", "d1").is_some());
        assert!(doc.remove("mesh_data.b").is_some());
        assert!(doc.instance("mesh_data.c").is_some());

        // A file written out of order (by hand) is sorted when read.
        let mut value = serde_json::to_value(&doc).expect("value");
        value["resources"].as_array_mut().expect("array").reverse();
        let bytes = serde_json::to_vec(&value).expect("bytes");
        let read = StateDocument::from_json(&bytes, Path::new("s.json")).expect("decode");
        assert_eq!(read, doc);
        assert!(read.instance("mesh_data.a").is_some());
    }

    #[test]
    fn encoding_is_canonical_and_uses_the_documented_names() {
        let mut doc = StateDocument::new();
        let mut b = instance("mesh_data.b");
        b.mode = ResourceMode::Data;
        b.dependencies = vec![
            "mesh_data.z".into(),
            "mesh_data.a".into(),
            "mesh_data.a".into(),
        ];
        b.sensitive_paths = vec![vec![PathStep::Key("tags".into()), PathStep::Index(0)]];
        doc.upsert(b);
        doc.upsert(instance("mesh_data.a"));
        let text = String::from_utf8(doc.to_json().expect("encode")).expect("utf8");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");

        let resources = value["resources"].as_array().expect("array");
        assert_eq!(resources[0]["address"], "mesh_data.a");
        assert_eq!(resources[0]["mode"], "managed");
        assert_eq!(resources[0]["type"], "mesh_data");
        // Empty and default fields are left out.
        assert!(resources[0].get("dependencies").is_none());
        assert!(resources[0].get("create_before_destroy").is_none());
        assert!(resources[0].get("deposed").is_none());
        assert_eq!(resources[1]["mode"], "data");
        assert_eq!(
            resources[1]["dependencies"],
            json!(["mesh_data.a", "mesh_data.z"])
        );
        assert_eq!(resources[1]["sensitive_paths"], json!([["tags", 0]]));
        assert!(text.ends_with("}\n"));
        // Encoding twice gives the same bytes.
        assert_eq!(doc.to_json().expect("encode").as_slice(), text.as_bytes());
    }

    #[test]
    fn decoding_rejects_other_format_versions() {
        let path = Path::new("/x/state.json");
        let mut future = serde_json::to_value(StateDocument::new()).expect("value");
        future["format_version"] = json!(99);
        future["resources"] = json!("something new");
        let bytes = serde_json::to_vec(&future).expect("bytes");
        let err = StateDocument::from_json(&bytes, path).expect_err("must reject");
        assert!(matches!(
            err,
            StateError::UnsupportedFormat {
                found: 99,
                supported: 1,
                ..
            }
        ));
        let message = err.to_string();
        assert!(message.contains("/x/state.json"), "{message}");
        assert!(message.contains("version 99"), "{message}");
        assert!(message.contains("upgrade mesh"), "{message}");
    }

    #[test]
    fn decoding_reports_malformed_json_with_position() {
        let path = Path::new("/x/state.json");
        let err = StateDocument::from_json(b"{\n  \"serial\": 1,\n  oops\n}", path)
            .expect_err("must reject");
        match &err {
            StateError::Malformed { line, column, .. } => assert_eq!((*line, *column), (3, 3)),
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().starts_with("/x/state.json:3:3: "), "{err}");

        let err = StateDocument::from_json(b"{\"format_version\": 1}", path).expect_err("shape");
        assert!(err.to_string().contains("missing field"), "{err}");
    }
}
