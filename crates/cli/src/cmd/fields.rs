//! `pcapx fields`: every registered field (the answer to Scapy's `fields_desc`
//! and `tshark -G fields`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::FieldsArgs;

pub fn run(a: &FieldsArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let reg = ctx.engine.registry();
    let rows = pcapx_facade::fields::list(reg, a.layer.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if a.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        let w_name = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        let w_alias = rows
            .iter()
            .map(|r| r.aliases.join(",").len())
            .max()
            .unwrap_or(7)
            .max(7);
        let mut last_proto = "";
        for r in &rows {
            if r.protocol != last_proto {
                let p = reg.proto_by_name(r.protocol).map(|id| reg.protocol(id));
                let display = p.map_or("", |p| p.display.as_str());
                if !last_proto.is_empty() {
                    writeln!(out)?;
                }
                writeln!(out, "{} — {} ({})", r.protocol, display, r.origin)?;
                last_proto = r.protocol;
            }
            writeln!(
                out,
                "  {:w_name$}  {:8}  {:w_alias$}  {}",
                r.name,
                r.ftype,
                r.aliases.join(","),
                if r.description.is_empty() {
                    r.display
                } else {
                    r.description
                },
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
