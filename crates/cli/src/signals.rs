//! SIGINT/SIGTERM: the first one sets a flag that the readers check
//! ([`check`] between batches and records), so the run stops at the next
//! batch, errors unwind to `main`, uncommitted temporary outputs are removed
//! by their `Drop`, and `main` exits 130 (SIGINT) or 143 (SIGTERM). A second
//! signal exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::Result;
use signal_hook::consts::{SIGINT, SIGTERM};

static STATE: std::sync::OnceLock<(Arc<AtomicBool>, Arc<AtomicUsize>)> = std::sync::OnceLock::new();

/// The run was stopped by a signal (the facade's type, so readers there
/// report it and `main` finds it in the error chain).
pub use pcapx_facade::Interrupted;

/// Installs the handlers (once; later calls do nothing).
pub fn install() -> Result<()> {
    if STATE.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicBool::new(false));
    let which = Arc::new(AtomicUsize::new(0));
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal:
        // only a second signal exits immediately.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&flag))?;
        signal_hook::flag::register_usize(
            sig,
            Arc::clone(&which),
            usize::try_from(sig).unwrap_or(2),
        )?;
        signal_hook::flag::register(sig, Arc::clone(&flag))?;
    }
    let _ = STATE.set((flag, which));
    // The facade's readers (walks, the feeder) stop at the next batch.
    pcapx_facade::interrupt::set_hook(received);
    Ok(())
}

/// The signal received so far, if any.
pub fn received() -> Option<Interrupted> {
    let (flag, which) = STATE.get()?;
    if !flag.load(Ordering::Relaxed) {
        return None;
    }
    let sig = i32::try_from(which.load(Ordering::Relaxed)).unwrap_or(SIGINT);
    Some(Interrupted(if sig == 0 { SIGINT } else { sig }))
}

/// An [`Interrupted`] error once a signal has arrived.
pub fn check() -> Result<()> {
    match received() {
        Some(i) => Err(i.into()),
        None => Ok(()),
    }
}
