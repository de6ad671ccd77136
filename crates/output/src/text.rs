//! CSV (RFC 4180, via the `csv` crate), JSON (one array) and JSON Lines.

use std::io::Write;
use std::sync::Mutex;

use pcapx_core::{Fields, Value};

use crate::cell::{CellWriter, Row, push_ipv4, push_u64, push_u64_then};
use crate::table::{Format, Occurrence, TableSpec};
use crate::{Encoded, OutputError};

/// Capacity of a batch's text buffer.
const BUF_CAP: usize = 1 << 20;
/// How many written-out buffers wait for reuse at most.
const SPARE_MAX: usize = 4;

/// Text buffers the writer has written out, for the encoders to fill again.
/// A fresh 1 MiB buffer per batch cost a page fault per 4 KiB on every
/// batch (glibc gives a worker arena's freed top back to the kernel): about
/// 7,800 extra faults on the 1M-packet bench capture with 2 threads.
static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn spare_buffer() -> Vec<u8> {
    SPARE
        .lock()
        .ok()
        .and_then(|mut s| s.pop())
        .unwrap_or_else(|| Vec::with_capacity(BUF_CAP))
}

/// Hands a written-out batch buffer back for reuse (kept only while few
/// wait, and only buffers of ordinary size, so memory stays bounded).
pub(crate) fn recycle(mut b: Vec<u8>) {
    if b.capacity() < BUF_CAP || b.capacity() > 4 * BUF_CAP {
        return;
    }
    b.clear();
    if let Ok(mut s) = SPARE.lock()
        && s.len() < SPARE_MAX
    {
        s.push(b);
    }
}

/// Per-worker encoder for the text formats.
pub struct TextEncoder {
    format: Format,
    buf: Vec<u8>,
    cell: Vec<u8>,
    rows: u64,
    names: Vec<Vec<u8>>,
}

impl TextEncoder {
    pub fn new(format: Format) -> TextEncoder {
        TextEncoder {
            format,
            buf: spare_buffer(),
            cell: Vec::with_capacity(256),
            rows: 0,
            names: Vec::new(),
        }
    }

    pub fn push(&mut self, spec: &TableSpec, fields: &Fields) {
        let cw = CellWriter {
            time_format: spec.time_format,
        };
        match self.format {
            Format::Csv => {
                // Cells are formatted straight into the batch buffer and quoted
                // afterwards only if they need it (RFC 4180: a cell holding
                // `,`, `"`, CR or LF is wrapped in quotes, inner quotes doubled).
                // Only strings can hold those; every other value's text is
                // digits, hex and `.:-;`.
                let mut row = Row::new(fields);
                let first = spec.occurrence == Occurrence::First;
                for col in &spec.columns {
                    let start = self.buf.len();
                    let mut quote = false;
                    if first {
                        if let Some(e) = row.first_entry(col) {
                            // Integers first, without a jump on the value's
                            // kind (an indirect jump whose target changes
                            // from cell to cell mispredicts often).
                            match e.as_u64() {
                                Some(x) if col.display.is_none() => {
                                    // A number never needs quoting; its
                                    // separator goes with its digits.
                                    push_u64_then(&mut self.buf, x, b',');
                                    continue;
                                }
                                _ if col.display.is_none()
                                    && let Some(a) = e.as_ipv4() =>
                                {
                                    // An address never needs quoting either.
                                    push_ipv4(&mut self.buf, a);
                                    self.buf.push(b',');
                                    continue;
                                }
                                _ => {
                                    let v = fields.value(e);
                                    quote = matches!(v, Value::Str(_));
                                    quote |= cw.cell(&mut self.buf, col, v);
                                }
                            }
                        }
                    } else {
                        let mut n = 0;
                        let buf = &mut self.buf;
                        row.for_each(col, spec.occurrence, |v| {
                            if n > 0 {
                                buf.push(b';');
                            }
                            n += 1;
                            quote |= matches!(v, Value::Str(_));
                            quote |= cw.cell(buf, col, v);
                        });
                    }
                    if quote {
                        quote_csv_tail(&mut self.buf, start, &mut self.cell);
                    }
                    // Every cell ends with a separator; the row's last one
                    // becomes the line end below (one test per row, not one
                    // per cell).
                    self.buf.push(b',');
                }
                match self.buf.last_mut() {
                    Some(b) if !spec.columns.is_empty() => *b = b'\n',
                    _ => self.buf.push(b'\n'),
                }
            }
            Format::Json | Format::Jsonl => {
                if self.names.len() != spec.columns.len() {
                    self.names = spec
                        .columns
                        .iter()
                        .map(|c| serde_json::to_vec(&c.name).unwrap_or_else(|_| b"\"?\"".to_vec()))
                        .collect();
                }
                if self.format == Format::Json {
                    self.buf.extend_from_slice(b",\n");
                }
                self.buf.push(b'{');
                let mut row = Row::new(fields);
                for (i, col) in spec.columns.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(b',');
                    }
                    self.buf.extend_from_slice(&self.names[i]);
                    self.buf.push(b':');
                    if spec.occurrence == Occurrence::First && col.display.is_none() {
                        // One value or null; integers without a jump on the
                        // value's kind (as in the CSV branch).
                        match row.first_entry(col) {
                            Some(e) => match e.as_u64() {
                                Some(x) => push_u64(&mut self.buf, x),
                                None => json_value(&mut self.buf, &cw, fields.value(e)),
                            },
                            None => self.buf.extend_from_slice(b"null"),
                        }
                        continue;
                    }
                    let all = spec.occurrence == Occurrence::All;
                    if all {
                        self.buf.push(b'[');
                    }
                    let mut n = 0;
                    let buf = &mut self.buf;
                    let cell = &mut self.cell;
                    row.for_each(col, spec.occurrence, |v| {
                        if n > 0 {
                            buf.push(b',');
                        }
                        n += 1;
                        match &col.display {
                            None => json_value(buf, &cw, v),
                            // A display column is text: every value a string.
                            Some(d) => {
                                cell.clear();
                                cw.display(cell, d, v);
                                json_str(buf, cell);
                            }
                        }
                    });
                    if all {
                        self.buf.push(b']');
                    } else if n == 0 {
                        self.buf.extend_from_slice(b"null");
                    }
                }
                self.buf.push(b'}');
                if self.format == Format::Jsonl {
                    self.buf.push(b'\n');
                }
            }
            Format::Parquet => {}
        }
        self.rows += 1;
    }

    pub fn take(&mut self) -> Encoded {
        let rows = std::mem::take(&mut self.rows);
        let bytes = std::mem::replace(&mut self.buf, spare_buffer());
        Encoded::Text { bytes, rows }
    }
}

/// Quote the cell `buf[start..]` in place if RFC 4180 requires it.
fn quote_csv_tail(buf: &mut Vec<u8>, start: usize, scratch: &mut Vec<u8>) {
    let Some(cell) = buf.get(start..) else { return };
    if !cell
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        return;
    }
    scratch.clear();
    scratch.push(b'"');
    for &b in cell {
        if b == b'"' {
            scratch.push(b'"');
        }
        scratch.push(b);
    }
    scratch.push(b'"');
    buf.truncate(start);
    buf.extend_from_slice(scratch);
}

fn json_value(out: &mut Vec<u8>, cw: &CellWriter, v: Value<'_>) {
    match v {
        Value::U64(_) | Value::I64(_) => cw.text(out, v),
        Value::F64(x) if x.is_finite() => cw.text(out, v),
        Value::F64(_) => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Str(s) => {
            let _ = serde_json::to_writer(&mut *out, s);
        }
        _ => {
            // Addresses, bytes and times are strings of their text form (times
            // keep every digit, which a JSON number would not). That text is
            // hex digits, decimal digits and `.:-TZ`: nothing to escape.
            out.push(b'"');
            cw.text(out, v);
            out.push(b'"');
        }
    }
}

/// `bytes` (UTF-8 text) as a JSON string.
fn json_str(out: &mut Vec<u8>, bytes: &[u8]) {
    let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(bytes));
}

/// The ordered writer for text formats.
pub struct TextWriter<W: Write> {
    out: W,
    format: Format,
    first: bool,
    rows: u64,
}

impl<W: Write> TextWriter<W> {
    pub fn new(mut out: W, spec: &TableSpec, format: Format) -> Result<TextWriter<W>, OutputError> {
        match format {
            Format::Csv => {
                // The header goes through the csv crate so quoting of odd names
                // follows RFC 4180 exactly like the rows.
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .from_writer(Vec::new());
                w.write_record(spec.columns.iter().map(|c| c.name.as_str()))
                    .map_err(|e| OutputError::Usage(e.to_string()))?;
                let head = w
                    .into_inner()
                    .map_err(|e| OutputError::Usage(e.to_string()))?;
                out.write_all(&head)?;
            }
            Format::Json => out.write_all(b"[")?,
            _ => {}
        }
        Ok(TextWriter {
            out,
            format,
            first: true,
            rows: 0,
        })
    }

    pub fn write(&mut self, bytes: &[u8], rows: u64) -> Result<(), OutputError> {
        let mut b = bytes;
        if self.format == Format::Json && self.first && !b.is_empty() {
            b = b.get(1..).unwrap_or(&[]); // drop the leading ',' of the very first row
            self.first = false;
        }
        self.out.write_all(b)?;
        self.rows += rows;
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64, OutputError> {
        if self.format == Format::Json {
            self.out
                .write_all(if self.first { b"]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(cell: &str) -> String {
        let mut buf = b"x,".to_vec();
        buf.extend_from_slice(cell.as_bytes());
        let mut scratch = Vec::new();
        quote_csv_tail(&mut buf, 2, &mut scratch);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn csv_quoting_follows_rfc4180_and_the_csv_crate() {
        for cell in [
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\r",
            "",
            "x;y",
        ] {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new());
            w.write_record(["x", cell]).unwrap();
            let want = String::from_utf8(w.into_inner().unwrap()).unwrap();
            assert_eq!(format!("{}\n", q(cell)), want, "cell {cell:?}");
        }
    }
}
