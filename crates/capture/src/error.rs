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
            | CaptureError::Io { path, .. } => path,
            CaptureError::Live { iface, .. } => iface,
        }
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
