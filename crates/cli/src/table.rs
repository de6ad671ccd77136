//! Column resolution: the tutorial's default table, `--fields` lists, and the
//! "unknown field (did you mean …)" error.

use anyhow::{Result, bail};
use pcapx_core::{Engine, Registry};
use pcapx_output::{ColumnSpec, Occurrence, Scope, TableSpec, TimeFormat};

/// The Scapy tutorial's 26 columns, in its order: (header, field or alias, scope).
/// IPv4 header fields come from the first IPv4 layer; transport fields only from
/// the layer directly above it (`packet[IP].payload`), so a header quoted in an
/// ICMP error fills nothing — the tutorial's `None`.
pub const TUTORIAL_COLUMNS: &[(&str, &str, bool)] = &[
    ("version", "ip.version", false),
    ("ihl", "ip.ihl", false),
    ("tos", "ip.dsfield", false),
    ("len", "ip.len", false),
    ("id", "ip.id", false),
    ("ip.flags", "ip.flags", false),
    ("frag", "ip.frag_offset", false),
    ("ttl", "ip.ttl", false),
    ("proto", "ip.proto", false),
    ("ip.chksum", "ip.checksum", false),
    ("src", "ip.src", false),
    ("dst", "ip.dst", false),
    ("ip.options", "ip.opt.count", false),
    ("time", "frame.time_epoch", false),
    ("sport", "sport", true),
    ("dport", "dport", true),
    ("seq", "tcp.seq", true),
    ("ack", "tcp.ack", true),
    ("dataofs", "tcp.dataofs", true),
    ("reserved", "tcp.reserved", true),
    ("tcp.flags", "tcp.flags", true),
    ("window", "tcp.window_size_value", true),
    ("tcp.chksum", "tcp.checksum", true),
    ("urgptr", "tcp.urgent_pointer", true),
    ("tcp.options", "tcp.opt.count", true),
    ("payload", "payload", true),
];

/// Resolve one user-given name to a column, or fail with a hint.
pub fn resolve(reg: &Registry, name: &str, scope: Scope) -> Result<ColumnSpec> {
    match reg.resolve(name) {
        Some(c) => Ok(ColumnSpec::from_column(reg, name, &c, scope)),
        None => match reg.suggest(name) {
            Some(s) => bail!("unknown field '{name}' (did you mean '{s}'?)"),
            None => bail!("unknown field '{name}' (see `pcapx fields`)"),
        },
    }
}

/// The table `convert`/`stats` work on: the tutorial's (default) or the user's
/// fields, over IPv4 packets (default) or all packets (`--all`, or whenever
/// `--fields` is given).
pub fn table_spec(
    engine: &Engine,
    fields: Option<&str>,
    all: bool,
    time_format: TimeFormat,
    occurrence: Occurrence,
) -> Result<TableSpec> {
    let reg = engine.registry();
    let ip = reg.proto_by_name("ip");
    let columns = match fields {
        Some(list) => {
            let mut cols = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                cols.push(resolve(reg, name, Scope::Any)?);
            }
            if cols.is_empty() {
                bail!("--fields needs at least one field name");
            }
            cols
        }
        None => {
            let Some(ip) = ip else {
                bail!("the IPv4 dissector is not registered")
            };
            TUTORIAL_COLUMNS
                .iter()
                .map(|&(header, name, transport)| {
                    let scope = if transport {
                        Scope::After(ip)
                    } else {
                        Scope::Any
                    };
                    let mut c = resolve(reg, name, scope)?;
                    header.clone_into(&mut c.name);
                    Ok(c)
                })
                .collect::<Result<Vec<_>>>()?
        }
    };
    // The tutorial's table has one row per IPv4 packet; an explicit field list
    // or --all gives one row per packet.
    let require = if all || fields.is_some() { None } else { ip };
    Ok(TableSpec {
        columns,
        time_format,
        occurrence,
        require,
    })
}
