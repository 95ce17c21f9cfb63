//! Interrupts, as CI runners send them (SIGINT or SIGTERM, then again).
//!
//! While an apply runs, the first signal stops scheduling and lets running operations finish
//! (each is saved to state as it completes); the second exits at once. Outside an apply
//! (planning, waiting for a lock) the first signal exits at once. Either way the state lock,
//! if this process still holds one, is released before exiting: the release names the lock's
//! ID, so a lock taken since by another process is never removed.

use std::path::PathBuf;
use std::sync::Mutex;

use mesh_engine::apply::Interrupt;

/// What the signal handler must know about the running command.
#[derive(Default)]
struct Running {
    lock: Option<(PathBuf, String)>,
    apply: Option<Interrupt>,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

fn with_running(f: impl FnOnce(&mut Running)) {
    let mut guard = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Running::default));
}

/// Remember the lock this process holds, so an interrupt can release it.
pub fn holding_lock(path: PathBuf, id: String) {
    with_running(|r| r.lock = Some((path, id)));
}

/// Start an apply phase: interrupts now stop scheduling first.
pub fn applying(interrupt: Interrupt) {
    with_running(|r| r.apply = Some(interrupt));
}

fn exit_now(code: i32) -> ! {
    let lock = RUNNING
        .lock()
        .ok()
        .and_then(|mut g| g.as_mut().and_then(|r| r.lock.take()));
    if let Some((path, id)) = lock {
        let _ = mesh_state::force_unlock(&path, &id);
    }
    std::process::exit(code)
}

/// Install the handler for the life of the process (call inside the runtime).
pub fn install() {
    tokio::spawn(async {
        let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        let mut graceful_started = false;
        loop {
            tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { return },
                _ = terminate.recv() => {},
            }
            let apply = RUNNING
                .lock()
                .ok()
                .and_then(|g| g.as_ref().and_then(|r| r.apply.clone()));
            match apply {
                Some(interrupt) if !graceful_started => {
                    graceful_started = true;
                    eprintln!("\nInterrupt received. Stopping: no new operations start; running ones finish and are saved to state.\nInterrupt again to exit at once.");
                    interrupt.stop_scheduling.cancel();
                }
                Some(interrupt) => {
                    interrupt.abort.cancel();
                    eprintln!("\nSecond interrupt: exiting now. State holds every operation that completed.");
                    exit_now(130);
                }
                None => {
                    eprintln!("\nInterrupted before any change was made.");
                    exit_now(130);
                }
            }
        }
    });
}
