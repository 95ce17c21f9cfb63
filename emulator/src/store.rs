//! What the local cloud holds: resources, long-running operations, Key Vault contents and the
//! Kubernetes objects of AKS clusters ([`crate::kube`]), and their persistence as one JSON file written atomically after every change.
//!
//! Time is not driven by timers: an operation records when it started and when it is due, and
//! [`Cloud::settle`] (run before every request) completes the operations that are due.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::keyvault::VaultData;
use crate::model::{ArmErrorBody, ArmId, StoredResource};
use crate::options::EmulatorError;
use crate::types::CloudView;

/// The data file's name inside the data directory.
pub const DATA_FILE: &str = "cloud.json";

const FORMAT: u32 = 1;

/// Finished operations are kept this long (seconds) for late pollers.
const KEEP_FINISHED: f64 = 3600.0;

/// Seconds since the Unix epoch, as a float (wall clock, so that persisted operations keep
/// their meaning across runs).
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A stored resource and the operation running on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The resource.
    #[serde(flatten)]
    pub resource: StoredResource,
    /// The ID of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    /// PUT of a new resource.
    Create,
    /// PUT or PATCH of an existing resource.
    Update,
    /// DELETE (of the resource and everything below it).
    Delete,
}

/// Where an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpStatus {
    /// Running.
    InProgress,
    /// Done.
    Succeeded,
    /// Done, with an error.
    Failed,
    /// Stopped because the resource was deleted meanwhile.
    Canceled,
}

impl OpStatus {
    /// ARM's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OpStatus::InProgress => "InProgress",
            OpStatus::Succeeded => "Succeeded",
            OpStatus::Failed => "Failed",
            OpStatus::Canceled => "Canceled",
        }
    }
}

/// A long-running operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    /// Its ID (a GUID).
    pub id: String,
    /// The resource's key.
    pub resource_key: String,
    /// The resource's ID.
    pub resource_id: String,
    /// What it does.
    pub kind: OpKind,
    /// When it started.
    pub started: f64,
    /// When it completes.
    pub due: f64,
    /// When it completed.
    pub finished: Option<f64>,
    /// Where it is.
    pub status: OpStatus,
    /// The error it ends with (decided when it starts: an injected failure).
    pub failure: Option<ArmErrorBody>,
    /// Every resource key it holds (a delete holds the whole subtree).
    pub holds: Vec<String>,
}

/// Everything the local cloud holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cloud {
    /// Resources by lowercase ID.
    pub resources: BTreeMap<String, Entry>,
    /// Operations by ID.
    pub operations: BTreeMap<String, Operation>,
    /// Key Vault contents by lowercase vault name.
    pub vaults: BTreeMap<String, VaultData>,
    /// The port last served on: URLs in stored resources (a vault's URI) name it, so a
    /// persisted cloud comes back on the same port.
    #[serde(default)]
    pub port: Option<u16>,
    /// The Kubernetes API objects of each AKS cluster, by the cluster's key.
    #[serde(default)]
    pub(crate) kube: BTreeMap<String, crate::kube::ClusterObjects>,
    /// The mesh data plane's load-balancing counters ([`crate::dataplane`]): how often each
    /// caller picked among each set of destinations, so that consecutive calls rotate as
    /// Envoy's do, also across runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) mesh_calls: BTreeMap<String, u64>,
    /// Changed since the last save.
    #[serde(skip)]
    pub dirty: bool,
}

/// The data file's format number, read on its own: the rest of the file is the [`Cloud`]
/// (which ignores the `format` field). Not one struct with the cloud flattened into it: serde
/// buffers a flattened document as untyped content before it builds the cloud from it, an
/// extra copy of the whole file on every start.
#[derive(Deserialize)]
struct DataFormat {
    format: u32,
}

/// The lowercase ARM type of a stored key.
pub fn type_of_key(key: &str) -> String {
    ArmId::parse(key)
        .map(|id| id.arm_type().to_ascii_lowercase())
        .unwrap_or_default()
}

impl Cloud {
    /// Keys of every resource below `key` (not `key` itself), in ID order.
    pub fn descendants(&self, key: &str) -> Vec<String> {
        let prefix = format!("{key}/");
        self.resources
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Complete every operation that is due at `now`, in the order they become due.
    pub fn settle(&mut self, now: f64) {
        let mut due: Vec<(f64, String)> = self
            .operations
            .values()
            .filter(|o| o.status == OpStatus::InProgress && o.due <= now)
            .map(|o| (o.due, o.id.clone()))
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, op_id) in due {
            self.complete(&op_id, now);
        }
        self.operations
            .retain(|_, o| o.finished.is_none_or(|f| f > now - KEEP_FINISHED));
        self.dirty = true;
    }

    fn complete(&mut self, op_id: &str, now: f64) {
        let Some(op) = self.operations.get_mut(op_id) else {
            return;
        };
        if op.status != OpStatus::InProgress {
            return;
        }
        op.finished = Some(now);
        op.status = if op.failure.is_some() {
            OpStatus::Failed
        } else {
            OpStatus::Succeeded
        };
        let op = op.clone();
        match (op.kind, op.status) {
            (OpKind::Delete, OpStatus::Succeeded) => {
                let mut keys = op.holds.clone();
                keys.extend(self.descendants(&op.resource_key));
                for key in keys {
                    if let Some(entry) = self.resources.remove(&key) {
                        self.forget(&key, &entry);
                    }
                }
            }
            _ => {
                let state = if op.status == OpStatus::Succeeded {
                    "Succeeded"
                } else {
                    "Failed"
                };
                // The resource and the children its PUT wrote.
                for key in &op.holds {
                    if let Some(entry) = self.resources.get_mut(key) {
                        if entry.operation.as_deref() == Some(op_id) {
                            entry.operation = None;
                            set_provisioning_state(&mut entry.resource.body, state);
                        }
                    }
                }
            }
        }
    }

    /// Remove a resource and everything below it at once (a child its parent's PUT deletes).
    pub fn remove_tree(&mut self, key: &str) {
        let mut keys = vec![key.to_string()];
        keys.extend(self.descendants(key));
        for k in keys {
            if let Some(entry) = self.resources.remove(&k) {
                self.forget(&k, &entry);
            }
        }
        self.dirty = true;
    }

    /// Clean up after a removed resource: cancel its other operations, drop a vault's
    /// contents.
    fn forget(&mut self, key: &str, entry: &Entry) {
        if let Some(other) = &entry.operation {
            if let Some(o) = self.operations.get_mut(other) {
                if o.status == OpStatus::InProgress && o.resource_key == key {
                    o.status = OpStatus::Canceled;
                }
            }
        }
        if type_of_key(key) == "microsoft.containerservice/managedclusters" {
            self.kube.remove(key);
        }
        if type_of_key(key) == "microsoft.keyvault/vaults" {
            let name = entry.resource.body.get("name").and_then(Json::as_str);
            if let Some(name) = name {
                self.vaults.remove(&name.to_ascii_lowercase());
            }
        }
    }

    /// A read-only view for resource behaviours.
    pub fn view<'a>(&'a self, base_url: &'a str) -> View<'a> {
        View {
            cloud: self,
            base_url,
        }
    }

    /// The vault resource named `name` (vault names are global), unless it is being deleted.
    pub fn vault(&self, name: &str) -> Option<&Entry> {
        let name = name.to_ascii_lowercase();
        self.resources.iter().find_map(|(k, e)| {
            let id = ArmId::parse(k)?;
            let is_vault = id
                .arm_type()
                .eq_ignore_ascii_case("Microsoft.KeyVault/vaults");
            let deleting = e.operation.as_ref().is_some_and(|o| {
                self.operations
                    .get(o)
                    .is_some_and(|o| o.kind == OpKind::Delete)
            });
            (is_vault && id.name().eq_ignore_ascii_case(&name) && !deleting).then_some(e)
        })
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.resources.clear();
        self.operations.clear();
        self.vaults.clear();
        self.kube.clear();
        self.mesh_calls.clear();
        self.dirty = true;
    }
}

/// Set `properties.provisioningState`, creating `properties` if needed.
pub fn set_provisioning_state(body: &mut Json, state: &str) {
    if let Some(obj) = body.as_object_mut() {
        let props = obj
            .entry("properties")
            .or_insert_with(|| Json::Object(Default::default()));
        if !props.is_object() {
            *props = Json::Object(Default::default());
        }
        if let Some(p) = props.as_object_mut() {
            p.insert("provisioningState".into(), Json::String(state.into()));
        }
    }
}

/// [`CloudView`] over the store.
pub struct View<'a> {
    cloud: &'a Cloud,
    base_url: &'a str,
}

impl CloudView for View<'_> {
    fn get(&self, id: &ArmId) -> Option<&StoredResource> {
        self.cloud.resources.get(&id.key()).map(|e| &e.resource)
    }

    fn of_type(&self, arm_type: &str) -> Vec<&StoredResource> {
        self.cloud
            .resources
            .iter()
            .filter(|(k, _)| type_of_key(k).eq_ignore_ascii_case(arm_type))
            .map(|(_, e)| &e.resource)
            .collect()
    }

    fn children(&self, id: &ArmId) -> Vec<&StoredResource> {
        let key = id.key();
        self.cloud
            .descendants(&key)
            .into_iter()
            .filter(|k| {
                ArmId::parse(k)
                    .and_then(|c| c.parent())
                    .is_some_and(|p| p.key() == key)
            })
            .filter_map(|k| self.cloud.resources.get(&k).map(|e| &e.resource))
            .collect()
    }

    fn base_url(&self) -> &str {
        self.base_url
    }
}

/// Where the cloud is saved: nowhere, or `{data_dir}/cloud.json`.
#[derive(Debug, Clone)]
pub struct Persist {
    path: Option<PathBuf>,
}

impl Persist {
    /// Persistence under `data_dir` (created if missing), or none.
    pub fn new(data_dir: Option<&Path>) -> Result<Persist, EmulatorError> {
        let Some(dir) = data_dir else {
            return Ok(Persist { path: None });
        };
        std::fs::create_dir_all(dir).map_err(|source| EmulatorError::Io {
            what: "create the data directory",
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Persist {
            path: Some(dir.join(DATA_FILE)),
        })
    }

    /// The stored cloud, or an empty one.
    pub fn load(&self) -> Result<Cloud, EmulatorError> {
        match &self.path {
            None => Ok(Cloud::default()),
            Some(path) => Ok(read_data_file(path)?.unwrap_or_default()),
        }
    }

    /// Save when something changed (write a temporary file, then rename it over the old one).
    pub fn save(&self, cloud: &mut Cloud) -> Result<(), EmulatorError> {
        if !cloud.dirty {
            return Ok(());
        }
        let Some(path) = &self.path else {
            cloud.dirty = false;
            return Ok(());
        };
        let io = |what: &'static str| {
            let path = path.clone();
            move |source| EmulatorError::Io { what, path, source }
        };
        let doc = serde_json::json!({
            "format": FORMAT,
            "resources": cloud.resources,
            "operations": cloud.operations,
            "vaults": cloud.vaults,
            "port": cloud.port,
            "kube": cloud.kube,
        });
        let bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&tmp).map_err(io("write"))?;
            // No fsync: the rename keeps the file whole if mesh stops; an OS crash may lose
            // the last changes of a simulated cloud, which `mesh local reset` recovers from.
            file.write_all(&bytes).map_err(io("write"))?;
        }
        std::fs::rename(&tmp, path).map_err(io("replace"))?;
        cloud.dirty = false;
        Ok(())
    }
}

/// Read a data file: `None` when it does not exist.
pub fn read_data_file(path: &Path) -> Result<Option<Cloud>, EmulatorError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(EmulatorError::Io {
                what: "read",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let corrupt = |message: String| EmulatorError::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    let doc: DataFormat = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if doc.format != FORMAT {
        return Err(corrupt(format!(
            "format {} (this mesh reads format {FORMAT})",
            doc.format
        )));
    }
    let cloud: Cloud = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(cloud))
}

/// A Unix time as RFC 3339 (`2025-01-01T00:00:00.5Z`).
pub fn rfc3339(t: f64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos((t * 1e9) as i128)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
