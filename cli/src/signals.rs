//! Interrupts during apply, as CI runners send them: the first SIGINT/SIGTERM stops
//! scheduling and lets running operations finish; the second exits at once, after releasing
//! the lock (state is already saved after every completed operation).

use std::path::PathBuf;

use mesh_engine::apply::Interrupt;

/// Stops listening when dropped.
pub struct SignalGuard(tokio::task::JoinHandle<()>);

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listen for interrupts for the duration of an apply.
pub fn install(interrupt: Interrupt, lock_path: PathBuf, lock_id: String) -> SignalGuard {
    SignalGuard(tokio::spawn(async move {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
        let mut received = 0;
        loop {
            tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { return },
                _ = terminate.recv() => {},
            }
            received += 1;
            if received == 1 {
                eprintln!("\nInterrupt received. Stopping: no new operations start; running ones finish and are saved to state.\nInterrupt again to exit at once.");
                interrupt.stop_scheduling.cancel();
            } else {
                interrupt.abort.cancel();
                let _ = mesh_state::force_unlock(&lock_path, &lock_id);
                eprintln!(
                    "\nSecond interrupt: exiting now. State holds every operation that completed."
                );
                std::process::exit(130);
            }
        }
    }))
}
