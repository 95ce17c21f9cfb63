//! Small facts about the running system: host, user, processes, time.
//!
//! The workspace forbids `unsafe`, so nothing here calls libc directly: the
//! host name comes from procfs or `/etc/hostname`, and process liveness from
//! procfs (or `kill -0` on other Unix systems).

use std::fs::File;
use std::path::Path;
use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// This machine's host name, or "unknown".
pub(crate) fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .chain(std::env::var("HOSTNAME").ok())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The current user's name, or "unknown".
pub(crate) fn username() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Whether process `pid` on this host may still be running. Errs towards
/// "alive": only a process known to be gone (or a zombie) is reported dead.
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    if Path::new("/proc/self/stat").exists() {
        return match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state letter follows the parenthesised command name.
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        };
    }
    kill_zero_says_alive(pid)
}

#[cfg(unix)]
fn kill_zero_says_alive(pid: u32) -> bool {
    match std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .output()
    {
        Ok(out) if !out.status.success() => {
            !String::from_utf8_lossy(&out.stderr).contains("No such process")
        }
        _ => true,
    }
}

#[cfg(not(unix))]
fn kill_zero_says_alive(_pid: u32) -> bool {
    true
}

/// Format a time as RFC 3339 UTC, to the second (`2026-11-22T05:00:00Z`).
pub(crate) fn rfc3339(at: SystemTime) -> String {
    let at = OffsetDateTime::from(at);
    OffsetDateTime::from_unix_timestamp(at.unix_timestamp())
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "unknown time".to_string())
}

/// Flush a directory entry change (rename, create) to disk. Best effort: some
/// file systems refuse to sync directories, and by the time this runs the
/// change itself has already happened.
pub(crate) fn sync_dir(dir: &Path) {
    if cfg!(unix) {
        if let Ok(handle) = File::open(dir) {
            let _ = handle.sync_all();
        }
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_of_self_and_of_a_reaped_child() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        assert!(!process_alive(pid));
    }

    #[test]
    fn times_are_rfc3339_utc_seconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_323_600_250);
        assert_eq!(rfc3339(t), "2026-11-22T05:00:00Z");
    }

    #[test]
    fn host_and_user_are_never_empty() {
        assert!(!hostname().is_empty());
        assert!(!username().is_empty());
        assert_eq!(parent_dir(Path::new("state.json")), Path::new("."));
    }
}
