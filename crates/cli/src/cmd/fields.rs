//! `pcapx fields`: every registered field (the answer to Scapy's `fields_desc`
//! and `tshark -G fields`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::cli::FieldsArgs;

#[derive(Serialize)]
struct FieldRow<'a> {
    protocol: &'a str,
    name: &'a str,
    display: &'a str,
    #[serde(rename = "type")]
    ftype: &'a str,
    aliases: Vec<&'a str>,
    description: &'a str,
    origin: &'a str,
    /// `hex` for a `BASE_HEX` integer (shown as `0x…` by `show` and by
    /// `convert --display-base`); absent for decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<&'static str>,
    /// The field's value names (`{"2": "MOVE"}`); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    value_names: Vec<ValueName<'a>>,
}

#[derive(Serialize)]
struct ValueName<'a> {
    value: i128,
    name: &'a str,
}

pub fn run(a: &FieldsArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let reg = ctx.engine.registry();
    if let Some(l) = &a.layer
        && reg.proto_by_name(l).is_none()
    {
        bail!(
            "unknown protocol '{l}' (protocols: {})",
            reg.protocols()
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // An alias is listed on every field it can stand for.
    let alias_of = |id| -> Vec<&str> {
        reg.aliases()
            .iter()
            .filter(|c| c.fields.contains(&id))
            .map(|c| c.name.as_str())
            .collect()
    };
    let mut rows = Vec::new();
    for (pi, p) in reg.protocols().iter().enumerate() {
        if a.layer.as_deref().is_some_and(|l| l != p.name) {
            continue;
        }
        let pid = pcapx_core::ProtoId(u32::try_from(pi)?);
        for (id, f) in reg.fields_of(pid) {
            rows.push(FieldRow {
                protocol: &p.name,
                name: &f.name,
                display: &f.display,
                ftype: f.ftype.name(),
                aliases: alias_of(id),
                description: &f.description,
                origin: &p.origin,
                base: (f.base == pcapx_core::Base::Hex && f.ftype.is_integer()).then_some("hex"),
                value_names: f
                    .value_names
                    .iter()
                    .map(|(k, n)| ValueName {
                        // A signed field's key is its two's-complement pattern.
                        #[allow(clippy::cast_possible_wrap)]
                        value: if f.ftype.is_signed() {
                            i128::from(*k as i64)
                        } else {
                            i128::from(*k)
                        },
                        name: n,
                    })
                    .collect(),
            });
        }
    }
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
