//! `mesh output [NAME] [--json|--raw]`.

use mesh_engine::render::render_value;
use mesh_engine::value::Value;

use crate::args::OutputArgs;
use crate::workspace::{CommandResult, Workspace};

/// `mesh output`.
pub fn run(ws: &Workspace, args: &OutputArgs) -> CommandResult {
    let outputs = ws.load_state()?.map(|d| d.outputs).unwrap_or_default();
    let Some(name) = &args.name else {
        if args.json {
            let all: serde_json::Map<String, serde_json::Value> = outputs
                .iter()
                .map(|(k, o)| {
                    (
                        k.clone(),
                        serde_json::json!({ "value": o.value, "sensitive": o.sensitive }),
                    )
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&all).map_err(anyhow::Error::from)?
            );
            return Ok(0);
        }
        if outputs.is_empty() {
            eprintln!("Warning: no outputs found. The state has no outputs, or it has not been applied yet.");
        }
        for (k, o) in &outputs {
            let v = Value::from_json(&o.value);
            let v = if o.sensitive { v.into_sensitive() } else { v };
            println!("{k} = {}", render_value(&v, false));
        }
        return Ok(0);
    };
    let Some(output) = outputs.get(name) else {
        let known: Vec<&str> = outputs.keys().map(String::as_str).collect();
        let hint = mesh_engine::diagnostics::did_you_mean(name, known)
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        return Err(anyhow::anyhow!("output \"{name}\" not found in state{hint}").into());
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&output.value).map_err(anyhow::Error::from)?
        );
    } else if args.raw {
        match &output.value {
            serde_json::Value::String(s) => println!("{s}"),
            serde_json::Value::Number(n) => println!("{n}"),
            serde_json::Value::Bool(b) => println!("{b}"),
            _ => {
                return Err(anyhow::anyhow!(
                    "--raw works only with string, number and bool outputs; use --json"
                )
                .into())
            }
        }
    } else {
        // Asked for by name, a sensitive output is shown, as in Terraform.
        println!("{}", render_value(&Value::from_json(&output.value), true));
    }
    Ok(0)
}
