//! Field tables: which columns, how a cell is taken from a dissected packet, and
//! the encoders/writers for CSV, JSON, JSON Lines and Parquet.
//!
//! The split follows the pipeline: an *encoder* lives in each worker and turns
//! the packets of one batch into an [`Encoded`] batch (bytes for text formats,
//! typed column vectors for Parquet); the single *writer* receives the batches
//! in packet order and writes them out. Nothing here allocates per packet once
//! warm, except Parquet's string columns, which slice one shared buffer.

#[cfg(feature = "arrow")]
pub mod arrow_out;
pub mod atomic;
mod cell;
mod parquet_out;
mod parquet_page;
mod parquet_str;
mod table;
mod text;

pub use atomic::{AtomicOutput, Durability, OutputFileError, WriteBehind, check_not_input};
pub use cell::{CellWriter, first_value, for_each_value};
pub use parquet_out::{ColumnBatch, PageBatch, ParquetEncoder, ParquetWriter};
pub use table::{
    ColumnSpec, Format, Occurrence, Scope, TUTORIAL_COLUMNS, TableSpec, TimeFormat, resolve_column,
};
pub use text::{TextEncoder, TextWriter};

use pcapx_core::Fields;

/// One batch's rows, encoded by a worker.
pub enum Encoded {
    Text {
        bytes: Vec<u8>,
        rows: u64,
    },
    /// Typed columns (also what a Parquet writer gets from small batches).
    Columns(parquet_out::ColumnBatch),
    /// Ready for a Parquet writer: integer columns as finished pages,
    /// string columns as distinct values and indices.
    Pages(parquet_out::PageBatch),
}

impl Encoded {
    pub fn rows(&self) -> u64 {
        match self {
            Encoded::Text { rows, .. } => *rows,
            Encoded::Columns(c) => c.rows(),
            Encoded::Pages(p) => p.rows(),
        }
    }
}

/// Whom the workers encode rows for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A [`Writer`] of this format (Parquet: [`Encoded::Pages`], the
    /// columns encoded by the workers).
    Writer(Format),
    /// The caller, as typed columns ([`Encoded::Columns`]): Arrow batches,
    /// partitioned datasets.
    Columns,
}

/// A per-worker row encoder for any format.
pub enum Encoder {
    Text(Box<TextEncoder>),
    /// `pages`: hand over [`Encoded::Pages`] (for a [`Writer`]) rather than
    /// typed columns.
    Parquet {
        enc: Box<ParquetEncoder>,
        pages: bool,
    },
}

impl Encoder {
    pub fn new(spec: &TableSpec, target: Target) -> Encoder {
        match target {
            Target::Writer(Format::Parquet) => Encoder::Parquet {
                enc: Box::new(ParquetEncoder::new(spec)),
                pages: true,
            },
            Target::Columns => Encoder::Parquet {
                enc: Box::new(ParquetEncoder::new(spec)),
                pages: false,
            },
            Target::Writer(format) => Encoder::Text(Box::new(TextEncoder::new(format))),
        }
    }
    /// Encode one packet as a row (the caller has checked [`TableSpec::accepts`]).
    pub fn push(&mut self, spec: &TableSpec, fields: &Fields) {
        match self {
            Encoder::Text(t) => t.push(spec, fields),
            Encoder::Parquet { enc, .. } => enc.push(spec, fields),
        }
    }
    /// Hand over the rows encoded since the last call.
    pub fn take(&mut self) -> Encoded {
        match self {
            Encoder::Text(t) => t.take(),
            Encoder::Parquet { enc, pages: false } => Encoded::Columns(enc.take()),
            Encoder::Parquet { enc, pages: true } => match enc.take_pages() {
                Ok(p) => Encoded::Pages(p),
                Err(c) => Encoded::Columns(c),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{0}")]
    Usage(String),
}

/// The single writer that receives encoded batches in packet order.
pub enum Writer<W: std::io::Write + Send> {
    Text(TextWriter<W>),
    Parquet(Box<ParquetWriter<W>>),
}

impl<W: std::io::Write + Send> Writer<W> {
    pub fn new(out: W, spec: &TableSpec, format: Format) -> Result<Writer<W>, OutputError> {
        Ok(match format {
            Format::Parquet => Writer::Parquet(Box::new(ParquetWriter::new(out, spec)?)),
            _ => Writer::Text(TextWriter::new(out, spec, format)?),
        })
    }
    pub fn write(&mut self, batch: Encoded) -> Result<(), OutputError> {
        match (self, batch) {
            (Writer::Text(w), Encoded::Text { bytes, rows }) => {
                let written = w.write(&bytes, rows);
                text::recycle(bytes);
                written
            }
            (Writer::Parquet(w), Encoded::Columns(c)) => w.write(c),
            (Writer::Parquet(w), Encoded::Pages(p)) => w.write_pages(p),
            _ => Err(OutputError::Usage(
                "internal: batch format does not match the writer".into(),
            )),
        }
    }
    pub fn finish(self) -> Result<u64, OutputError> {
        match self {
            Writer::Text(w) => w.finish(),
            Writer::Parquet(w) => (*w).finish(),
        }
    }
}
