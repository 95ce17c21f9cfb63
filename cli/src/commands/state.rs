//! `mesh state list|show|rm|mv`, `mesh show`, `mesh force-unlock` (`mesh state
//! pull|push|history|migrate` are in `state_transfer`).

use std::time::Duration;

use mesh_engine::address::InstanceAddress;
use mesh_engine::config::ResourceMode as EngineMode;
use mesh_engine::render::render_value;

use super::plan::load_plan;
use super::state_transfer;
use crate::args::{ForceUnlockArgs, OutputFormat, ShowArgs, StateCommand};
use crate::state_bridge::instance_value;
use crate::ui::confirm;
use crate::workspace::{CommandResult, Workspace};

/// `mesh state ...`.
pub fn run(ws: &Workspace, command: &StateCommand) -> CommandResult {
    match command {
        StateCommand::List { addresses } => {
            let Some(doc) = ws.load_state()? else {
                return Ok(0);
            };
            for address in doc.addresses() {
                if addresses.is_empty()
                    || addresses
                        .iter()
                        .any(|a| mesh_state::address_matches(a, &address))
                {
                    println!("{address}");
                }
            }
            Ok(0)
        }
        StateCommand::Show { address } => {
            let doc = ws
                .load_state()?
                .ok_or_else(|| anyhow::anyhow!("there is no state yet"))?;
            let instance = doc.instance(address).ok_or_else(|| {
                anyhow::anyhow!(
                    "no instance {address} in state; `mesh state list` shows what there is"
                )
            })?;
            println!("# {}:", instance.address);
            println!(
                "{} {}",
                block_header(instance),
                render_value(&instance_value(instance), false)
            );
            Ok(0)
        }
        StateCommand::Rm { addresses } => {
            let _lock = ws.lock("state rm", Duration::ZERO)?;
            let mut doc = ws
                .load_state()?
                .ok_or_else(|| anyhow::anyhow!("there is no state yet"))?;
            let mut removed = Vec::new();
            for address in addresses {
                removed.extend(doc.remove_matching(address)?);
            }
            doc.serial += 1;
            ws.backend()?.save(&doc)?;
            for r in &removed {
                println!("Removed {r}");
            }
            println!(
                "Successfully removed {} resource instance(s).",
                removed.len()
            );
            Ok(0)
        }
        StateCommand::Mv { from, to } => {
            let _lock = ws.lock("state mv", Duration::ZERO)?;
            let mut doc = ws
                .load_state()?
                .ok_or_else(|| anyhow::anyhow!("there is no state yet"))?;
            let moved = doc.move_address(from, to)?;
            doc.serial += 1;
            ws.backend()?.save(&doc)?;
            println!("Move \"{from}\" to \"{to}\"\nSuccessfully moved {moved} object(s).");
            Ok(0)
        }
        StateCommand::Pull { snapshot } => state_transfer::pull(ws, snapshot.as_deref()),
        StateCommand::Push { file, force } => state_transfer::push(ws, file, *force),
        StateCommand::History => state_transfer::history(ws),
        StateCommand::Rekey => state_transfer::rekey(ws),
        StateCommand::Migrate { to, force } => state_transfer::migrate(ws, *to, *force),
    }
}

/// `resource "TYPE" "NAME"` (or `data ...`) for an instance, as Terraform prints it: the name
/// without the module path or the instance key (`mesh_data.n["k"]` → `"mesh_data" "n"`).
fn block_header(instance: &mesh_state::ResourceInstanceState) -> String {
    let (keyword, name) = match InstanceAddress::parse(&instance.address) {
        Some(parsed) => (
            match parsed.resource.mode {
                EngineMode::Managed => "resource",
                EngineMode::Data => "data",
            },
            parsed.resource.name,
        ),
        // Not an address mesh writes; show what can be told from the text.
        None => (
            match instance.mode {
                mesh_state::ResourceMode::Managed => "resource",
                mesh_state::ResourceMode::Data => "data",
            },
            instance.address.clone(),
        ),
    };
    format!(
        "{keyword} {} {}",
        serde_json::Value::from(instance.resource_type.as_str()),
        serde_json::Value::from(name)
    )
}

/// `mesh show [PLANFILE]`.
pub fn show(ws: &Workspace, args: &ShowArgs) -> CommandResult {
    if let Some(path) = &args.plan_file {
        let plan = load_plan(ws, path)?;
        super::plan::print_plan(ws, &plan, args.format)?;
        return Ok(0);
    }
    let Some(doc) = ws.load_state()? else {
        println!("No state.");
        return Ok(0);
    };
    match args.format {
        OutputFormat::Json => {
            let mut redacted = doc.clone();
            for r in &mut redacted.resources {
                let value = instance_value(r);
                r.attributes = redact(&value);
            }
            for o in redacted.outputs.values_mut() {
                if o.sensitive {
                    o.value = serde_json::Value::Null;
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&redacted).map_err(anyhow::Error::from)?
            );
        }
        OutputFormat::Human | OutputFormat::Markdown => {
            for r in &doc.resources {
                println!("# {}:", r.address);
                println!("{}\n", render_value(&instance_value(r), false));
            }
            if !doc.outputs.is_empty() {
                println!("Outputs:\n");
                for (name, o) in &doc.outputs {
                    let v = mesh_engine::value::Value::from_json(&o.value);
                    let v = if o.sensitive { v.into_sensitive() } else { v };
                    println!("{name} = {}", render_value(&v, false));
                }
            }
        }
    }
    Ok(0)
}

/// JSON with sensitive values replaced by null.
fn redact(value: &mesh_engine::value::Value) -> serde_json::Value {
    use mesh_engine::value::Value;
    match value {
        Value::Sensitive(_) => serde_json::Value::Null,
        Value::List(items) => serde_json::Value::Array(items.iter().map(redact).collect()),
        Value::Map(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), redact(v))).collect())
        }
        other => other.to_json(),
    }
}

/// `mesh force-unlock ID [--force]`: as Terraform's, asks for "yes" unless `--force` (and
/// refuses to ask without a terminal).
pub fn force_unlock(ws: &Workspace, args: &ForceUnlockArgs) -> CommandResult {
    let backend = ws.backend()?;
    let id = args.id.as_str();
    // Only a lock that would be removed is worth a question: no lock, or another ID, fails
    // below with the holder named.
    let holder = backend.read_lock()?.filter(|info| info.id == id);
    if let (Some(holder), false) = (holder, args.force) {
        let detail = format!(
            "mesh will remove the lock {id} on the state, held by {} for {} since {}.\n  \
             This lets other mesh commands change the state even though the holder may still be \
             using it.",
            holder.who, holder.operation, holder.created
        );
        if !confirm("Do you really want to force-unlock?", &detail, "--force")? {
            println!("\nforce-unlock cancelled.");
            return Ok(1);
        }
    }
    let info = backend.force_unlock(id)?;
    println!(
        "mesh state has been successfully unlocked (the lock {} was held by {} for {}).",
        info.id, info.who, info.operation
    );
    Ok(0)
}
