//! How a long run notices that it should stop. The front end registers a
//! check once ([`set_hook`]): the CLI its SIGINT/SIGTERM flag, the Python
//! package a check of Python's pending signals (Ctrl-C). Readers call
//! [`check`] between batches and records; a run stops at the next batch with
//! [`crate::Error::Interrupted`].

use std::sync::OnceLock;

/// SIGINT's number (Linux, macOS and every Unix).
pub const SIGINT: i32 = 2;
/// SIGTERM's number.
pub const SIGTERM: i32 = 15;

/// The run was stopped by a signal (its number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl Interrupted {
    /// The conventional exit status: 128 + signal number.
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(130)
    }
    pub fn name(self) -> &'static str {
        if self.0 == SIGTERM {
            "SIGTERM"
        } else {
            "SIGINT"
        }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.name())
    }
}

impl std::error::Error for Interrupted {}

static HOOK: OnceLock<fn() -> Option<Interrupted>> = OnceLock::new();

/// Registers the process's interruption check (the first registration wins;
/// it must be cheap: readers call it for every record).
pub fn set_hook(hook: fn() -> Option<Interrupted>) {
    let _ = HOOK.set(hook);
}

/// The interruption received so far, if any.
pub fn received() -> Option<Interrupted> {
    HOOK.get().and_then(|h| h())
}

/// An [`Interrupted`] error once an interruption has arrived.
pub fn check() -> Result<(), Interrupted> {
    match received() {
        Some(i) => Err(i),
        None => Ok(()),
    }
}
