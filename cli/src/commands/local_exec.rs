//! `mesh local exec CLUSTER NAMESPACE/WORKLOAD -- curl ...`: a command in a pod of an AKS
//! cluster of the local cloud, as `kubectl exec` would run it, answered by the mesh data plane
//! the local cloud simulates — which pod of which cluster served the call, or the failure a
//! real client would see. Through the running `mesh local serve` (`POST /_admin/exec`), or a
//! cloud started for the purpose on the data directory.

use std::collections::BTreeMap;
use std::path::Path;

use mesh_emulator::{LocalCloud, LocalCloudOptions, TlsConfig};
use serde_json::{json, Value as Json};

use crate::local_cloud::{data_dir, running_server, time_factor};
use crate::workspace::CommandError;

/// What `mesh local exec` runs, and where.
pub struct ExecTarget<'a> {
    /// The cluster's name (case-insensitive).
    pub cluster: &'a str,
    /// `NAMESPACE/WORKLOAD`: a Deployment or a Pod.
    pub workload: &'a str,
    /// Run in a throwaway pod named WORKLOAD (as `kubectl run`) rather than an existing one.
    pub throwaway: bool,
    /// The command: `curl` and its arguments.
    pub command: &'a [String],
    /// How many times to run it.
    pub count: u64,
}

impl ExecTarget<'_> {
    /// The request `/_admin/exec` takes.
    fn request(&self) -> Result<Json, CommandError> {
        let Some((namespace, workload)) = self
            .workload
            .split_once('/')
            .filter(|(n, w)| !n.is_empty() && !w.is_empty() && !w.contains('/'))
        else {
            return Err(anyhow::anyhow!(
                "name the workload as NAMESPACE/WORKLOAD (e.g. sample/sleep), not {:?}",
                self.workload
            )
            .into());
        };
        Ok(json!({
            "cluster": self.cluster,
            "namespace": namespace,
            "workload": workload,
            "run": self.throwaway,
            "command": self.command,
            "count": self.count,
        }))
    }
}

/// `mesh local exec`: print what the command printed; its exit code (of the last run).
pub async fn run(
    base: &Path,
    dir: Option<&Path>,
    target: &ExecTarget<'_>,
    summary: bool,
) -> Result<i32, CommandError> {
    let request = target.request()?;
    let answer = exec(base, dir, &request).await?;
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    if summary {
        print!("{}", summarize(&results));
    } else {
        print_runs(&results);
    }
    Ok(results
        .last()
        .and_then(|r| r["exitCode"].as_i64())
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or(0))
}

fn text<'a>(v: &'a Json, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_default()
}

/// Each run's output as the command printed it (standard error first, as curl writes it
/// before the body); with several runs, each on lines of its own.
fn print_runs(results: &[Json]) {
    let several = results.len() > 1;
    for result in results {
        let (stdout, stderr) = (text(result, "stdout"), text(result, "stderr"));
        // curl writes its errors and -v lines before the body.
        eprint!("{stderr}");
        print!("{stdout}");
        if several && !stdout.is_empty() && !stdout.ends_with('\n') {
            println!();
        }
    }
}

/// How many runs printed each first line (stdout, else stderr), most frequent first, as
/// `sort | uniq -c | sort -rn` would show them.
fn summarize(results: &[Json]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for result in results {
        let line = [text(result, "stdout"), text(result, "stderr")]
            .iter()
            .find_map(|t| t.lines().find(|l| !l.trim().is_empty()))
            .map(str::to_string)
            .unwrap_or_else(|| format!("(no output, exit code {})", result["exitCode"]));
        *counts.entry(line).or_default() += 1;
    }
    let mut rows: Vec<(String, usize)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let width = rows.first().map_or(1, |(_, n)| n.to_string().len());
    rows.iter()
        .map(|(line, n)| format!("{n:>width$}  {line}\n"))
        .collect()
}

/// The answer of `/_admin/exec`: from the running server, or a cloud started on the data.
async fn exec(base: &Path, dir: Option<&Path>, request: &Json) -> Result<Json, CommandError> {
    let dir = data_dir(base, dir);
    if let Some(url) = running_server(&dir) {
        return super::local::post_admin(&url, "/_admin/exec", request)
            .await
            .map_err(|e| anyhow::anyhow!("{e}").into());
    }
    if mesh_emulator::inspect_data(&dir)
        .map_err(|e| anyhow::anyhow!("cannot read the local cloud's data: {e}"))?
        .is_none()
    {
        return Err(anyhow::anyhow!(
            "No local cloud data in {}: apply a spec on the local cloud first.",
            dir.display()
        )
        .into());
    }
    let options = LocalCloudOptions {
        data_dir: Some(dir.clone()),
        time_factor: time_factor().map_err(anyhow::Error::msg)?,
        faults: Default::default(),
        throttle: None,
        // As the embedded cloud runs: the kubeconfigs remote secrets hold name its HTTPS URL.
        tls: Some(TlsConfig::in_data_dir(&dir)),
    };
    let cloud = LocalCloud::start(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the local cloud: {e}"))?;
    let answer = cloud.exec(request);
    cloud.shutdown().await;
    answer.map_err(|(_, message)| anyhow::anyhow!("{message}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(workload: &'a str, command: &'a [String]) -> ExecTarget<'a> {
        ExecTarget {
            cluster: "c1",
            workload,
            throwaway: false,
            command,
            count: 2,
        }
    }

    #[test]
    fn workloads_are_named_namespace_slash_workload() {
        let command = vec!["curl".to_string(), "x".to_string()];
        assert_eq!(
            target("sample/sleep", &command).request().unwrap(),
            json!({"cluster": "c1", "namespace": "sample", "workload": "sleep", "run": false,
                "command": ["curl", "x"], "count": 2})
        );
        for bad in ["sleep", "/sleep", "sample/", "a/b/c"] {
            assert!(target(bad, &command).request().is_err(), "{bad}");
        }
    }

    #[test]
    fn summaries_count_first_lines() {
        let run = |stdout: &str, stderr: &str, code: i32| json!({"stdout": stdout, "stderr": stderr, "exitCode": code});
        let results = [
            run("Hello version: v1\n", "", 0),
            run("Hello version: v2\n", "", 0),
            run("Hello version: v1\n", "", 0),
            run("", "curl: (6) Could not resolve host: x\n", 6),
            run("", "", 0),
        ];
        assert_eq!(
            summarize(&results),
            "2  Hello version: v1\n1  (no output, exit code 0)\n1  Hello version: v2\n1  curl: (6) Could not resolve host: x\n"
        );
    }
}
