//! The CLI's side of opening inputs: a capture FILE or a live capture on the
//! `-i` interfaces, from the command's arguments. Walking records, the
//! filter, the `-c` limit, the `Feeder` and the ordered pipeline live in
//! `pcapx_facade` (shared with the Python package) and are re-exported here.

use std::ops::ControlFlow;

use anyhow::{Result, bail};
use pcapx_capture::{Capture, Record};
use pcapx_core::Reassembled;
pub use pcapx_facade::input::{
    Counts, StreamIds, StreamPass, Work, meta, open_file, report_damage,
};
use pcapx_facade::{PassOptions, ReadOptions, Source};

use crate::cli::{Input, LiveArgs, TimePrecision};

/// Open the command's input: the capture FILEs (directories and globs
/// expanded, read in order as one stream), or a live capture on the `-i`
/// interfaces (same batches, same records; the filter also goes into the
/// kernel).
pub fn open(input: &Input) -> Result<Source> {
    if input.live.interfaces.is_empty() {
        if input.files.is_empty() {
            bail!("give a capture FILE (`-` for standard input) or -i IFACE for a live capture");
        }
        if input.live.duration.is_some() {
            bail!("--duration applies to live capture (-i IFACE) only");
        }
        return Ok(Source::open(&input.files, input.filter.as_deref())?);
    }
    let cap = open_either(
        "",
        &input.live,
        input.filter.as_deref(),
        !input.files.is_empty(),
    )?;
    Ok(Source::from_capture(
        cap,
        &input.name(),
        input.filter.as_deref(),
    )?)
}

/// A capture FILE or a live capture on the `-i` interfaces (for commands
/// that read one input); `has_file`: the command also named a file.
pub fn open_either(
    file: &str,
    live: &LiveArgs,
    filter: Option<&str>,
    has_file: bool,
) -> Result<Capture> {
    if live.interfaces.is_empty() {
        if file.is_empty() {
            bail!("give a capture FILE (`-` for standard input) or -i IFACE for a live capture");
        }
        if live.duration.is_some() {
            bail!("--duration applies to live capture (-i IFACE) only");
        }
        return Ok(open_file(file)?);
    }
    if !file.is_empty() || has_file {
        bail!("give either a capture FILE or -i IFACE, not both");
    }
    let cfg = crate::cmd::live_config(
        &live.interfaces,
        0,
        4,
        true,
        filter.map(str::to_owned),
        live.duration,
        TimePrecision::Nano,
    )?;
    let cap = Capture::open_live(&cfg)?;
    crate::cmd::announce(&cap.live_interfaces().unwrap_or_default());
    Ok(cap)
}

/// [`pcapx_facade::walk`] with the CLI's error type.
pub fn walk(
    src: &mut Source,
    limit: Option<u64>,
    f: impl FnMut(&Record<'_>) -> Result<ControlFlow<()>>,
) -> Result<Counts> {
    pcapx_facade::walk(src, limit, f)
}

/// [`pcapx_facade::walk_with_committed`] with the CLI's error type.
pub fn walk_with_committed(
    src: &mut Source,
    limit: Option<u64>,
    pass: Option<&mut StreamPass<'_>>,
    f: impl FnMut(&Record<'_>, &Reassembled<'_>) -> Result<ControlFlow<()>>,
    commit: impl FnMut() -> Result<()>,
) -> Result<Counts> {
    pcapx_facade::walk_with_committed(src, limit, pass, f, commit)
}

impl Input {
    /// The input's name for messages: the files as given, or the
    /// interfaces.
    pub fn name(&self) -> String {
        if self.live.interfaces.is_empty() {
            self.files.join(", ")
        } else {
            self.live.interfaces.join(",")
        }
    }

    /// The input files (directories and globs expanded; none for a live
    /// capture), for the guard that refuses an output over an input.
    pub fn paths(&self) -> Result<Vec<String>> {
        if self.files.is_empty() {
            return Ok(Vec::new());
        }
        Ok(pcapx_facade::source::expand(&self.files)?)
    }

    /// The one capture FILE of a command that reads a single file.
    pub fn single_file(&self, command: &str) -> Result<&str> {
        match self.files.as_slice() {
            [] => Ok(""),
            [one] => Ok(one),
            _ => bail!(
                "pcapx {command} reads one capture FILE, not {}",
                self.files.len()
            ),
        }
    }

    /// The facade's options for this input, with `threads` workers.
    pub fn read_options(&self, threads: Option<usize>, community_id_seed: u16) -> ReadOptions {
        ReadOptions {
            filter: self.filter.clone(),
            limit: self.limit,
            no_defrag: self.no_defrag,
            no_desegment: self.no_desegment,
            threads,
            community_id_seed,
        }
    }
}

impl PassOptions for Input {
    fn defrag(&self) -> bool {
        !self.no_defrag
    }
    fn desegment(&self) -> bool {
        !self.no_desegment
    }
}
