//! Table specifications: the columns of a table and which packets make rows.

use pcapx_core::{Column, FieldId, FieldType, Fields, ProtoId, Registry, Wanted};

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

#[derive(Clone, Debug)]
pub struct ColumnSpec {
    /// Header name (what the user asked for, or the tutorial's name).
    pub name: String,
    /// The field, or an alias's fields (the outermost present one is used).
    pub fields: Vec<FieldId>,
    pub ftype: FieldType,
    pub scope: Scope,
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

    /// Does this packet make a row?
    #[inline]
    pub fn accepts(&self, fields: &Fields) -> bool {
        match self.require {
            None => true,
            Some(p) => fields.layers().iter().any(|l| l.proto == p && !l.quoted),
        }
    }
}
