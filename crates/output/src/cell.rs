//! Taking a cell's value(s) out of a dissected packet and formatting them.

use pcapx_core::value::{write_epoch, write_iso8601};
use pcapx_core::{Fields, Value};

use crate::table::{ColumnSpec, Occurrence, Scope, TimeFormat};

/// Call `f` for each value the cell holds under `occ` (none when absent).
pub fn for_each_value<'f>(
    col: &ColumnSpec,
    fields: &'f Fields,
    occ: Occurrence,
    mut f: impl FnMut(Value<'f>),
) {
    match col.scope {
        Scope::Any => {
            let Some(field) = fields.outermost(&col.fields) else {
                return;
            };
            match occ {
                Occurrence::First => {
                    if let Some(v) = fields.first(field) {
                        f(v);
                    }
                }
                Occurrence::Last => {
                    if let Some(v) = fields.last(field) {
                        f(v);
                    }
                }
                Occurrence::All => fields.all(field).for_each(f),
            }
        }
        Scope::After(p) => {
            let layers = fields.layers();
            let Some(li) = layers.iter().position(|l| l.proto == p) else {
                return;
            };
            let Ok(target) = u16::try_from(li + 1) else {
                return;
            };
            if occ == Occurrence::First {
                // Fast path: the column's earliest entry in the packet (entries
                // are in layer order) is usually in the target layer itself; if
                // it lies past the target layer, that layer has none.
                let Some(e) = fields
                    .outermost(&col.fields)
                    .and_then(|f| fields.first_entry(f))
                else {
                    return;
                };
                match e.layer.cmp(&target) {
                    std::cmp::Ordering::Equal => {
                        f(fields.value(e));
                        return;
                    }
                    std::cmp::Ordering::Greater => return,
                    std::cmp::Ordering::Less => {} // an earlier layer has it: scan
                }
            }
            let mut it = fields
                .layer_entries(target)
                .filter(|e| col.fields.contains(&e.field))
                .map(|e| fields.value(e));
            match occ {
                Occurrence::First => {
                    if let Some(v) = it.next() {
                        f(v);
                    }
                }
                Occurrence::Last => {
                    if let Some(v) = it.last() {
                        f(v);
                    }
                }
                Occurrence::All => it.for_each(f),
            }
        }
    }
}

/// Formats values as text cells into a byte buffer, reusing scratch space.
#[derive(Default)]
pub struct CellWriter {
    pub time_format: TimeFormat,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl CellWriter {
    /// Append the plain-text form of `v` (tshark's `-T fields` style, decimal
    /// integers, booleans as 1/0).
    pub fn text(&self, out: &mut Vec<u8>, v: Value<'_>) {
        let mut ib = itoa::Buffer::new();
        match v {
            Value::U64(x) => out.extend_from_slice(ib.format(x).as_bytes()),
            Value::I64(x) => out.extend_from_slice(ib.format(x).as_bytes()),
            Value::F64(x) => {
                use std::io::Write as _;
                let _ = write!(out, "{x}");
            }
            Value::Bool(b) => out.push(if b { b'1' } else { b'0' }),
            Value::Ipv4(a) => {
                for (i, o) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    out.extend_from_slice(ib.format(*o).as_bytes());
                }
            }
            Value::Mac(m) => {
                for (i, o) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(b':');
                    }
                    out.push(HEX[usize::from(o >> 4)]);
                    out.push(HEX[usize::from(o & 15)]);
                }
            }
            Value::Bytes(b) => {
                for o in b {
                    out.push(HEX[usize::from(o >> 4)]);
                    out.push(HEX[usize::from(o & 15)]);
                }
            }
            Value::Str(s) => out.extend_from_slice(s.as_bytes()),
            Value::Time(ns) => {
                let mut w = VecFmt(out);
                let _ = match self.time_format {
                    TimeFormat::Epoch => write_epoch(&mut w, ns),
                    TimeFormat::Iso => write_iso8601(&mut w, ns),
                };
            }
            Value::Ipv6(_) => {
                use std::io::Write as _;
                let _ = write!(out, "{v}");
            }
        }
    }
}

/// `fmt::Write` into a byte vector, so `Display`-style formatting needs no
/// intermediate `String`.
pub(crate) struct VecFmt<'a>(pub &'a mut Vec<u8>);

impl std::fmt::Write for VecFmt<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
