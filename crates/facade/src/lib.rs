//! pcapx's one engine behind both faces: the orchestration that turns capture
//! files into rows, shared by the `pcapx` CLI and the Python package
//! (`crates/python`), so a fix or a new option reaches both at once.
//!
//! * [`build_engine`] — the dissection engine: built-ins, then plugins.
//! * [`open_file`] — open a capture (`-` is standard input); [`Source`] —
//!   several captures, directories and globs read in order as one stream
//!   (record numbers continue as `mergecap -a` numbers them).
//! * [`PacketFilter`] — `--filter EXPR` (tcpdump syntax, classic BPF).
//! * [`ReadOptions`] — what every reading job takes: filter, `-c` limit,
//!   reassembly switches, threads.
//! * [`input`] — walking records ([`walk`]), and the parallel path: the
//!   [`Feeder`] (filter, limit and the stateful pass on the reader's thread)
//!   feeding [`pipeline`] (ordered workers).
//! * [`table`] — the table spec (`convert`'s columns, the tutorial's by
//!   default), [`table::run`] (the rows as encoded batches, as `convert`
//!   writes them), and [`table::scan`] (rows to partial aggregates, for
//!   `stats`, `describe`, `unique`).
//! * [`stats`] — `stats`' group-by and `describe` as jobs over one or more
//!   captures; [`summary`] — one line per packet; [`fields`] — the registry.
//! * [`interrupt`] — how a long run notices Ctrl-C: the CLI registers its
//!   signal flag, the Python package its `KeyboardInterrupt` check.
//!
//! Errors are [`Error`] (`thiserror`); functions that take the caller's
//! closures are generic over the caller's error type `E: From<Error>`, so the
//! CLI keeps `anyhow` at its edge.

pub mod engine;
pub mod fields;
pub mod filter;
pub mod flows;
pub mod input;
pub mod interrupt;
pub mod partition;
pub mod source;
pub mod stats;
pub mod summary;
pub mod table;

pub use engine::build as build_engine;
pub use filter::PacketFilter;
pub use input::{
    Counts, Feeder, PassOptions, StreamIds, StreamPass, Work, meta, open_file, pipeline,
    report_damage, walk, walk_committed, walk_with, walk_with_committed,
};
pub use interrupt::Interrupted;
pub use source::Source;

/// Everything that can stop a job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Capture(#[from] pcapx_capture::CaptureError),
    /// A filter expression that does not compile: `filter: <message>` and
    /// the expression with a caret under the column (indented), preceded by
    /// where it failed (`file: packet N: link type …`) when a packet's link
    /// type was the problem.
    #[error("{0}")]
    Filter(Box<FilterFailure>),
    #[error(transparent)]
    Output(#[from] pcapx_output::OutputError),
    #[error(transparent)]
    Pipeline(#[from] pcapx_pipeline::PipelineError),
    #[error(transparent)]
    Plugin(Box<pcapx_plugin_host::PluginError>),
    #[error(transparent)]
    Group(#[from] pcapx_stats::GroupError),
    #[error("{context}: {source}")]
    Engine {
        context: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The run was stopped by a signal (SIGINT/SIGTERM, or Python's
    /// KeyboardInterrupt).
    #[error("{0}")]
    Interrupted(#[from] Interrupted),
    /// Writing an output failed (names the path).
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// A wrong argument (unknown field, empty list, …).
    #[error("{0}")]
    Usage(String),
}

impl From<pcapx_plugin_host::PluginError> for Error {
    fn from(e: pcapx_plugin_host::PluginError) -> Error {
        Error::Plugin(Box::new(e))
    }
}

/// A filter expression that does not compile (see [`Error::Filter`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterFailure {
    pub expr: String,
    pub message: String,
    /// The expression and the caret line, each indented by four spaces.
    pub caret: String,
    /// Where it failed (`file: packet N: link type …`), when a packet's
    /// link type was the problem.
    pub at: Option<String>,
}

impl std::fmt::Display for FilterFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        write!(f, "filter: {}\n{}", self.message, self.caret)
    }
}

/// The options of every job that reads a capture.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// tcpdump/libpcap filter expression.
    pub filter: Option<String>,
    /// Stop after this many packets (counted after the filter).
    pub limit: Option<u64>,
    /// Do not reassemble fragmented IP datagrams.
    pub no_defrag: bool,
    /// Do not reassemble TCP segments into application PDUs, nor keep
    /// per-file datagram state (QUIC connections).
    pub no_desegment: bool,
    /// Worker threads (`None`: all cores); results are the same for any count.
    pub threads: Option<usize>,
    /// Community ID seed (`communityid` field).
    pub community_id_seed: u16,
}

/// libpcap's names for the link types pcapx knows (plus a few common others).
pub fn linktype_name(lt: u32) -> &'static str {
    match lt {
        0 => "NULL",
        1 => "EN10MB",
        9 => "PPP",
        12 | 14 | 101 => "RAW",
        105 => "IEEE802_11",
        108 => "LOOP",
        113 => "LINUX_SLL",
        127 => "IEEE802_11_RADIOTAP",
        228 => "IPV4",
        229 => "IPV6",
        239 => "NFLOG",
        276 => "LINUX_SLL2",
        _ => "unknown",
    }
}
