//! The "remote" side of the test provider: a JSON file of objects keyed by ID.
//!
//! The file is a single JSON object `{ "<id>": { ...state... }, ... }`, pretty-printed so that
//! tests can edit it to simulate drift. Writes go to a temporary file in the same directory and
//! are renamed over the store, so a reader never sees a half-written file. Every
//! read-modify-write holds a process-wide async lock for the store's path, so concurrent
//! operations in one process never lose each other's writes. Several processes never share a
//! store at once (state locking sees to that), so there is no cross-process lock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use mesh_engine::provider::ProviderError;
use serde_json::{Map, Value as Json};

/// The objects of a store, by ID.
pub(crate) type Objects = Map<String, Json>;

/// A handle on one store file.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    path: PathBuf,
}

/// One async lock per store path, shared by every provider instance in the process.
fn lock_for(path: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    locks.entry(path.to_path_buf()).or_default().clone()
}

fn io_error(action: &str, path: &Path, err: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(format!(
        "cannot {action} test store {}: {err}",
        path.display()
    ))
}

impl Store {
    /// A handle on the store at `path` (the file need not exist yet).
    pub(crate) fn new(path: PathBuf) -> Store {
        Store { path }
    }

    /// The object stored under `id`, if any.
    pub(crate) async fn get(&self, id: &str) -> Result<Option<Json>, ProviderError> {
        let lock = lock_for(&self.path);
        let _guard = lock.lock().await;
        Ok(self.load().await?.remove(id))
    }

    /// Store `object` under `id`, replacing any previous one.
    pub(crate) async fn put(&self, id: &str, object: Json) -> Result<(), ProviderError> {
        self.modify(|objects| {
            objects.insert(id.to_string(), object);
        })
        .await
    }

    /// Remove the object stored under `id`; succeeds when there is none.
    pub(crate) async fn remove(&self, id: &str) -> Result<(), ProviderError> {
        self.modify(|objects| {
            objects.remove(id);
        })
        .await
    }

    async fn modify(&self, change: impl FnOnce(&mut Objects)) -> Result<(), ProviderError> {
        let lock = lock_for(&self.path);
        let _guard = lock.lock().await;
        let mut objects = self.load().await?;
        change(&mut objects);
        self.save(&objects).await
    }

    /// Every stored object; an absent file holds none.
    async fn load(&self) -> Result<Objects, ProviderError> {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Objects::new()),
            Err(err) => return Err(io_error("read", &self.path, err)),
        };
        if text.trim().is_empty() {
            return Ok(Objects::new());
        }
        match serde_json::from_str::<Json>(&text) {
            Ok(Json::Object(objects)) => Ok(objects),
            Ok(_) => Err(io_error("parse", &self.path, "expected a JSON object")),
            Err(err) => Err(io_error("parse", &self.path, err)),
        }
    }

    /// Replace the file atomically: write a sibling temporary file, then rename it over.
    async fn save(&self, objects: &Objects) -> Result<(), ProviderError> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|err| io_error("create the directory of", &self.path, err))?;
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "test-objects.json".to_string());
        let tmp = dir.join(format!(
            ".{file_name}.tmp-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let mut text = serde_json::to_string_pretty(&Json::Object(objects.clone()))
            .map_err(|err| io_error("encode", &self.path, err))?;
        text.push('\n');
        let written = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            tokio::io::AsyncWriteExt::write_all(&mut file, text.as_bytes()).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&tmp, &self.path).await
        }
        .await;
        if let Err(err) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io_error("write", &self.path, err));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_puts_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("nested/objects.json"));
        let mut tasks = Vec::new();
        for i in 0..32 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.put(&format!("id-{i}"), Json::from(i)).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let objects = store.load().await.unwrap();
        assert_eq!(objects.len(), 32);
        store.remove("id-3").await.unwrap();
        store.remove("missing").await.unwrap();
        assert_eq!(store.get("id-3").await.unwrap(), None);
        assert_eq!(store.get("id-4").await.unwrap(), Some(Json::from(4)));
        // No temporary files left behind.
        let leftovers = std::fs::read_dir(dir.path().join("nested"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 1);
    }

    #[tokio::test]
    async fn corrupt_store_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("objects.json");
        std::fs::write(&path, "not json").unwrap();
        let err = Store::new(path).get("x").await.unwrap_err();
        assert!(
            err.message.contains("cannot parse test store"),
            "{}",
            err.message
        );
    }
}
