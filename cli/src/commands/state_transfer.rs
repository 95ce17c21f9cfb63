//! `mesh state pull|push|history|migrate|rekey`: the stored state as a whole, moved in and out
//! of its backend, or encrypted again.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use mesh_state::transfer::{self, Transferred};
use mesh_state::{Backend, StateDocument};

use crate::args::MigrateTarget;
use crate::workspace::{CommandResult, Workspace};

/// `mesh state pull [--snapshot ID]`: the state's JSON on stdout.
pub fn pull(ws: &Workspace, snapshot: Option<&str>) -> CommandResult {
    let doc = match snapshot {
        Some(id) => Some(ws.backend()?.read_snapshot(id)?),
        None => ws.load_state()?,
    };
    let Some(doc) = doc else {
        eprintln!("There is no state yet in the {}.", ws.backend()?.describe());
        return Ok(0);
    };
    let bytes = doc.to_json()?;
    print!("{}", String::from_utf8_lossy(&bytes));
    Ok(0)
}

/// `mesh state push FILE [--force]`.
pub fn push(ws: &Workspace, file: &Path, force: bool) -> CommandResult {
    let doc = read_state_file(file)?;
    let backend = ws.backend()?;
    let lock = ws.lock("state push", Duration::ZERO)?;
    let done = transfer::push(backend.as_ref(), doc, force)?;
    lock.release()?;
    match done {
        Transferred::AlreadyThere => println!(
            "The {} already holds this state: nothing to push.",
            backend.describe()
        ),
        Transferred::Written { serial } => println!(
            "Pushed the state (serial {serial}) to the {}.",
            backend.describe()
        ),
    }
    Ok(0)
}

fn read_state_file(file: &Path) -> Result<StateDocument, crate::workspace::CommandError> {
    let bytes = if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot read the state from stdin: {e}"))?;
        bytes
    } else {
        std::fs::read(file)
            .map_err(|e| anyhow::anyhow!("cannot read the state file {}: {e}", file.display()))?
    };
    Ok(StateDocument::from_json(&bytes, file)?)
}

/// `mesh state history`: the past versions the backend keeps, oldest first.
pub fn history(ws: &Workspace) -> CommandResult {
    let backend = ws.backend()?;
    let versions = backend.history()?;
    if versions.is_empty() {
        println!("The {} keeps no past versions yet.", backend.describe());
        return Ok(0);
    }
    println!("{:<32} {:>8} {:>10}", "SNAPSHOT", "SERIAL", "BYTES");
    for v in &versions {
        let serial = v.serial.map_or_else(|| "?".to_string(), |s| s.to_string());
        println!("{:<32} {serial:>8} {:>10}", v.id, v.bytes);
    }
    println!(
        "\nRead one with: mesh state pull --snapshot {}",
        versions.last().map_or("ID", |v| v.id.as_str())
    );
    Ok(0)
}

/// `mesh state migrate --to backend|local [--force]`.
pub fn migrate(ws: &Workspace, to: MigrateTarget, force: bool) -> CommandResult {
    if !ws.is_remote()? {
        return Err(anyhow::anyhow!(
            "the spec configures no remote backend, so state is already in the local file; add \
             a backend block first, e.g. mesh {{ backend \"azure_blob\" {{ account = \"...\" \
             container = \"...\" key = \"...\" }} }}"
        )
        .into());
    }
    let remote = ws.backend()?;
    let local = ws.local_backend()?;
    let (from, dest): (&dyn Backend, &dyn Backend) = match to {
        MigrateTarget::Backend => (&local, remote.as_ref()),
        MigrateTarget::Local => (remote.as_ref(), &local),
    };
    let remote_lock = ws.lock("state migrate", Duration::ZERO)?;
    let local_lock = Backend::lock(&local, "state migrate", Duration::ZERO)?;
    let (doc, done) = transfer::migrate(from, dest, force)?;
    if to == MigrateTarget::Backend {
        retire_local_state(&local, &doc)?;
    }
    local_lock.release()?;
    remote_lock.release()?;
    let what = match done {
        Transferred::AlreadyThere => "already held this state".to_string(),
        Transferred::Written { serial } => format!("now holds the state (serial {serial})"),
    };
    println!(
        "Migrated {} resource instance(s) from the {} to the {}, which {what}.",
        doc.addresses().len(),
        from.describe(),
        dest.describe()
    );
    match to {
        MigrateTarget::Backend => println!(
            "The local state was kept as {}.migrated; mesh now uses the backend.",
            local.path().display()
        ),
        MigrateTarget::Local => println!(
            "The spec still configures the backend: remove its backend block for mesh to use \
             the local file."
        ),
    }
    Ok(0)
}

/// After a migration to the backend, move the local state out of the way (compacted first, so
/// no journal is left behind), so that it is neither used nor migrated twice by mistake.
fn retire_local_state(
    local: &mesh_state::LocalBackend,
    doc: &StateDocument,
) -> Result<(), crate::workspace::CommandError> {
    local.save(doc)?;
    let mut retired = local.path().as_os_str().to_os_string();
    retired.push(".migrated");
    std::fs::rename(local.path(), &retired).map_err(|e| {
        anyhow::anyhow!(
            "the state was migrated, but {} could not be renamed: {e}; remove it by hand",
            local.path().display()
        )
    })?;
    Ok(())
}

/// `mesh state rekey`: write the state (and the past versions the storage lets mesh rewrite)
/// again with the current key: a new salt for the current passphrase; what was encrypted with
/// the old passphrase (`MESH_STATE_OLD_PASSPHRASE`) or not at all is encrypted anew.
pub fn rekey(ws: &Workspace) -> CommandResult {
    let Some(encryption) = ws.encryption()? else {
        return Err(anyhow::anyhow!(
            "the spec does not encrypt state: add an encryption block to its mesh block (and set \
             MESH_STATE_PASSPHRASE) first"
        )
        .into());
    };
    let backend = ws.backend()?;
    let lock = ws.lock("state rekey", Duration::ZERO)?;
    let Some(doc) = ws.load_state()? else {
        lock.release()?;
        println!("There is no state yet: nothing to encrypt again.");
        return Ok(0);
    };
    encryption.renew_write_key();
    backend.save(&doc)?;
    let rewritten = backend.reencrypt_history()?;
    let older = if ws.is_remote()? {
        backend.history()?.len().saturating_sub(1)
    } else {
        0
    };
    lock.release()?;
    println!(
        "Encrypted the state (serial {}) again with the current key in the {}; {rewritten} \
         backup(s) rewritten.",
        doc.serial,
        backend.describe()
    );
    if older > 0 {
        println!(
            "{older} older blob snapshot(s) keep the key they were written with (blob snapshots \
             cannot be rewritten); they are pruned as new versions are saved."
        );
    }
    Ok(0)
}
