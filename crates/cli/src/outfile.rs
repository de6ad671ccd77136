//! Every command that writes a file goes through [`create`]: the output is
//! refused when it is one of the inputs (before anything is opened for
//! writing), and is otherwise an all-or-nothing
//! [`pcapx_output::AtomicOutput`] that the command commits with [`commit`]
//! once everything was written. See ARCHITECTURE.md, "Outputs".

use std::path::Path;

use anyhow::Result;
use pcapx_output::{AtomicOutput, Durability, check_not_input};

use crate::signals;

/// Refuses `output` if it resolves to one of `inputs` (`pcapx: output t.pcap
/// is the input t.pcap`), without creating anything.
pub fn guard<P: AsRef<Path>>(output: &Path, inputs: impl IntoIterator<Item = P>) -> Result<()> {
    check_not_input(output, inputs)?;
    Ok(())
}

/// [`guard`], then prepares the all-or-nothing output.
pub fn create<P: AsRef<Path>>(
    output: &Path,
    inputs: impl IntoIterator<Item = P>,
    durability: Durability,
) -> Result<AtomicOutput> {
    guard(output, inputs)?;
    Ok(AtomicOutput::create(output, durability)?)
}

/// Makes a finished output visible, unless a signal arrived meanwhile (then
/// the temporary file is removed and the run reports the interruption).
pub fn commit(out: AtomicOutput) -> Result<()> {
    signals::check()?;
    out.commit()?;
    Ok(())
}

/// Where a table goes: an all-or-nothing file (`-o`; Parquet synced before
/// it takes its name, being costly to recreate) or standard output. Returns
/// the uncommitted file (commit it with [`commit`]), the stream to write to,
/// and the destination's name for messages.
pub fn table_output(
    output: Option<&Path>,
    inputs: &[String],
    format: pcapx_output::Format,
) -> Result<(Option<AtomicOutput>, Box<dyn std::io::Write + Send>, String)> {
    let durability = if format == pcapx_output::Format::Parquet {
        Durability::Sync
    } else {
        Durability::NoSync
    };
    let Some(p) = output else {
        return Ok((
            None,
            Box::new(std::io::stdout()),
            "standard output".to_owned(),
        ));
    };
    let target = create(p, inputs, durability)?;
    let handle = target.handle()?;
    Ok((Some(target), Box::new(handle), p.display().to_string()))
}
