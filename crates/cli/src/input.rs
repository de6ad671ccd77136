//! The CLI's side of opening inputs: a capture FILE or a live capture on the
//! `-i` interfaces, from the command's arguments. Walking records, the
//! filter, the `-c` limit, the `Feeder` and the ordered pipeline live in
//! `pcapx_facade` (shared with the Python package) and are re-exported here.

use std::ops::ControlFlow;

use anyhow::{Result, bail};
use pcapx_capture::{Capture, Record};
use pcapx_core::Reassembled;
pub use pcapx_facade::input::{
    Counts, Feeder, StreamIds, StreamPass, Work, meta, open_file, report_damage,
};
use pcapx_facade::{PacketFilter, PassOptions, ReadOptions};

use crate::cli::{Input, LiveArgs, TimePrecision};

/// Open the command's input: the capture FILE, or a live capture on the
/// `-i` interfaces (same batches, same records; the filter also goes into
/// the kernel).
pub fn open(input: &Input) -> Result<Capture> {
    open_either(&input.file, &input.live, input.filter.as_deref())
}

/// [`open`] from the parts (for commands without an [`Input`]).
pub fn open_either(file: &str, live: &LiveArgs, filter: Option<&str>) -> Result<Capture> {
    if live.interfaces.is_empty() {
        if file.is_empty() {
            bail!("give a capture FILE (`-` for standard input) or -i IFACE for a live capture");
        }
        if live.duration.is_some() {
            bail!("--duration applies to live capture (-i IFACE) only");
        }
        return Ok(open_file(file)?);
    }
    if !file.is_empty() {
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
    cap: &mut Capture,
    filter: &mut PacketFilter,
    limit: Option<u64>,
    f: impl FnMut(&Record<'_>) -> Result<ControlFlow<()>>,
) -> Result<Counts> {
    pcapx_facade::walk(cap, filter, limit, f)
}

/// [`pcapx_facade::walk_with_committed`] with the CLI's error type.
pub fn walk_with_committed(
    cap: &mut Capture,
    filter: &mut PacketFilter,
    limit: Option<u64>,
    pass: Option<&mut StreamPass<'_>>,
    f: impl FnMut(&Record<'_>, &Reassembled<'_>) -> Result<ControlFlow<()>>,
    commit: impl FnMut() -> Result<()>,
) -> Result<Counts> {
    pcapx_facade::walk_with_committed(cap, filter, limit, pass, f, commit)
}

impl Input {
    /// The input's name for messages: the file, or the interfaces.
    pub fn name(&self) -> String {
        if self.live.interfaces.is_empty() {
            self.file.clone()
        } else {
            self.live.interfaces.join(",")
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
