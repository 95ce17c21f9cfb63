//! How a local cloud is started: where it keeps its data, how fast simulated time runs,
//! throttling, injected faults, and HTTPS.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::tls::TlsConfig;

/// Options of [`crate::LocalCloud::start`].
#[derive(Debug, Clone, PartialEq)]
pub struct LocalCloudOptions {
    /// Directory of the persisted cloud (`cloud.json`); `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Simulated latencies are the types' real-Azure durations times this factor
    /// (0.01: an AKS cluster's ten minutes take six seconds; 0: operations finish at once).
    pub time_factor: f64,
    /// Injected faults (none by default).
    pub faults: Faults,
    /// ARM-like per-subscription throttling; `None` (the default) turns it off.
    pub throttle: Option<Throttle>,
    /// Serve HTTPS with certificates from this CA (plain HTTP still works on the same port);
    /// `None` (the default): plain HTTP only.
    pub tls: Option<TlsConfig>,
}

impl Default for LocalCloudOptions {
    fn default() -> Self {
        LocalCloudOptions {
            data_dir: None,
            time_factor: 0.01,
            faults: Faults::default(),
            throttle: None,
            tls: None,
        }
    }
}

/// Faults injected into ARM, Key Vault and clusters' Kubernetes API requests (not into
/// `/_admin`, nor into watches), each with a
/// probability between 0 and 1, drawn from a random sequence seeded with `seed` so that a run
/// is reproducible. Also settable at run time: `POST /_admin/faults` with this as JSON (every
/// field optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Seed of the random sequence.
    pub seed: u64,
    /// Probability of a 429 TooManyRequests (with Retry-After).
    pub throttle: f64,
    /// Probability of a 500 InternalServerError.
    pub server_error: f64,
    /// Probability of a 503 ServiceUnavailable (with Retry-After).
    pub unavailable: f64,
    /// Probability of a dropped connection: the response starts and its body breaks off.
    pub drop_connection: f64,
    /// Probability that a request is answered only after `slow_ms`.
    pub slow: f64,
    /// The delay of a slow response, in milliseconds.
    pub slow_ms: u64,
    /// Probability that a write to a cluster's Kubernetes API (PATCH, PUT, POST, DELETE) answers
    /// 409 Conflict, "the object has been modified" (ARM requests never get this one).
    pub conflict: f64,
    /// Probability that an accepted PUT, PATCH or DELETE ends as a failed long-running
    /// operation (status Failed, provisioningState Failed).
    pub failed_operation: f64,
    /// Retry-After of injected 429 and 503 responses, in milliseconds (sent as
    /// `retry-after-ms`, and rounded up to whole seconds in `Retry-After`).
    pub retry_after_ms: u64,
    /// Only requests whose path contains this text (case-insensitive) get faults.
    pub path_contains: Option<String>,
    /// Only requests with one of these methods get faults (e.g. `["PUT"]`); all when `None`.
    pub methods: Option<Vec<String>>,
    /// At most this many faults in all (slow responses included); unlimited when `None`.
    pub limit: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            seed: 0,
            throttle: 0.0,
            server_error: 0.0,
            unavailable: 0.0,
            drop_connection: 0.0,
            slow: 0.0,
            slow_ms: 2000,
            failed_operation: 0.0,
            conflict: 0.0,
            retry_after_ms: 1000,
            path_contains: None,
            methods: None,
            limit: None,
        }
    }
}

impl Faults {
    /// True when no fault can happen.
    pub fn is_none(&self) -> bool {
        self.throttle <= 0.0
            && self.server_error <= 0.0
            && self.unavailable <= 0.0
            && self.drop_connection <= 0.0
            && self.slow <= 0.0
            && self.failed_operation <= 0.0
            && self.conflict <= 0.0
    }
}

/// ARM's throttling: a token bucket per subscription for reads (GET) and one for writes
/// (PUT, PATCH, DELETE, POST). Every request takes a token; an empty bucket answers 429
/// SubscriptionRequestsThrottled with Retry-After. Settable at run time through
/// `POST /_admin/throttle` (JSON; `null` turns it off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Throttle {
    /// Read bucket size.
    pub read_capacity: f64,
    /// Read tokens added per second.
    pub reads_per_second: f64,
    /// Write bucket size.
    pub write_capacity: f64,
    /// Write tokens added per second.
    pub writes_per_second: f64,
}

impl Default for Throttle {
    /// ARM's current limits per subscription and region: 250 reads refilled at 25 per
    /// second, 200 writes refilled at 10 per second.
    fn default() -> Self {
        Throttle {
            read_capacity: 250.0,
            reads_per_second: 25.0,
            write_capacity: 200.0,
            writes_per_second: 10.0,
        }
    }
}

/// Why a local cloud could not start or read its data.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Binding the listening socket failed.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The requested port (0: any).
        port: u16,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading or writing the data directory failed.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The data file is not one the local cloud wrote.
    #[error("{path} is not a local cloud data file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The CA or the server certificate cannot be made or used.
    #[error("cannot serve HTTPS: {message}")]
    Tls {
        /// What is wrong (never key material).
        message: String,
    },
}
