//! The mesh data plane of the local cloud, far enough to answer `curl` from a pod the way a
//! real one would: `kubectl exec` into a pod of an AKS cluster, run curl, and see which pod
//! of which cluster answered — or the failure a real client would see.
//!
//! No packet moves and no container runs: a call is worked out from the clusters' objects.
//! The pieces, in the order a call meets them:
//!
//! - [`snapshot`] reads the local cloud into a [`view::MeshView`]: each cluster's objects, the
//!   remote secrets its istiod can use, its CA, its node network;
//! - [`caller`] finds the pod the command runs in;
//! - [`curl`] reads the command line and prints what curl prints;
//! - [`resolve`] is DNS: the namespace's search path, the sidecar's DNS proxy (ServiceEntry
//!   hosts, every known cluster's Services) with DNS capture on, the cluster's Services, public
//!   names;
//! - [`call`] runs a call, through [`sidecar`] when the pod has one: [`routing`]
//!   (VirtualService matches, weights, DestinationRule subsets and TLS), [`discovery`] (the
//!   endpoints the caller's istiod knows through remote secrets), [`network`] (routed node
//!   networks, east-west gateways, `AUTO_PASSTHROUGH` Gateways), [`trust`] (the clusters'
//!   roots), with retries as Envoy makes them;
//! - [`apps`] is what the application that got the call answers.
//!
//! Load balancing rotates ([`draws`]): counters kept with the cloud's data make consecutive
//! calls alternate between endpoints and weighted splits even, run after run.

mod apps;
mod call;
mod caller;
mod curl;
mod discovery;
mod draws;
mod network;
mod resolve;
mod routing;
mod sidecar;
mod snapshot;
mod trust;
mod view;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_failures;

use serde_json::{json, Value as Json};

use crate::kube::{self, cluster, controllers};
use crate::server::{lock, Shared};
use crate::store::now;
use curl::Printed;

/// The most runs one request may ask for.
const MAX_COUNT: u64 = 1000;

/// Why a request is refused: an HTTP status and a message.
pub(crate) type Refusal = (u16, String);

/// What an exec request asks.
struct ExecRequest {
    cluster: String,
    namespace: String,
    workload: String,
    throwaway: bool,
    command: Vec<String>,
    count: u64,
}

impl ExecRequest {
    fn of(request: &Json) -> Result<ExecRequest, Refusal> {
        let text = |name: &str| {
            request[name]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .ok_or_else(|| (400, format!("the request needs a \"{name}\"")))
        };
        let command: Vec<String> = request["command"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let count = request["count"].as_u64().unwrap_or(1);
        if count == 0 || count > MAX_COUNT {
            return Err((400, format!("count must be 1 to {MAX_COUNT}, not {count}")));
        }
        Ok(ExecRequest {
            cluster: text("cluster")?,
            namespace: text("namespace")?,
            workload: text("workload")?,
            throwaway: request["run"].as_bool().unwrap_or(false),
            command,
            count,
        })
    }
}

fn printed_json(printed: &Printed) -> Json {
    json!({"stdout": printed.stdout, "stderr": printed.stderr, "exitCode": printed.exit_code})
}

/// Answer `POST /_admin/exec` (see [`crate::LocalCloud::exec`]).
pub(crate) fn exec(shared: &Shared, request: &Json) -> Result<Json, Refusal> {
    let request = ExecRequest::of(request)?;
    let mut cloud = lock(&shared.cloud);
    let now = now();
    kube::settle(&mut cloud, shared, now);
    let env = kube::env(shared);
    let key = cluster::find(&cloud, &request.cluster).ok_or_else(|| {
        let names = cluster::names(&cloud);
        (
            404,
            format!(
                "the local cloud has no AKS cluster named {:?} (its clusters: {})",
                request.cluster,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ),
        )
    })?;
    let view = snapshot::snapshot(&cloud, &env, now);
    let name = cluster::context(&cloud, &env, &key, now)
        .map(|c| c.name)
        .unwrap_or_default();
    let Some(index) = view.find(&name) else {
        return Err((
            409,
            format!("the Kubernetes API of {name} has not been used yet: it has no pods"),
        ));
    };
    let caller = if request.throwaway {
        let objects = cloud.kube.get(&key);
        caller::throwaway(
            &view,
            index,
            &request.namespace,
            &request.workload,
            &|pod| {
                if let Some(objects) = objects {
                    controllers::inject(objects, pod);
                }
            },
        )
    } else {
        caller::find(&view, index, &request.namespace, &request.workload)
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(message) => {
            let printed = Printed::error(1, message);
            return Ok(json!({"cluster": name, "results": [printed_json(&printed)]}));
        }
    };
    let curl = match curl::parse(&request.command) {
        Ok(curl) => curl,
        Err(printed) => {
            return Ok(
                json!({"cluster": name, "pod": caller.name(), "results": [printed_json(&printed)]}),
            )
        }
    };
    let mut results = Vec::new();
    {
        let mut draws = draws::Draws::new(&mut cloud.mesh_calls);
        for _ in 0..request.count {
            let traced = call::call(&view, &caller, &curl.call, &mut draws);
            results.push(printed_json(&curl.print(&traced)));
        }
    }
    cloud.dirty = true;
    shared
        .persist
        .save(&mut cloud)
        .map_err(|e| (500, format!("the local cloud cannot save its data: {e}")))?;
    Ok(json!({"cluster": name, "pod": caller.name(), "results": results}))
}
