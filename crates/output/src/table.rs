//! Table specifications: the columns of a table and which packets make rows.

use std::sync::Arc;

use pcapx_core::{Column, FieldId, FieldType, Fields, ProtoId, Registry, Wanted};

use crate::OutputError;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Jsonl,
    Parquet,
}

impl Format {
    pub fn from_name(s: &str) -> Option<Format> {
        Some(match s.to_ascii_lowercase().as_str() {
            "csv" => Format::Csv,
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::Jsonl,
            "parquet" | "pq" => Format::Parquet,
            _ => return None,
        })
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// Epoch seconds as a decimal with all nine digits.
    #[default]
    Epoch,
    /// ISO 8601 UTC with nanoseconds.
    Iso,
}

/// Which occurrence of a repeated field a cell shows (tshark's `-E occurrence`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Occurrence {
    #[default]
    First,
    Last,
    /// Every occurrence: joined with `;` in CSV and in Parquet strings, an array
    /// in JSON.
    All,
}

/// Where a column's value may come from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Anywhere in the packet (tshark's behaviour).
    Any,
    /// Only the layer directly above the first layer of this protocol: the
    /// tutorial's `packet[IP].payload` — a TCP header quoted inside an ICMP
    /// error does not fill `sport`.
    After(ProtoId),
}

/// How a column's integers are written when a table asks for display form
/// (`--names`, `--display-base`): Wireshark's value names, or tshark's
/// `0x…` for a hex-based field. Such a column is text in every format.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnDisplay {
    /// Value names sorted by value (empty: none asked for or declared).
    pub names: Vec<(u64, String)>,
    /// Hex digits for `0x…` (the field type's width), when asked for and the
    /// field is `BASE_HEX`.
    pub hex_digits: Option<usize>,
}

impl ColumnDisplay {
    /// The name of integer value `v`'s key (see `FieldDef::value_names`).
    pub fn name(&self, key: u64) -> Option<&str> {
        self.names
            .binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .map(|i| self.names[i].1.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct ColumnSpec {
    /// Header name (what the user asked for, or the tutorial's name).
    pub name: String,
    /// The field, or an alias's fields (the outermost present one is used).
    pub fields: Vec<FieldId>,
    pub ftype: FieldType,
    pub scope: Scope,
    /// Display form for integers ([`TableSpec::with_display`]); `None`:
    /// plain numbers.
    pub display: Option<Arc<ColumnDisplay>>,
}

impl ColumnSpec {
    pub fn from_column(reg: &Registry, name: &str, c: &Column, scope: Scope) -> ColumnSpec {
        let ftype = c
            .fields
            .first()
            .map_or(FieldType::Str, |&f| reg.field(f).ftype);
        ColumnSpec {
            name: name.to_owned(),
            fields: c.fields.clone(),
            ftype,
            scope,
            display: None,
        }
    }

    /// The type the column is written as: text when it has a display form.
    pub fn output_type(&self) -> FieldType {
        if self.display.is_some() {
            FieldType::Str
        } else {
            self.ftype
        }
    }
}

#[derive(Clone, Debug)]
pub struct TableSpec {
    pub columns: Vec<ColumnSpec>,
    pub time_format: TimeFormat,
    pub occurrence: Occurrence,
    /// Rows only for packets that have this protocol (the tutorial's `pkts[IP]`).
    pub require: Option<ProtoId>,
}

impl TableSpec {
    /// Ask for display form: `names` writes an integer's value name (where
    /// its field declares one; other values stay numbers), `base` writes a
    /// `BASE_HEX` unsigned field as `tshark -T fields` does (`0x0800`,
    /// zero-padded to the type's width). Columns this changes become text
    /// columns (strings in JSON and Parquet); the rest are untouched.
    #[must_use]
    pub fn with_display(mut self, reg: &Registry, names: bool, base: bool) -> TableSpec {
        for c in &mut self.columns {
            // An alias column shows the first of its fields' declarations
            // (its type comes from there too).
            let Some(&f) = c.fields.first() else { continue };
            if f.index() >= reg.field_count() {
                continue;
            }
            let def = reg.field(f);
            let d = ColumnDisplay {
                names: if names {
                    def.value_names.clone()
                } else {
                    Vec::new()
                },
                hex_digits: if base { def.hex_width() } else { None },
            };
            if !d.names.is_empty() || d.hex_digits.is_some() {
                c.display = Some(Arc::new(d));
            }
        }
        self
    }

    /// The fields a worker must materialise for this table.
    pub fn wanted(&self, field_count: usize) -> Wanted {
        let mut w = Wanted::none(field_count);
        for c in &self.columns {
            for &f in &c.fields {
                w.insert(f);
            }
        }
        w
    }

    /// The protocols whose layers the table reads besides its columns'
    /// fields: the one a row requires and those transport columns follow
    /// (for [`pcapx_core::Engine::new_fields_for`]).
    pub fn kept_protocols(&self) -> Vec<ProtoId> {
        let mut v: Vec<ProtoId> = self.require.into_iter().collect();
        for c in &self.columns {
            if let Scope::After(p) = c.scope
                && !v.contains(&p)
            {
                v.push(p);
            }
        }
        v
    }

    /// Does this packet make a row?
    #[inline]
    pub fn accepts(&self, fields: &Fields) -> bool {
        match self.require {
            None => true,
            Some(p) => fields.layers().iter().any(|l| l.proto == p && !l.quoted),
        }
    }
}

/// The Scapy tutorial's 26 columns, in its order: (header, field or alias,
/// transport). IPv4 header fields come from the first IPv4 layer; transport
/// fields (`transport = true`) only from the layer directly above it
/// (`packet[IP].payload`), so a header quoted in an ICMP error fills nothing —
/// the tutorial's `None`.
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

/// Resolve one user-given name (field or alias) to a column, or fail with a
/// "did you mean" hint.
pub fn resolve_column(reg: &Registry, name: &str, scope: Scope) -> Result<ColumnSpec, OutputError> {
    match reg.resolve(name) {
        Some(c) => Ok(ColumnSpec::from_column(reg, name, &c, scope)),
        None => Err(OutputError::Usage(match reg.suggest(name) {
            Some(s) => format!("unknown field '{name}' (did you mean '{s}'?)"),
            None => format!("unknown field '{name}' (see `pcapx fields`)"),
        })),
    }
}

impl TableSpec {
    /// The table `convert`/`stats` work on: the tutorial's (no `fields`) or
    /// the user's comma-separated fields; one row per IPv4 packet for the
    /// tutorial's table, one per packet with `all` or an explicit field list.
    pub fn build(
        reg: &Registry,
        fields: Option<&str>,
        all: bool,
        time_format: TimeFormat,
        occurrence: Occurrence,
    ) -> Result<TableSpec, OutputError> {
        let ip = reg.proto_by_name("ip");
        let columns = match fields {
            Some(list) => {
                let cols = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|name| resolve_column(reg, name, Scope::Any))
                    .collect::<Result<Vec<_>, _>>()?;
                if cols.is_empty() {
                    return Err(OutputError::Usage(
                        "--fields needs at least one field name".into(),
                    ));
                }
                cols
            }
            None => {
                let Some(ip) = ip else {
                    return Err(OutputError::Usage(
                        "the IPv4 dissector is not registered".into(),
                    ));
                };
                TUTORIAL_COLUMNS
                    .iter()
                    .map(|&(header, name, transport)| {
                        let scope = if transport {
                            Scope::After(ip)
                        } else {
                            Scope::Any
                        };
                        let mut c = resolve_column(reg, name, scope)?;
                        header.clone_into(&mut c.name);
                        Ok(c)
                    })
                    .collect::<Result<Vec<_>, OutputError>>()?
            }
        };
        let require = if all || fields.is_some() { None } else { ip };
        Ok(TableSpec {
            columns,
            time_format,
            occurrence,
            require,
        })
    }
}
