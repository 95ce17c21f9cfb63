//! Interrupts, as CI runners send them (SIGINT or SIGTERM, then again).
//!
//! While an apply runs, CI runners' sequence (SIGINT, SIGTERM seconds later, then SIGKILL) is
//! met like this: the first signal stops scheduling and lets running operations finish (each
//! is saved to state as it completes); the second cancels the running operations, saves state
//! and releases the lock, with a 2-second deadline after which it exits anyway; a third exits
//! at once. Operations are recorded as started before they call a provider, so even an exit
//! mid-operation (or SIGKILL) leaves nothing the next command cannot find. Outside an apply
//! (planning, waiting for a lock) the first signal exits at once. The state lock, if this
//! process still holds one, is released before exiting: the release names the lock's ID, so a
//! lock taken since by another process is never removed.

use std::sync::Mutex;

use mesh_engine::apply::Interrupt;

/// What the signal handler must know about the running command.
#[derive(Default)]
struct Running {
    /// Releases the held state lock if it is still this process's (a lock file, a lease).
    lock: Option<Box<dyn Fn() + Send + Sync>>,
    apply: Option<Interrupt>,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// How long the second interrupt waits for state to be saved before exiting.
const SAVE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

fn with_running(f: impl FnOnce(&mut Running)) {
    let mut guard = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Running::default));
}

/// Remember how to release the lock this process holds, so an interrupt can release it.
pub fn holding_lock(release: Box<dyn Fn() + Send + Sync>) {
    with_running(|r| r.lock = Some(release));
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
    if let Some(release) = lock {
        release();
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
        let mut signals_seen = 0;
        loop {
            tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { return },
                _ = terminate.recv() => {},
            }
            let apply = RUNNING
                .lock()
                .ok()
                .and_then(|g| g.as_ref().and_then(|r| r.apply.clone()));
            signals_seen += 1;
            match apply {
                Some(interrupt) if signals_seen == 1 => {
                    eprintln!("\nInterrupt received. Stopping: no new operations start; running ones finish and are saved to state.\nInterrupt again to stop them (state is saved within 2 seconds).");
                    interrupt.stop_scheduling.cancel();
                }
                Some(interrupt) if signals_seen == 2 => {
                    interrupt.abort.cancel();
                    eprintln!("\nSecond interrupt: stopping running operations, saving state and releasing the lock (at most 2 seconds). Interrupt again to exit at once.");
                    tokio::spawn(async {
                        tokio::time::sleep(SAVE_DEADLINE).await;
                        eprintln!("State saving took longer than {} s: exiting. Every completed operation is in the journal; the next command finds the rest.", SAVE_DEADLINE.as_secs());
                        exit_now(130);
                    });
                }
                Some(_) => {
                    eprintln!("\nThird interrupt: exiting now. Every completed operation is in the journal; the next command finds the rest.");
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
