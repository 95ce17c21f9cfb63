//! The spec directory a command works in: its configuration, providers, state and lock.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use mesh_engine::address::ModulePath;
use mesh_engine::config::Module;
use mesh_engine::diagnostics::{Diagnostic, Diagnostics, SourceLocation};
use mesh_engine::evaluation::{eval_body, Evaluation, RepetitionBinding};
use mesh_engine::provider::ProviderRegistry;
use mesh_engine::render::ColorChoice;
use mesh_engine::value::Value;
use mesh_state::{Backend, Encryption, HeldLock, LocalBackend, StateDocument};
use sha2::{Digest, Sha256};

/// An error of a command: diagnostics about the spec, or anything else.
#[derive(Debug)]
pub enum CommandError {
    /// Problems in what the user wrote; printed as diagnostics.
    Diagnostics(Diagnostics),
    /// Anything else.
    Other(anyhow::Error),
}

impl From<Diagnostics> for CommandError {
    fn from(d: Diagnostics) -> Self {
        CommandError::Diagnostics(d)
    }
}

impl From<anyhow::Error> for CommandError {
    fn from(e: anyhow::Error) -> Self {
        CommandError::Other(e)
    }
}

impl From<mesh_state::StateError> for CommandError {
    fn from(e: mesh_state::StateError) -> Self {
        CommandError::Other(e.into())
    }
}

impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        CommandError::Other(e.into())
    }
}

/// The result of a command: its exit code.
pub type CommandResult = Result<i32, CommandError>;

/// The state's storage as the spec configures it.
struct OpenedState {
    backend: Arc<dyn Backend>,
    /// Whether that is a remote backend rather than the local file.
    remote: bool,
    encryption: Option<Arc<Encryption>>,
}

/// The directory a command works in.
pub struct Workspace {
    /// The spec directory (absolute).
    pub dir: PathBuf,
    /// Where state lives, set up on first use from the spec's `mesh` block.
    opened: OnceLock<OpenedState>,
    /// The configuration, loaded once: opening the state needs its `mesh` block before the
    /// command itself loads it.
    config: OnceLock<Arc<Module>>,
    /// Colors on stdout.
    pub color: ColorChoice,
}

impl Workspace {
    /// The workspace of the current directory.
    pub fn current(color: ColorChoice) -> anyhow::Result<Workspace> {
        let dir = std::env::current_dir().context("cannot determine the current directory")?;
        Ok(Workspace {
            dir,
            opened: OnceLock::new(),
            config: OnceLock::new(),
            color,
        })
    }

    /// The local state file's backend: `.mesh/state.json` in the spec directory, with the
    /// spec's encryption.
    pub fn local_backend(&self) -> Result<LocalBackend, CommandError> {
        Ok(LocalBackend::new(self.local_state_path()).with_encryption(self.encryption()?))
    }

    fn local_state_path(&self) -> PathBuf {
        self.dir.join(".mesh").join("state.json")
    }

    /// Where state lives: the spec's `mesh { backend ... }` block, else the local file.
    pub fn backend(&self) -> Result<Arc<dyn Backend>, CommandError> {
        Ok(self.opened()?.backend.clone())
    }

    /// Whether state lives in a remote backend (not the local file).
    pub fn is_remote(&self) -> Result<bool, CommandError> {
        Ok(self.opened()?.remote)
    }

    /// The state's encryption (state, backups, journal and plan files), when the spec's
    /// `mesh { encryption { ... } }` block asks for it.
    pub fn encryption(&self) -> Result<Option<Arc<Encryption>>, CommandError> {
        Ok(self.opened()?.encryption.clone())
    }

    fn opened(&self) -> Result<&OpenedState, CommandError> {
        if let Some(opened) = self.opened.get() {
            return Ok(opened);
        }
        let (choice, encryption) = match self.load_config() {
            Ok(module) => (
                crate::backend_config::choose(&module.settings)?,
                crate::encryption_config::from_settings(&module.settings)?,
            ),
            // Without spec files (state commands in a bare directory) state is local and plain.
            Err(_) if !self.has_spec_files() => (crate::backend_config::BackendChoice::Local, None),
            Err(diags) => return Err(diags.into()),
        };
        let remote = !matches!(choice, crate::backend_config::BackendChoice::Local);
        let backend =
            crate::backend_config::open(choice, &self.local_state_path(), encryption.clone())?;
        Ok(self.opened.get_or_init(|| OpenedState {
            backend,
            remote,
            encryption,
        }))
    }

    fn has_spec_files(&self) -> bool {
        std::fs::read_dir(&self.dir).is_ok_and(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.path().extension().is_some_and(|x| x == "hcl"))
        })
    }

    /// Load and check the configuration (once per command: later calls share the first
    /// successful load).
    pub fn load_config(&self) -> Result<Arc<Module>, Diagnostics> {
        if let Some(module) = self.config.get() {
            return Ok(module.clone());
        }
        let module = mesh_engine::config::load_module_tree(&self.dir, &self.dir)?;
        if module.files.is_empty() {
            return Err(Diagnostic::error(
                "No spec files",
                format!("{} has no *.hcl files", self.dir.display()),
                None,
            )
            .with_help("run mesh in a spec directory, or point at one with -C DIR")
            .into());
        }
        Ok(self.config.get_or_init(|| module).clone())
    }

    /// The stored state, if any (the local cloud notes whether it holds Azure resources). A
    /// remote backend without state while a local state file exists is an error: that state
    /// must be migrated first, or mesh would start afresh and create everything again.
    pub fn load_state(&self) -> Result<Option<StateDocument>, CommandError> {
        let backend = self.backend()?;
        let doc = backend.load()?;
        crate::local_cloud::note_state(doc.as_ref());
        if doc.is_none() && self.is_remote()? && self.local_state_path().exists() {
            return Err(anyhow::anyhow!(
                "the spec stores state in the {}, which has no state yet, but {} holds a local \
                 state: run `mesh state migrate --to backend` to move it there (or remove the \
                 local file if it is obsolete)",
                backend.describe(),
                self.local_state_path().display()
            )
            .into());
        }
        Ok(doc)
    }

    /// Take the state lock; an interrupt that exits the process releases it.
    pub fn lock(
        &self,
        operation: &str,
        timeout: Duration,
    ) -> Result<Box<dyn HeldLock>, CommandError> {
        let lock = self.backend()?.lock(operation, timeout)?;
        crate::signals::holding_lock(lock.releaser());
        Ok(lock)
    }
}

/// Every provider mesh ships.
pub fn registry() -> ProviderRegistry {
    registry_with_credentials().0
}

/// Every provider mesh ships, and the AKS credentials its Kubernetes providers fetch
/// kubeconfigs with (through the azure provider, once configured): for commands that reach
/// clusters themselves (`mesh status`).
pub fn registry_with_credentials() -> (
    ProviderRegistry,
    Arc<dyn mesh_provider_kubernetes::ClusterCredentials>,
) {
    let mut registry = ProviderRegistry::new();
    for p in mesh_engine::builtin::providers() {
        registry.register(p);
    }
    registry.register(Arc::new(mesh_provider_test::TestProvider::new()));
    let azure = Arc::new(mesh_provider_azure::AzureProvider::new());
    registry.register(azure.clone());
    let credentials: Arc<dyn mesh_provider_kubernetes::ClusterCredentials> =
        Arc::new(AksCredentials(azure));
    let kubernetes = mesh_provider_kubernetes::KubernetesProvider::new(Some(credentials.clone()));
    registry.register(Arc::new(kubernetes.istio()));
    registry.register(Arc::new(kubernetes));
    registry.register(Arc::new(mesh_provider_pki::PkiProvider::new()));
    (registry, credentials)
}

/// AKS admin credentials for the Kubernetes provider, fetched by the Azure provider.
struct AksCredentials(Arc<mesh_provider_azure::AzureProvider>);

#[async_trait::async_trait]
impl mesh_provider_kubernetes::ClusterCredentials for AksCredentials {
    async fn admin_kubeconfig(
        &self,
        cluster_id: &str,
    ) -> Result<Option<String>, mesh_engine::provider::ProviderError> {
        self.0.admin_kubeconfig(cluster_id).await
    }
}

/// Configure every provider from its `provider "name" {}` block (or an empty one).
pub async fn configure_providers(
    registry: &ProviderRegistry,
    evaluation: &Evaluation,
) -> Result<(), Diagnostics> {
    let root = evaluation.root().clone();
    let mut diags = Diagnostics::new();
    for name in root.providers.keys() {
        if registry.get(name).is_none() {
            let known: Vec<&str> = registry.iter().map(|(n, _)| n.as_str()).collect();
            diags.push(Diagnostic::error(
                "Unknown provider",
                format!(
                    "there is no provider named \"{name}\"; available: {}",
                    known.join(", ")
                ),
                Some(root.providers[name].location.clone()),
            ));
        }
    }
    let path = ModulePath::root();
    for (name, provider) in registry.iter() {
        let config = match root.providers.get(name) {
            Some(block) => {
                let scope = evaluation.scope(&path, RepetitionBinding::None);
                let schema = provider.schema().provider;
                let what = format!("provider \"{name}\"");
                eval_body(
                    &scope,
                    &block.body,
                    &schema,
                    &what,
                    &block.location,
                    &mut diags,
                )
            }
            None => Value::Map(BTreeMap::new()),
        };
        if diags.has_errors() {
            continue;
        }
        // Without real Azure settings, the azure provider targets the local cloud.
        let config = match name.as_str() {
            mesh_provider_azure::PROVIDER_NAME => {
                match crate::local_cloud::azure_config(&root, config).await {
                    Ok(config) => config,
                    Err(e) => {
                        diags.push(Diagnostic::error("Cannot start the local cloud", e, None));
                        continue;
                    }
                }
            }
            _ => config,
        };
        if let Err(e) = provider.configure(config).await {
            diags.push(Diagnostic::error(
                format!("Cannot configure provider \"{name}\""),
                e.message,
                root.providers
                    .get(name)
                    .map(|b| b.location.clone())
                    .or_else(|| Some(SourceLocation::synthetic("provider defaults"))),
            ));
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(())
}

/// A digest of every spec file of the module tree and of the variable values: a saved plan
/// applies only to the configuration it was made from.
pub fn config_digest(module: &Module, variables: &BTreeMap<String, Value>) -> String {
    let mut hasher = Sha256::new();
    fn add(module: &Module, hasher: &mut Sha256) {
        for file in &module.files {
            hasher.update(file.path.display().to_string().as_bytes());
            hasher.update([0]);
            hasher.update(file.text.as_bytes());
            hasher.update([0]);
        }
        for call in module.module_calls.values() {
            add(&call.module, hasher);
        }
    }
    add(module, &mut hasher);
    for (k, v) in variables {
        hasher.update(k.as_bytes());
        hasher.update(v.to_json().to_string().as_bytes());
    }
    hex::encode(hasher.finalize())
}
