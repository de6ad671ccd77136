//! One Scapy-style summary line per packet (`pcapx summary`,
//! `pcapx.summary`).

use std::ops::ControlFlow;

use pcapx_core::{Engine, Wanted};

use crate::input::{self, StreamPass};
use crate::{Error, ReadOptions, Source};

/// Every packet that passes the filter and the limit, as its summary line
/// (no newline) to `line`, in order. `commit` runs after each batch once its
/// bytes are known to be the file's own (see [`input::walk_committed`]), so
/// a caller that holds lines back per batch never shows lines made from a
/// shrinking file's zeroed pages. `numeric`: port numbers instead of service
/// names. Warnings (damaged records, reassembly) go to standard error.
pub fn lines<E: From<Error>>(
    engine: &Engine,
    src: &mut Source,
    opts: &ReadOptions,
    numeric: bool,
    mut line: impl FnMut(&str) -> Result<(), E>,
    commit: impl FnMut() -> Result<(), E>,
) -> Result<input::Counts, E> {
    let mut fields = engine.new_fields(Wanted::All);
    let mut text = String::new();
    let mut pass = StreamPass::for_input(engine, opts, None, 0);
    let counts = input::walk_with_committed(
        src,
        opts.limit,
        pass.as_mut(),
        |rec, side| {
            engine.dissect_with(&input::meta(rec), rec.data, side, &mut fields);
            text.clear();
            engine.summary_into_with(&fields, rec.data, side, numeric, &mut text);
            line(&text)?;
            Ok(ControlFlow::Continue(()))
        },
        commit,
    )?;
    src.report_damage();
    if let Some(p) = &pass {
        p.report(&src.label());
    }
    Ok(counts)
}
