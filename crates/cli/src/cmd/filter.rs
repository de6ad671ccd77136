//! `pcapx filter`: `tcpdump -r FILE -w OUT EXPR` in Rust (matching records
//! copied byte for byte, headers kept), and `--dump` to print the compiled
//! classic-BPF program like `tcpdump -d`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::cli::FilterArgs;
use crate::filter::{PacketFilter, filter_error};
use crate::input;
use crate::{outfile, signals};
use pcapx_capture::{CaptureWriter, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS};
use pcapx_output::{Durability, WriteBehind};

pub fn run(a: &FilterArgs) -> Result<ExitCode> {
    if a.dump {
        let [expr] = a.args.as_slice() else {
            bail!(
                "filter --dump takes one expression (quote it): pcapx filter --dump 'tcp port 80'"
            );
        };
        let Some(lt) = pcapx_filter::linktype_from_name(&a.linktype) else {
            bail!(
                "unknown link type '{}' (use a libpcap name such as EN10MB, RAW, LINUX_SLL, NULL, or a number)",
                a.linktype
            );
        };
        // As `tcpdump -d`, which compiles for a live capture (`inbound` on
        // Ethernet reads the socket's packet type).
        let opts = pcapx_filter::Options {
            snaplen: a.snaplen,
            live: true,
            ..pcapx_filter::Options::new(lt)
        };
        let prog = pcapx_filter::compile_with(expr, &opts).map_err(|e| filter_error(expr, &e))?;
        let mut out = std::io::stdout().lock();
        out.write_all(prog.dump().as_bytes())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let (file, expr) = match (a.args.as_slice(), a.live.interfaces.is_empty()) {
        ([file, expr], true) => (file.clone(), expr),
        ([expr], false) => (a.live.interfaces.join(","), expr),
        _ => bail!(
            "usage: pcapx filter FILE EXPR -o OUT, pcapx filter -i IFACE EXPR -o OUT, or pcapx filter --dump EXPR"
        ),
    };
    let file = &file;
    let Some(out_path) = &a.output else {
        bail!("pcapx filter needs an output file: -o OUT");
    };
    // A capture file is costly to recreate: synced before it takes its name.
    let inputs = a.live.interfaces.is_empty().then_some(file);
    let target = outfile::create(out_path, inputs, Durability::Sync)?;
    let mut cap = if a.live.interfaces.is_empty() {
        input::open_either(file, &a.live, None, false)?
    } else {
        input::open_either("", &a.live, Some(expr), false)?
    };
    let mut filter = PacketFilter::for_capture(file, Some(expr), &cap)?;
    let written_to = || format!("writing {}", out_path.display());
    // Synced before it takes its name: start the writeback as it goes.
    let mut w = CaptureWriter::new(WriteBehind::new(target.handle()?));
    let mut read = 0u64;
    let mut kept = 0u64;
    let full = |kept: u64| a.limit.is_some_and(|l| kept >= l);
    while !full(kept)
        && let Some(batch) = cap.next_batch(DEFAULT_BATCH_RECORDS, DEFAULT_BATCH_BYTES)?
    {
        signals::check()?;
        let mut err = None;
        let wrote = w.write_batch(&batch, |_, rec| {
            // Records after the N-th match are neither read nor written.
            if err.is_some() || full(kept) {
                return false;
            }
            read += 1;
            let keep = filter.matches(rec).unwrap_or_else(|e| {
                err = Some(e);
                false
            });
            kept += u64::from(keep);
            keep
        });
        if wrote.is_err() {
            // Records are written straight from the map: a write that read
            // past a shrunk end fails with EFAULT; report the shrinking.
            batch.check_intact()?;
        }
        wrote.with_context(written_to)?;
        if let Some(e) = err {
            return Err(e.into());
        }
        batch.check_intact()?;
        cap.recycle(batch);
    }
    let written = w.records_written();
    w.finish().with_context(written_to)?;
    outfile::commit(target)?;
    input::report_damage(&cap);
    if a.verbose {
        eprintln!(
            "pcapx: {file}: {} packets read, {} written to {}, {} filtered out",
            read,
            written,
            out_path.display(),
            read - written
        );
    }
    Ok(ExitCode::SUCCESS)
}
