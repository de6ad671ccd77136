//! Crash reports for native plugin faults. A plugin is native code in our
//! process: a NULL dereference in a C plugin, or a Rust plugin built with
//! `panic = "abort"`, raises a fatal signal that no `catch_unwind` can stop.
//! Instead of dying with "Segmentation fault" and no word of who or where,
//! pcapx installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT
//! (on the alternate signal stack Rust's runtime gives every thread) that,
//! when the fault happened inside a plugin call on that thread, print
//!
//! ```text
//! pcapx: plugin gamex (/opt/plugins/gamex.so) crashed with SIGSEGV on packet 60 of cap.pcap
//! ```
//!
//! run the cleanup hook the binary registered (it removes the temporaries of
//! outputs in progress, so outputs stay complete or absent), and exit with
//! status 2. A fault outside plugin code is passed on to the handler that was
//! there before (Rust's stack-overflow handler, the memory map's SIGBUS
//! handler) or to the default action, so pcapx's own bugs still die as they
//! would have.
//!
//! Which plugin is running is a per-thread marker set around every call
//! into a plugin ([`enter`]: two thread-local stores). Everything the handler
//! touches is async-signal-safe in practice: constant-initialised
//! thread-locals, `Mutex::try_lock` (an atomic compare-and-swap; a lock held
//! by the interrupted code is skipped, never waited for), formatting into a
//! stack buffer, `write(2)` and `_exit(2)`.
//!
//! The handlers are installed when the first plugin is loaded, before any
//! input is opened, so the memory map's SIGBUS handler (installed at the
//! first map) runs first and passes on only the faults that are not its own.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

const SIGNALS: [c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
];

thread_local! {
    /// (index of the plugin being called + 1, or 0 between calls; the packet
    /// this thread last handed to a plugin's `dissect`, kept between calls
    /// for the summaries that follow it). One thread-local per call: this
    /// marker is on every plugin call's path.
    static CURRENT: Cell<(u32, u64)> = const { Cell::new((0, 0)) };
}

/// (plugin name, file) by crash index.
static PLUGINS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
/// The input being read, for the report.
static INPUT: Mutex<String> = Mutex::new(String::new());
/// Called before exiting: removes output temporaries.
static CLEANUP: OnceLock<fn()> = OnceLock::new();
/// The actions the handlers replaced, in [`SIGNALS`] order.
static PREVIOUS: OnceLock<Vec<libc::sigaction>> = OnceLock::new();

/// Registers a loaded plugin for crash reports; returns its index.
pub(crate) fn register(name: &str, file: &str) -> u32 {
    let mut p = PLUGINS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    p.push((name.to_owned(), file.to_owned()));
    install();
    u32::try_from(p.len() - 1).unwrap_or(u32::MAX - 1)
}

/// Names the input being read in crash reports (`of NAME`).
pub fn set_input(name: &str) {
    let mut i = INPUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    i.clear();
    i.push_str(name);
}

/// The input named by [`set_input`] (empty when none).
pub(crate) fn input_name() -> String {
    INPUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// What to run before a crash exit, e.g. removing output temporaries. It
/// runs inside a signal handler: it must not allocate or take locks it could
/// wait for. Set once; later calls are ignored.
pub fn set_cleanup(f: fn()) {
    let _ = CLEANUP.set(f);
}

/// Marks this thread as inside a call of plugin `index` until the guard
/// drops. `packet` is the frame number, or `None` for calls without one
/// (summaries: the packet last dissected on this thread is used).
pub(crate) fn enter(index: u32, packet: Option<u64>) -> InPlugin {
    CURRENT.with(|c| {
        let (prev, last) = c.get();
        c.set((index.saturating_add(1), packet.unwrap_or(last)));
        InPlugin { prev }
    })
}

/// Is this thread inside a call into a plugin? (ABI 1.1 `in_plugin_call`:
/// the SDK's panic hook stays silent for panics the call will report.)
pub(crate) fn in_plugin_call() -> bool {
    CURRENT.with(|c| c.get().0 != 0)
}

/// See [`enter`].
pub(crate) struct InPlugin {
    prev: u32,
}

impl Drop for InPlugin {
    fn drop(&mut self) {
        // The packet number stays: a summary call names the packet last
        // dissected on this thread.
        CURRENT.with(|c| c.set((self.prev, c.get().1)));
    }
}

fn install() {
    PREVIOUS.get_or_init(|| {
        SIGNALS
            .iter()
            .map(|&sig| {
                // SAFETY: zeroed `sigaction`s are valid plain C structs (SIG_DFL,
                // empty mask); `sigaction` fills `old` and installs `new`, whose
                // handler has the SA_SIGINFO signature.
                unsafe {
                    let mut new: libc::sigaction = std::mem::zeroed();
                    new.sa_sigaction = on_fatal as *const () as libc::sighandler_t;
                    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                    libc::sigemptyset(&raw mut new.sa_mask);
                    let mut old: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(sig, &raw const new, &raw mut old) != 0 {
                        old.sa_sigaction = libc::SIG_DFL;
                    }
                    old
                }
            })
            .collect()
    });
}

fn signal_name(sig: c_int) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGABRT => "SIGABRT",
        _ => "a fatal signal",
    }
}

/// A `fmt::Write` into a fixed buffer that drops what does not fit.
struct Buf {
    bytes: [u8; 1024],
    len: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

extern "C" fn on_fatal(sig: c_int, info: *mut libc::siginfo_t, uctx: *mut c_void) {
    let (index, packet) = CURRENT.try_with(Cell::get).unwrap_or((0, 0));
    if index == 0 {
        pass_on(sig, info, uctx);
        return;
    }
    let mut b = Buf {
        bytes: [0; 1024],
        len: 0,
    };
    let _ = b.write_str("pcapx: plugin ");
    match PLUGINS.try_lock() {
        Ok(p) => match p.get((index - 1) as usize) {
            Some((name, file)) => {
                let _ = write!(b, "{name} ({file})");
            }
            None => {
                let _ = b.write_str("?");
            }
        },
        Err(_) => {
            let _ = b.write_str("?");
        }
    }
    let _ = write!(b, " crashed with {} on packet {packet}", signal_name(sig));
    if let Ok(i) = INPUT.try_lock()
        && !i.is_empty()
    {
        let _ = write!(b, " of {}", *i);
    }
    let _ = b.write_str("\n");
    // SAFETY: `write` is async-signal-safe; the buffer is valid for `len` bytes.
    unsafe {
        libc::write(2, b.bytes.as_ptr().cast(), b.len);
    }
    if let Some(f) = CLEANUP.get() {
        f();
    }
    // SAFETY: `_exit` is async-signal-safe and does not return.
    unsafe { libc::_exit(2) }
}

/// A fault outside plugin code: the previous handler, else the default
/// action (re-raised for signals that were sent rather than caused by the
/// faulting instruction, which otherwise runs again and dies by default).
fn pass_on(sig: c_int, info: *mut libc::siginfo_t, uctx: *mut c_void) {
    let prev = PREVIOUS.get().and_then(|v| {
        SIGNALS
            .iter()
            .position(|&s| s == sig)
            .and_then(|i| v.get(i))
    });
    if let Some(p) = prev
        && p.sa_sigaction != libc::SIG_DFL
        && p.sa_sigaction != libc::SIG_IGN
    {
        if p.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: with SA_SIGINFO the previous handler has exactly this
            // signature; it is called with the arguments we were given.
            let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                unsafe { std::mem::transmute(p.sa_sigaction) };
            f(sig, info, uctx);
        } else {
            // SAFETY: without SA_SIGINFO `sa_sigaction` is a plain handler.
            let f: extern "C" fn(c_int) = unsafe { std::mem::transmute(p.sa_sigaction) };
            f(sig);
        }
        return;
    }
    // SAFETY: restoring the default action with a zeroed (SIG_DFL) sigaction
    // and raising are async-signal-safe; `info` is the kernel's, valid here.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &raw const dfl, std::ptr::null_mut());
        let sent = info.as_ref().is_none_or(|i| i.si_code <= 0);
        if sent || sig == libc::SIGABRT {
            libc::raise(sig);
        }
    }
}
