//! Opening captures and walking their records, with the packet filter and the
//! `-c` limit applied the same way for every command.

use std::ops::ControlFlow;

use anyhow::Result;
use pcapx_capture::{Batch, Capture, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS, Record};
use pcapx_core::PacketMeta;

use crate::filter::PacketFilter;

/// Open a capture (`-` is standard input). The error names the file.
pub fn open(file: &str) -> Result<Capture> {
    Ok(Capture::open(file)?)
}

/// The engine's view of a record.
pub fn meta<'a>(r: &Record<'a>) -> PacketMeta<'a> {
    PacketMeta {
        number: r.number,
        ts_ns: r.ts_ns,
        caplen: r.caplen,
        wirelen: r.wirelen,
        linktype: r.linktype,
        interface: r.interface,
        comment: r.comment,
    }
}

/// How many records a walk saw, and what became of them.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counts {
    /// Records read from the file.
    pub read: u64,
    /// Records the filter rejected.
    pub filtered_out: u64,
    /// Records handed to the command.
    pub used: u64,
}

/// Walk every record in order; `f` gets the ones that pass the filter, until
/// `limit` of them have been used or `f` breaks.
pub fn walk(
    cap: &mut Capture,
    filter: &mut PacketFilter,
    limit: Option<u64>,
    mut f: impl FnMut(&Record<'_>) -> Result<ControlFlow<()>>,
) -> Result<Counts> {
    let mut c = Counts::default();
    let mut err: Option<anyhow::Error> = None;
    if limit == Some(0) {
        return Ok(c);
    }
    cap.try_for_each(|rec| {
        c.read += 1;
        match filter.matches(rec) {
            Ok(true) => {}
            Ok(false) => {
                c.filtered_out += 1;
                return ControlFlow::Continue(());
            }
            Err(e) => {
                err = Some(e);
                return ControlFlow::Break(());
            }
        }
        c.used += 1;
        match f(rec) {
            Ok(ControlFlow::Continue(())) => {}
            Ok(ControlFlow::Break(())) => return ControlFlow::Break(()),
            Err(e) => {
                err = Some(e);
                return ControlFlow::Break(());
            }
        }
        if limit.is_some_and(|l| c.used >= l) {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(c),
    }
}

/// Tell the user on standard error what the reader had to skip. Damage is not
/// fatal: every good packet was processed.
pub fn report_damage(cap: &Capture) {
    let n = cap.damage_count();
    if n == 0 {
        return;
    }
    let name = &cap.info().path;
    eprintln!(
        "pcapx: {name}: warning: {n} damaged record(s) or block(s) skipped; the rest was read"
    );
    for d in cap.damage().iter().take(5) {
        eprintln!("pcapx: {name}: {d}");
    }
    if n > 5 {
        eprintln!("pcapx: {name}: … and {} more", n - 5);
    }
}

/// A batch on its way to a pipeline worker, with what the reader decided for
/// each record: which passed the filter and how many the `-c` limit allows.
pub struct Work {
    pub batch: Batch,
    /// Records (from the start of the batch) that the reader has counted.
    pub take: usize,
    /// Per record: passed the filter.
    pub pass: Vec<bool>,
}

impl Work {
    /// The records a worker should process: `(record, passed the filter)`.
    pub fn records(&self) -> impl Iterator<Item = (Record<'_>, bool)> {
        self.batch
            .iter()
            .take(self.take)
            .enumerate()
            .map(|(i, r)| (r, self.pass.get(i).copied().unwrap_or(false)))
    }
}

/// Feeds the parallel pipeline from the reader's thread: batches in file
/// order, the filter applied and the `-c` limit counted there, so the limit
/// is exact whatever the thread count.
pub struct Feeder<'a> {
    cap: &'a mut Capture,
    filter: PacketFilter,
    limit: Option<u64>,
    used: u64,
    done: bool,
}

impl<'a> Feeder<'a> {
    pub fn new(cap: &'a mut Capture, filter: PacketFilter, limit: Option<u64>) -> Feeder<'a> {
        Feeder {
            cap,
            filter,
            limit,
            used: 0,
            done: limit == Some(0),
        }
    }

    /// The next batch, or `None` at the end of the file or of the limit.
    pub fn next_work(&mut self) -> Result<Option<Work>> {
        if self.done {
            return Ok(None);
        }
        let Some(batch) = self
            .cap
            .next_batch(DEFAULT_BATCH_RECORDS, DEFAULT_BATCH_BYTES)?
        else {
            return Ok(None);
        };
        let mut pass = Vec::with_capacity(batch.len());
        for rec in batch.iter() {
            if self.limit.is_some_and(|l| self.used >= l) {
                self.done = true;
                break;
            }
            let ok = self.filter.matches(&rec)?;
            self.used += u64::from(ok);
            pass.push(ok);
        }
        let take = pass.len();
        Ok(Some(Work { batch, take, pass }))
    }
}
