//! Parquet output with typed columns (arrow-rs `parquet` crate, low-level
//! column writers — no Arrow dependency, which keeps compile time down).
//!
//! Types: uint8/16/32 → INT32 with an unsigned INTEGER logical type of the
//! field's width; uint64 → INT64 unsigned; int64 → INT64; double → DOUBLE;
//! bool → BOOLEAN; time → INT64 TIMESTAMP(NANOS, UTC); addresses, strings,
//! MACs → BYTE_ARRAY STRING; bytes → BYTE_ARRAY. Every column is OPTIONAL
//! (an absent field is null). With `--occurrence all` every column is a string
//! of the values joined by `;`.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::column::page::{CompressedPage, PageWriteSpec, PageWriter};
use parquet::column::writer::{ColumnWriter, get_column_writer};
use parquet::data_type::ByteArray;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};
use parquet::schema::types::Type;
use pcapx_core::{FieldType, Fields, Value};

use crate::OutputError;
use crate::cell::{CellWriter, Row, push_ipv4};
use crate::parquet_page::{ChunkBuilder, NumPage, PageScratch, encode_page};
use crate::parquet_str::{Dedup, StrBatch, StrChunk};
use crate::table::{ColumnSpec, Occurrence, TableSpec, TimeFormat};

/// Rows per Parquet row group; batches are merged until this many rows.
pub const ROW_GROUP_ROWS: u64 = 128 * 1024;

/// A worker encodes its batch's integer columns as pages of their own when
/// the batch has at least this many rows; smaller batches (a selective
/// filter, the end of a file) go to the writer as values and are gathered
/// into pages there, so pages do not shrink with batches.
pub const MIN_PAGE_ROWS: u64 = 1024;

/// The most rows in one data page the writer makes from gathered values.
const MAX_PAGE_ROWS: usize = 16 * 1024;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    I32,
    I64,
    Bool,
    F64,
    Str,
    Bytes,
}

/// Is an integer column of this field stored with an unsigned logical type
/// (and so compared as unsigned in statistics)? `None`: not an integer
/// column (the writer's column writer encodes it).
fn unsigned_int(c: &ColumnSpec, k: Kind) -> Option<bool> {
    match k {
        Kind::I32 => Some(!matches!(
            c.ftype,
            FieldType::I8 | FieldType::I16 | FieldType::I32
        )),
        Kind::I64 => Some(c.ftype == FieldType::U64),
        _ => None,
    }
}

/// How a column's pages are made.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Enc {
    /// By pcapx: an integer column (`parquet_page`).
    Int { unsigned: bool },
    /// By pcapx: a string or bytes column, dictionary-encoded
    /// (`parquet_str`).
    Str,
    /// By the `parquet` crate's column writer (booleans, doubles).
    Values,
}

/// How each column of a table is encoded.
fn encodings(spec: &TableSpec, kinds: &[Kind]) -> Vec<Enc> {
    spec.columns
        .iter()
        .zip(kinds)
        .map(|(c, &k)| match (unsigned_int(c, k), k) {
            (Some(unsigned), _) => Enc::Int { unsigned },
            (None, Kind::Str | Kind::Bytes) => Enc::Str,
            _ => Enc::Values,
        })
        .collect()
}

pub(crate) fn kind_of(t: FieldType, occ: Occurrence) -> Kind {
    if occ == Occurrence::All {
        return Kind::Str;
    }
    match t {
        FieldType::U8
        | FieldType::U16
        | FieldType::U32
        | FieldType::I8
        | FieldType::I16
        | FieldType::I32 => Kind::I32,
        FieldType::U64 | FieldType::I64 | FieldType::Time => Kind::I64,
        FieldType::Bool => Kind::Bool,
        FieldType::F64 => Kind::F64,
        FieldType::Bytes => Kind::Bytes,
        FieldType::Ipv4 | FieldType::Ipv6 | FieldType::Mac | FieldType::Str => Kind::Str,
    }
}

/// One column's values for a run of rows.
#[derive(Clone, Debug)]
pub(crate) enum ColData {
    I32(Vec<i32>, Vec<i16>),
    I64(Vec<i64>, Vec<i16>),
    Bool(Vec<bool>, Vec<i16>),
    F64(Vec<f64>, Vec<i16>),
    /// Concatenated bytes, end offset per present value, definition levels.
    Bytes(Vec<u8>, Vec<usize>, Vec<i16>),
}

impl ColData {
    fn new(k: Kind) -> ColData {
        ColData::with_capacity(k, 0, 0)
    }

    /// Room for `rows` rows (and `bytes` bytes of a string column) without
    /// growing.
    fn with_capacity(k: Kind, rows: usize, bytes: usize) -> ColData {
        let d = Vec::with_capacity(rows);
        match k {
            Kind::I32 => ColData::I32(Vec::with_capacity(rows), d),
            Kind::I64 => ColData::I64(Vec::with_capacity(rows), d),
            Kind::Bool => ColData::Bool(Vec::with_capacity(rows), d),
            Kind::F64 => ColData::F64(Vec::with_capacity(rows), d),
            Kind::Str | Kind::Bytes => {
                ColData::Bytes(Vec::with_capacity(bytes), Vec::with_capacity(rows), d)
            }
        }
    }

    /// Bytes held by a string column (0 for the others).
    fn byte_len(&self) -> usize {
        match self {
            ColData::Bytes(b, ..) => b.len(),
            _ => 0,
        }
    }

    /// Split off the rows from `at` on (values follow their definition
    /// levels: only present values are stored).
    fn split_off(&mut self, at: usize) -> ColData {
        fn present(d: &[i16], at: usize) -> usize {
            d.iter().take(at).filter(|&&x| x > 0).count()
        }
        match self {
            ColData::I32(v, d) => {
                let n = present(d, at);
                ColData::I32(v.split_off(n), d.split_off(at.min(d.len())))
            }
            ColData::I64(v, d) => {
                let n = present(d, at);
                ColData::I64(v.split_off(n), d.split_off(at.min(d.len())))
            }
            ColData::Bool(v, d) => {
                let n = present(d, at);
                ColData::Bool(v.split_off(n), d.split_off(at.min(d.len())))
            }
            ColData::F64(v, d) => {
                let n = present(d, at);
                ColData::F64(v.split_off(n), d.split_off(at.min(d.len())))
            }
            ColData::Bytes(b, e, d) => {
                let n = present(d, at);
                let cut = if n == 0 { 0 } else { e[n - 1] };
                let tail_b = b.split_off(cut);
                let tail_e = e.split_off(n).into_iter().map(|x| x - cut).collect();
                ColData::Bytes(tail_b, tail_e, d.split_off(at.min(d.len())))
            }
        }
    }

    fn append(&mut self, other: ColData) {
        match (self, other) {
            (ColData::I32(v, d), ColData::I32(v2, d2)) => {
                v.extend(v2);
                d.extend(d2);
            }
            (ColData::I64(v, d), ColData::I64(v2, d2)) => {
                v.extend(v2);
                d.extend(d2);
            }
            (ColData::Bool(v, d), ColData::Bool(v2, d2)) => {
                v.extend(v2);
                d.extend(d2);
            }
            (ColData::F64(v, d), ColData::F64(v2, d2)) => {
                v.extend(v2);
                d.extend(d2);
            }
            (ColData::Bytes(b, e, d), ColData::Bytes(b2, e2, d2)) => {
                let base = b.len();
                b.extend(b2);
                e.extend(e2.into_iter().map(|x| x + base));
                d.extend(d2);
            }
            _ => {}
        }
    }
}

/// A batch of rows in column form.
#[derive(Debug)]
pub struct ColumnBatch {
    pub(crate) cols: Vec<ColData>,
    pub(crate) rows: u64,
}

impl ColumnBatch {
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Append `other`'s rows (same table).
    pub fn append(&mut self, other: ColumnBatch) {
        self.rows += other.rows;
        for (c, o) in self.cols.iter_mut().zip(other.cols) {
            c.append(o);
        }
    }

    /// Split off the rows from `at` on (`at` ≤ [`ColumnBatch::rows`]); this
    /// batch keeps the first `at`.
    pub fn split_off(&mut self, at: u64) -> ColumnBatch {
        let at = at.min(self.rows);
        let rows = usize::try_from(at).unwrap_or(usize::MAX);
        let cols = self.cols.iter_mut().map(|c| c.split_off(rows)).collect();
        let tail = ColumnBatch {
            cols,
            rows: self.rows - at,
        };
        self.rows = at;
        tail
    }
}

/// A batch ready for a [`ParquetWriter`]: its integer columns as finished
/// data pages, its string and bytes columns as distinct values and indices,
/// booleans and doubles as values for the writer's column writers.
#[derive(Debug)]
pub struct PageBatch {
    cols: Vec<FileCol>,
    rows: u64,
}

impl PageBatch {
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

#[derive(Debug)]
enum FileCol {
    Page(NumPage),
    Strs(StrBatch),
    Values(ColData),
}

/// Per-worker Parquet encoder.
pub struct ParquetEncoder {
    kinds: Vec<Kind>,
    /// How each column is encoded.
    encs: Vec<Enc>,
    batch: ColumnBatch,
    scratch: Vec<u8>,
    pages: PageScratch,
    dedup: Dedup,
}

#[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)]
fn to_i32(x: u64) -> i32 {
    // uint8/16/32 columns: the value fits 32 bits by the field's type; the bit
    // pattern is stored as Parquet prescribes for unsigned INT32.
    x as u32 as i32
}

#[allow(clippy::cast_possible_wrap)]
fn to_i64(x: u64) -> i64 {
    // uint64 columns store the bit pattern (Parquet's unsigned INT64).
    x as i64
}

/// A value as an INT32 column stores it (`None`: not a number).
#[inline]
fn i32_value(v: Value<'_>) -> Option<i32> {
    match v {
        // A signed field narrower than 64 bits fits.
        Value::I64(x) => Some(i32::try_from(x).unwrap_or(0)),
        _ => v.as_u64().map(to_i32),
    }
}

/// A value as an INT64 column stores it.
#[inline]
fn i64_value(v: Value<'_>) -> Option<i64> {
    match v {
        Value::U64(x) => Some(to_i64(x)),
        Value::I64(x) | Value::Time(x) => Some(x),
        _ => None,
    }
}

/// A value as a BOOLEAN column stores it.
#[inline]
fn bool_value(v: Value<'_>) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(b),
        _ => None,
    }
}

/// Append `x` (when present) and its definition level.
#[inline]
fn push_opt<T>(vals: &mut Vec<T>, d: &mut Vec<i16>, x: Option<T>) {
    d.push(i16::from(x.is_some()));
    if let Some(x) = x {
        vals.push(x);
    }
}

impl ParquetEncoder {
    pub fn new(spec: &TableSpec) -> ParquetEncoder {
        let kinds: Vec<Kind> = spec
            .columns
            .iter()
            .map(|c| kind_of(c.output_type(), spec.occurrence))
            .collect();
        let cols = kinds.iter().map(|&k| ColData::new(k)).collect();
        ParquetEncoder {
            encs: encodings(spec, &kinds),
            kinds,
            batch: ColumnBatch { cols, rows: 0 },
            scratch: Vec::new(),
            pages: PageScratch::default(),
            dedup: Dedup::default(),
        }
    }

    pub fn push(&mut self, spec: &TableSpec, fields: &Fields) {
        if spec.occurrence == Occurrence::First {
            self.push_first(spec, fields);
        } else {
            self.push_any(spec, fields);
        }
    }

    /// [`ParquetEncoder::push`] for one value per cell (the default): each
    /// cell's entry is found directly and its value stored straight into
    /// its column, with no per-value closure and no scratch copy.
    fn push_first(&mut self, spec: &TableSpec, fields: &Fields) {
        let cw = CellWriter {
            time_format: TimeFormat::Epoch,
        };
        let mut row = Row::new(fields);
        for ((col, data), &kind) in spec
            .columns
            .iter()
            .zip(self.batch.cols.iter_mut())
            .zip(&self.kinds)
        {
            let Some(e) = row.first_entry(col) else {
                match data {
                    ColData::I32(_, d)
                    | ColData::I64(_, d)
                    | ColData::Bool(_, d)
                    | ColData::F64(_, d)
                    | ColData::Bytes(_, _, d) => d.push(0),
                }
                continue;
            };
            // Most cells are unsigned integers into integer columns: stored
            // straight from the entry, no `Value` in between.
            if let Some(x) = e.as_u64() {
                match data {
                    ColData::I32(vals, d) => {
                        vals.push(to_i32(x));
                        d.push(1);
                        continue;
                    }
                    ColData::I64(vals, d) => {
                        vals.push(to_i64(x));
                        d.push(1);
                        continue;
                    }
                    _ => {}
                }
            }
            // Addresses into string columns: formatted from the entry too.
            if let (Some(a), ColData::Bytes(b, ends, d), None) =
                (e.as_ipv4(), &mut *data, &col.display)
            {
                push_ipv4(b, a);
                ends.push(b.len());
                d.push(1);
                continue;
            }
            let v = fields.value(e);
            match data {
                ColData::Bytes(b, ends, d) => {
                    match v {
                        Value::Bytes(x) if kind == Kind::Bytes => b.extend_from_slice(x),
                        _ => {
                            cw.cell(b, col, v);
                        }
                    }
                    ends.push(b.len());
                    d.push(1);
                }
                ColData::I32(vals, d) => push_opt(vals, d, i32_value(v)),
                ColData::I64(vals, d) => push_opt(vals, d, i64_value(v)),
                ColData::Bool(vals, d) => push_opt(vals, d, bool_value(v)),
                ColData::F64(vals, d) => push_opt(vals, d, v.as_f64()),
            }
        }
        self.batch.rows += 1;
    }

    fn push_any(&mut self, spec: &TableSpec, fields: &Fields) {
        let cw = CellWriter {
            time_format: TimeFormat::Epoch,
        };
        let mut row = Row::new(fields);
        for (i, col) in spec.columns.iter().enumerate() {
            let data = &mut self.batch.cols[i];
            let scratch = &mut self.scratch;
            scratch.clear();
            let mut got = false;
            let mut n = 0usize;
            let kind = self.kinds[i];
            row.for_each(col, spec.occurrence, |v| {
                match (kind, data as &mut ColData) {
                    (Kind::Str, ColData::Bytes(..)) | (Kind::Bytes, ColData::Bytes(..)) => {
                        if n > 0 {
                            scratch.push(b';');
                        }
                        match v {
                            Value::Bytes(b) if kind == Kind::Bytes => scratch.extend_from_slice(b),
                            _ => {
                                cw.cell(scratch, col, v);
                            }
                        }
                        got = true;
                    }
                    (_, ColData::I32(vals, _)) if !got => {
                        if let Some(x) = i32_value(v) {
                            vals.push(x);
                            got = true;
                        }
                    }
                    (_, ColData::I64(vals, _)) if !got => {
                        if let Some(x) = i64_value(v) {
                            vals.push(x);
                            got = true;
                        }
                    }
                    (_, ColData::Bool(vals, _)) if !got => {
                        if let Some(x) = bool_value(v) {
                            vals.push(x);
                            got = true;
                        }
                    }
                    (_, ColData::F64(vals, _)) if !got => {
                        if let Some(x) = v.as_f64() {
                            vals.push(x);
                            got = true;
                        }
                    }
                    _ => {}
                }
                n += 1;
            });
            let def = i16::from(got);
            match data {
                ColData::I32(_, d)
                | ColData::I64(_, d)
                | ColData::Bool(_, d)
                | ColData::F64(_, d) => d.push(def),
                ColData::Bytes(b, e, d) => {
                    if got {
                        b.extend_from_slice(scratch);
                        e.push(b.len());
                    }
                    d.push(def);
                }
            }
        }
        self.batch.rows += 1;
    }

    pub fn take(&mut self) -> ColumnBatch {
        // The next batch is sized like this one, so its columns do not grow
        // row by row (a `realloc` every doubling, a tenth of the encoder's
        // instructions when they started empty).
        let rows = usize::try_from(self.batch.rows).unwrap_or(0);
        let cols = self
            .kinds
            .iter()
            .zip(&self.batch.cols)
            .map(|(&k, c)| ColData::with_capacity(k, rows, c.byte_len()))
            .collect();
        std::mem::replace(&mut self.batch, ColumnBatch { cols, rows: 0 })
    }

    /// [`ParquetEncoder::take`] for a [`ParquetWriter`]: a batch of at
    /// least [`MIN_PAGE_ROWS`] rows comes encoded here on the worker
    /// ([`PageBatch`]); a smaller one as values (`Err`), which the writer
    /// gathers into pages of a useful size.
    pub fn take_pages(&mut self) -> Result<PageBatch, ColumnBatch> {
        let batch = self.take();
        if batch.rows < MIN_PAGE_ROWS {
            return Err(batch);
        }
        PageBatch::encode(batch, &self.encs, &mut self.pages, &mut self.dedup)
    }
}

impl PageBatch {
    /// `batch` with its integer columns as one data page each and its
    /// string columns reduced to distinct values and indices; `Err(batch)`
    /// if a page cannot be made (the writer then encodes it again and
    /// reports why).
    fn encode(
        batch: ColumnBatch,
        encs: &[Enc],
        scratch: &mut PageScratch,
        dedup: &mut Dedup,
    ) -> Result<PageBatch, ColumnBatch> {
        let rows = usize::try_from(batch.rows).unwrap_or(usize::MAX);
        let mut done = Vec::with_capacity(batch.cols.len());
        for (data, enc) in batch.cols.iter().zip(encs) {
            done.push(match enc {
                Enc::Int { unsigned } => match encode_page(data, 0..rows, *unsigned, scratch) {
                    Ok(p) => Some(FileCol::Page(p)),
                    Err(_) => return Err(batch),
                },
                Enc::Str => match StrBatch::build(data, 0..rows, dedup) {
                    Some(b) => Some(FileCol::Strs(b)),
                    None => return Err(batch),
                },
                Enc::Values => None,
            });
        }
        let cols = batch
            .cols
            .into_iter()
            .zip(done)
            .map(|(data, col)| col.unwrap_or(FileCol::Values(data)))
            .collect();
        Ok(PageBatch {
            cols,
            rows: batch.rows,
        })
    }
}

fn schema(spec: &TableSpec) -> Result<Type, OutputError> {
    let mut fields = Vec::with_capacity(spec.columns.len());
    for c in &spec.columns {
        let k = kind_of(c.output_type(), spec.occurrence);
        let (phys, logical) = match k {
            Kind::I32 => {
                let w: i8 = match c.ftype {
                    FieldType::U8 | FieldType::I8 => 8,
                    FieldType::U16 | FieldType::I16 => 16,
                    _ => 32,
                };
                let signed = unsigned_int(c, k) == Some(false);
                (Physical::INT32, Some(LogicalType::integer(w, signed)))
            }
            Kind::I64 => match c.ftype {
                FieldType::Time => (
                    Physical::INT64,
                    Some(LogicalType::timestamp(true, TimeUnit::NANOS)),
                ),
                FieldType::U64 => (Physical::INT64, Some(LogicalType::integer(64, false))),
                _ => (Physical::INT64, None),
            },
            Kind::Bool => (Physical::BOOLEAN, None),
            Kind::F64 => (Physical::DOUBLE, None),
            Kind::Str => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
            Kind::Bytes => (Physical::BYTE_ARRAY, None),
        };
        let t = Type::primitive_type_builder(&c.name, phys)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(logical)
            .build()?;
        fields.push(Arc::new(t));
    }
    Ok(Type::group_type_builder("pcapx")
        .with_fields(fields)
        .build()?)
}

/// The ordered Parquet writer: adds each batch to the current row group's
/// column chunks as it comes, and closes the row group once it holds
/// [`ROW_GROUP_ROWS`] rows or more.
///
/// Integer columns arrive as finished data pages and string columns as
/// distinct values and indices ([`PageBatch`], made by the workers; see
/// `parquet_page` and `parquet_str`): integer pages are spliced into their
/// chunk, strings go into the chunk's dictionary and one index page. The
/// writer encodes from values itself only for rows gathered out of small
/// batches (and [`ColumnBatch`]es callers hand it directly). Booleans and
/// doubles are encoded by their own `parquet` column writer into compressed
/// pages in memory ([`MemPages`]). Closing the row group splices every
/// chunk into the file in column order (`append_column`), so a row group
/// waits as compressed pages, not as the workers' column batches.
pub struct ParquetWriter<W: Write + Send> {
    w: SerializedFileWriter<W>,
    /// The open row group's chunks.
    open: Vec<OpenChunk>,
    /// How each column is encoded.
    encs: Vec<Enc>,
    /// Rows of small batches not yet in the row group, gathered into pages
    /// of at least [`MIN_PAGE_ROWS`].
    carry: Option<ColumnBatch>,
    pages: PageScratch,
    dedup: Dedup,
    pending_rows: u64,
    rows: u64,
}

/// One column chunk of the open row group.
enum OpenChunk {
    /// A column writer and its page buffer.
    Values(Box<ColumnWriter<'static>>, SharedBuf),
    /// Finished integer pages.
    Pages(Box<ChunkBuilder>),
    /// A dictionary and its data pages.
    Strs(Box<StrChunk>),
}

fn mismatch() -> OutputError {
    OutputError::from(parquet::errors::ParquetError::General(
        "column data does not match the column's type".to_owned(),
    ))
}

/// A page buffer shared between a column writer (which owns its
/// [`PageWriter`]) and the Parquet writer that takes the bytes at the end.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Pages of one column chunk, serialised as in a file but into memory,
/// starting at offset 0 (what `append_column` expects).
struct MemPages {
    sink: TrackedWrite<SharedBuf>,
}

impl PageWriter for MemPages {
    fn write_page(&mut self, page: CompressedPage) -> parquet::errors::Result<PageWriteSpec> {
        SerializedPageWriter::new(&mut self.sink).write_page(page)
    }

    fn close(&mut self) -> parquet::errors::Result<()> {
        self.sink.flush()?;
        Ok(())
    }
}

impl<W: Write + Send> ParquetWriter<W> {
    pub fn new(out: W, spec: &TableSpec) -> Result<ParquetWriter<W>, OutputError> {
        let kinds: Vec<Kind> = spec
            .columns
            .iter()
            .map(|c| kind_of(c.output_type(), spec.occurrence))
            .collect();
        // The `parquet` column writers write only booleans and doubles here
        // (integers and strings are encoded by pcapx): plain, Snappy
        // compresses the repetitive ones.
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(false)
            .set_created_by(format!("pcapx {}", env!("CARGO_PKG_VERSION")));
        let w = SerializedFileWriter::new(out, Arc::new(schema(spec)?), Arc::new(props.build()))?;
        Ok(ParquetWriter {
            w,
            open: Vec::new(),
            encs: encodings(spec, &kinds),
            carry: None,
            pages: PageScratch::default(),
            dedup: Dedup::default(),
            pending_rows: 0,
            rows: 0,
        })
    }

    /// The chunks of a new row group.
    fn open_row_group(&self) -> Vec<OpenChunk> {
        let descr = self.w.schema_descr();
        (0..descr.num_columns())
            .map(|i| {
                match self.encs.get(i) {
                    Some(&Enc::Int { unsigned }) => {
                        return OpenChunk::Pages(Box::new(ChunkBuilder::new(
                            descr.column(i),
                            unsigned,
                        )));
                    }
                    Some(Enc::Str) => {
                        return OpenChunk::Strs(Box::new(StrChunk::new(descr.column(i))));
                    }
                    _ => {}
                }
                let buf = SharedBuf::default();
                let pages = MemPages {
                    sink: TrackedWrite::new(buf.clone()),
                };
                let cw = get_column_writer(
                    descr.column(i),
                    Arc::clone(self.w.properties()),
                    Box::new(pages),
                );
                OpenChunk::Values(Box::new(cw), buf)
            })
            .collect()
    }

    /// Add rows given as values: gathered until they fill a page.
    pub fn write(&mut self, batch: ColumnBatch) -> Result<(), OutputError> {
        if batch.rows == 0 {
            return Ok(());
        }
        match &mut self.carry {
            Some(c) => c.append(batch),
            None => self.carry = Some(batch),
        }
        if self.carry.as_ref().is_some_and(|c| c.rows >= MIN_PAGE_ROWS) {
            self.write_carry()?;
        }
        Ok(())
    }

    /// Add a batch whose integer columns a worker encoded.
    pub fn write_pages(&mut self, batch: PageBatch) -> Result<(), OutputError> {
        // Rows gathered before this batch come first.
        self.write_carry()?;
        if batch.rows == 0 {
            return Ok(());
        }
        if self.open.is_empty() {
            self.open = self.open_row_group();
        }
        for (chunk, col) in self.open.iter_mut().zip(batch.cols) {
            match (chunk, col) {
                (OpenChunk::Pages(b), FileCol::Page(p)) => b.push(&p)?,
                (OpenChunk::Strs(c), FileCol::Strs(b)) => c.push(&b)?,
                (OpenChunk::Values(cw, _), FileCol::Values(data)) => write_values(cw, data)?,
                _ => return Err(mismatch()),
            }
        }
        self.added(batch.rows)
    }

    /// Encode and add the gathered rows.
    fn write_carry(&mut self) -> Result<(), OutputError> {
        let Some(batch) = self.carry.take() else {
            return Ok(());
        };
        if self.open.is_empty() {
            self.open = self.open_row_group();
        }
        let rows = usize::try_from(batch.rows).unwrap_or(usize::MAX);
        for ((chunk, data), enc) in self.open.iter_mut().zip(batch.cols).zip(&self.encs) {
            match (chunk, enc) {
                (OpenChunk::Pages(b), Enc::Int { unsigned }) => {
                    let mut at = 0;
                    while at < rows {
                        let end = (at + MAX_PAGE_ROWS).min(rows);
                        b.push(&encode_page(&data, at..end, *unsigned, &mut self.pages)?)?;
                        at = end;
                    }
                }
                (OpenChunk::Strs(c), Enc::Str) => {
                    let mut at = 0;
                    while at < rows {
                        let end = (at + MAX_PAGE_ROWS).min(rows);
                        let b = StrBatch::build(&data, at..end, &mut self.dedup)
                            .ok_or_else(mismatch)?;
                        c.push(&b)?;
                        at = end;
                    }
                }
                (OpenChunk::Values(cw, _), Enc::Values) => write_values(cw, data)?,
                _ => return Err(mismatch()),
            }
        }
        self.added(batch.rows)
    }

    /// Count rows added to the row group; close it when full.
    fn added(&mut self, rows: u64) -> Result<(), OutputError> {
        self.pending_rows += rows;
        if self.pending_rows >= ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Close the open row group: its chunks go into the file in order.
    fn flush(&mut self) -> Result<(), OutputError> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let open = std::mem::take(&mut self.open);
        let rows = std::mem::take(&mut self.pending_rows);
        let mut rg = self.w.next_row_group()?;
        for chunk in open {
            match chunk {
                OpenChunk::Values(cw, buf) => {
                    let close = (*cw).close()?;
                    rg.append_column(&bytes::Bytes::from(buf.take()), close)?;
                }
                OpenChunk::Pages(b) => {
                    let (bytes, close) = (*b).finish()?;
                    rg.append_column(&bytes, close)?;
                }
                OpenChunk::Strs(c) => {
                    let (bytes, close) = (*c).finish()?;
                    rg.append_column(&bytes, close)?;
                }
            }
        }
        rg.close()?;
        self.rows += rows;
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64, OutputError> {
        self.write_carry()?;
        self.flush()?;
        let mut inner = self.w.into_inner()?;
        inner.flush()?;
        Ok(self.rows)
    }
}

/// One batch's values of a column into its column writer.
fn write_values(cw: &mut ColumnWriter<'static>, data: ColData) -> Result<(), OutputError> {
    match (cw, data) {
        (ColumnWriter::Int32ColumnWriter(c), ColData::I32(v, d)) => {
            c.write_batch(&v, Some(&d), None)?;
        }
        (ColumnWriter::Int64ColumnWriter(c), ColData::I64(v, d)) => {
            c.write_batch(&v, Some(&d), None)?;
        }
        (ColumnWriter::BoolColumnWriter(c), ColData::Bool(v, d)) => {
            c.write_batch(&v, Some(&d), None)?;
        }
        (ColumnWriter::DoubleColumnWriter(c), ColData::F64(v, d)) => {
            c.write_batch(&v, Some(&d), None)?;
        }
        (ColumnWriter::ByteArrayColumnWriter(c), ColData::Bytes(b, ends, d)) => {
            let shared = bytes::Bytes::from(b);
            let mut start = 0;
            let vals: Vec<ByteArray> = ends
                .iter()
                .map(|&e| {
                    let s = shared.slice(start..e);
                    start = e;
                    ByteArray::from(s)
                })
                .collect();
            c.write_batch(&vals, Some(&d), None)?;
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

#[cfg(test)]
#[path = "parquet_tests.rs"]
mod tests;
