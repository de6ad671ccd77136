//! Errors. Every variant names the file (as given by the caller; standard
//! input is `<stdin>`). The I/O cause is both in the message (so the message
//! alone reads well) and the `source()` (so callers can match on its
//! `io::ErrorKind`); chain printers skip a cause already in the message.

use std::io;

/// Reading a capture failed. Damage inside an otherwise readable capture is
/// *not* an error: it is reported through [`crate::Damage`] events.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The bytes are neither pcap nor pcapng (also: an empty file).
    #[error("{path}: not a pcap or pcapng file")]
    NotCapture {
        /// The file as named by the caller.
        path: String,
    },
    /// The file starts like a capture but its file/section header is unusable.
    #[error("{path}: damaged file header: {message}")]
    BadHeader {
        /// The file as named by the caller.
        path: String,
        /// What is wrong with the header.
        message: String,
    },
    /// The file became shorter while it was being read (truncated or
    /// rewritten by another process). Every packet up to `after` was read
    /// intact; nothing after it was used.
    #[error("{path}: file shrank from {} to {} while being read (after packet {after})", human(*.from), human(*.to))]
    Shrank {
        /// The file as named by the caller.
        path: String,
        /// Size when it was opened.
        from: u64,
        /// Size when the shrink was noticed.
        to: u64,
        /// The last packet read intact (0: none).
        after: u64,
    },
    /// Opening, mapping or reading failed.
    #[error("{path}: {err}")]
    Io {
        /// The file as named by the caller.
        path: String,
        /// The operating system's error.
        #[source]
        err: io::Error,
    },
    /// Live capture could not start or failed (names the interface).
    #[error("{iface}: {message}")]
    Live {
        /// The interface.
        iface: String,
        /// What went wrong.
        message: String,
    },
}

impl CaptureError {
    /// The file the error is about.
    pub fn path(&self) -> &str {
        match self {
            CaptureError::NotCapture { path }
            | CaptureError::BadHeader { path, .. }
            | CaptureError::Shrank { path, .. }
            | CaptureError::Io { path, .. } => path,
            CaptureError::Live { iface, .. } => iface,
        }
    }
}

/// A size for messages: bytes below 10 MB, whole megabytes (10^6) above.
fn human(n: u64) -> String {
    if n < 10_000_000 {
        format!("{n} bytes")
    } else {
        format!("{} MB", n / 1_000_000)
    }
}

/// [`crate::copy_through`] failed: either reading the input or writing the output.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Reading the input capture failed.
    #[error(transparent)]
    Read(#[from] CaptureError),
    /// Writing the output failed.
    #[error("write error: {0}")]
    Write(#[source] io::Error),
}
