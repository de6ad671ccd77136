//! Integer column chunks encoded by pcapx itself, page by page, on the
//! worker that made the rows.
//!
//! A table's integer columns (every INT32 and INT64 column: the tutorial
//! table has 24 of them beside 2 strings) are where a Parquet run spends
//! its writer work: the `parquet` crate's column writer copies the values
//! into a growing page buffer, computes the page's min/max in a second
//! pass, RLE-encodes the definition levels and Snappy-compresses a page of
//! about 1 MiB, all on the one thread that writes the file. Here a worker
//! turns its batch's column into one finished data page instead — the
//! page header, the body compressed with Snappy, its row and null counts
//! and min/max — and the writer only splices pages into column chunks and
//! writes the chunk's metadata, offset index and column index.
//!
//! The page is a Parquet v1 data page, as the `parquet` crate writes it with
//! dictionaries off: definition levels RLE/bit-packed hybrid (bit width 1,
//! 4-byte length prefix), values PLAIN (little-endian), body compressed with
//! Snappy (raw format), no statistics in the page header (they are in the
//! column index). Statistics follow the column's sort order: unsigned
//! columns compare as unsigned and carry no deprecated min/max fields.

use bytes::Bytes;
use parquet::basic::{BoundaryOrder, Compression, Encoding, EncodingMask, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use crate::parquet_out::ColData;

/// The least and greatest present value of a page or chunk, in the
/// column's sort order (unsigned columns hold the bit pattern).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bounds {
    I32(i32, i32),
    I64(i64, i64),
}

impl Bounds {
    /// Does `self` hold a greater minimum or maximum than `other`'s
    /// (parquet's `compare_greater` on both ends)?
    fn either_greater(self, other: Bounds, unsigned: bool) -> bool {
        match (self, other) {
            (Bounds::I32(a, b), Bounds::I32(c, d)) => {
                if unsigned {
                    a.cast_unsigned() > c.cast_unsigned() || b.cast_unsigned() > d.cast_unsigned()
                } else {
                    a > c || b > d
                }
            }
            (Bounds::I64(a, b), Bounds::I64(c, d)) => {
                if unsigned {
                    a.cast_unsigned() > c.cast_unsigned() || b.cast_unsigned() > d.cast_unsigned()
                } else {
                    a > c || b > d
                }
            }
            _ => false,
        }
    }

    /// The smallest range holding both.
    fn merge(self, other: Bounds, unsigned: bool) -> Bounds {
        match (self, other) {
            (Bounds::I32(a, b), Bounds::I32(c, d)) => {
                if unsigned {
                    Bounds::I32(
                        a.cast_unsigned().min(c.cast_unsigned()).cast_signed(),
                        b.cast_unsigned().max(d.cast_unsigned()).cast_signed(),
                    )
                } else {
                    Bounds::I32(a.min(c), b.max(d))
                }
            }
            (Bounds::I64(a, b), Bounds::I64(c, d)) => {
                if unsigned {
                    Bounds::I64(
                        a.cast_unsigned().min(c.cast_unsigned()).cast_signed(),
                        b.cast_unsigned().max(d.cast_unsigned()).cast_signed(),
                    )
                } else {
                    Bounds::I64(a.min(c), b.max(d))
                }
            }
            (a, _) => a,
        }
    }

    /// Minimum and maximum as the column index stores them (PLAIN bytes).
    fn plain(self) -> (Vec<u8>, Vec<u8>) {
        match self {
            Bounds::I32(a, b) => (a.to_le_bytes().to_vec(), b.to_le_bytes().to_vec()),
            Bounds::I64(a, b) => (a.to_le_bytes().to_vec(), b.to_le_bytes().to_vec()),
        }
    }
}

// Minimum and maximum as two plain reductions, which vectorise.

fn bounds_i32(v: &[i32], unsigned: bool) -> Option<Bounds> {
    Some(if unsigned {
        let lo = v.iter().map(|x| x.cast_unsigned()).min()?;
        let hi = v.iter().map(|x| x.cast_unsigned()).max()?;
        Bounds::I32(lo.cast_signed(), hi.cast_signed())
    } else {
        Bounds::I32(*v.iter().min()?, *v.iter().max()?)
    })
}

fn bounds_i64(v: &[i64], unsigned: bool) -> Option<Bounds> {
    Some(if unsigned {
        let lo = v.iter().map(|x| x.cast_unsigned()).min()?;
        let hi = v.iter().map(|x| x.cast_unsigned()).max()?;
        Bounds::I64(lo.cast_signed(), hi.cast_signed())
    } else {
        Bounds::I64(*v.iter().min()?, *v.iter().max()?)
    })
}

/// One column's rows of a batch as one finished data page.
#[derive(Debug)]
pub(crate) struct NumPage {
    /// The page header and the compressed body, as they go into the file.
    pub(crate) bytes: Vec<u8>,
    /// Header plus uncompressed body (parquet's `total_uncompressed_size`
    /// counts headers too).
    pub(crate) uncompressed: u64,
    pub(crate) rows: u64,
    pub(crate) nulls: u64,
    pub(crate) bounds: Option<Bounds>,
}

/// A worker's buffers for encoding pages, reused from page to page.
#[derive(Default)]
pub(crate) struct PageScratch {
    body: Vec<u8>,
    compressor: Compressor,
}

/// Snappy with its output buffer, reused from page to page.
pub(crate) struct Compressor {
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
}

impl Default for Compressor {
    fn default() -> Compressor {
        Compressor {
            compressed: Vec::new(),
            snappy: snap::raw::Encoder::new(),
        }
    }
}

impl Compressor {
    /// Compress `body` and append it to `out` as `page` (made from the
    /// compressed bytes) with its header; returns the page's size as
    /// parquet counts it uncompressed (header + uncompressed body).
    pub(crate) fn write_page(
        &mut self,
        body: &[u8],
        out: &mut Vec<u8>,
        page: impl FnOnce(Bytes) -> Page,
    ) -> Result<u64, ParquetError> {
        let need = snap::raw::max_compress_len(body.len());
        if self.compressed.len() < need {
            self.compressed.resize(need, 0);
        }
        let n = self
            .snappy
            .compress(body, &mut self.compressed)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        let page = CompressedPage::new(
            page(Bytes::copy_from_slice(&self.compressed[..n])),
            body.len(),
        );
        let mut sink = TrackedWrite::new(out);
        let spec = {
            let mut w = SerializedPageWriter::new(&mut sink);
            let spec = w.write_page(page)?;
            w.close()?;
            spec
        };
        Ok(spec.uncompressed_size as u64)
    }
}

/// Append `x` as an unsigned LEB128 varint (the hybrid encoding's headers).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut x: u64) {
    loop {
        let low = u8::try_from(x & 0x7f).unwrap_or(0);
        x >>= 7;
        if x == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Most groups of 8 in one bit-packed run: its header stays one byte, as
/// the `parquet` crate writes it.
pub(crate) const MAX_GROUPS: u8 = 63;

/// Definition levels (0 or 1) in the RLE/bit-packed hybrid encoding of bit
/// width 1, after a 4-byte little-endian length (a v1 page's level
/// section). The levels are taken 8 at a time: consecutive groups of 8
/// equal levels make one RLE run, the other groups bit-packed runs; a last
/// group of fewer than 8 is bit-packed and padded with zeros (the page's
/// value count says where the levels end).
pub(crate) fn put_levels(levels: &[i16], out: &mut Vec<u8>) {
    /// The run being built.
    enum Open {
        None,
        /// An RLE run of this level, this many values.
        Rle(u8, u64),
        /// A bit-packed run: where its header byte is, how many groups.
        Packed(usize, u8),
    }
    fn close(out: &mut Vec<u8>, open: &Open) {
        if let Open::Rle(v, n) = *open {
            put_varint(out, n << 1);
            out.push(v);
        }
    }
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut open = Open::None;
    let (groups, tail) = levels.as_chunks::<8>();
    for g in groups {
        let mut byte = 0u8;
        for (k, &x) in g.iter().enumerate() {
            byte |= u8::from(x != 0) << k;
        }
        if byte == 0 || byte == 0xff {
            let v = byte & 1;
            match &mut open {
                Open::Rle(w, n) if *w == v => *n += 8,
                _ => {
                    close(out, &open);
                    open = Open::Rle(v, 8);
                }
            }
            continue;
        }
        match &mut open {
            Open::Packed(header, n) if *n < MAX_GROUPS => {
                *n += 1;
                out[*header] = (*n << 1) | 1;
            }
            _ => {
                close(out, &open);
                open = Open::Packed(out.len(), 1);
                out.push((1 << 1) | 1);
            }
        }
        out.push(byte);
    }
    close(out, &open);
    if !tail.is_empty() {
        let mut byte = 0u8;
        for (k, &x) in tail.iter().enumerate() {
            byte |= u8::from(x != 0) << k;
        }
        out.push((1 << 1) | 1);
        out.push(byte);
    }
    let len = u32::try_from(out.len() - at - 4).unwrap_or(u32::MAX);
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// Rows `rows` of a column (values `v` of its present rows, levels `d`)
/// into a page body: the definition levels, then the values PLAIN.
/// Returns the page's levels and values.
fn put_rows<'a, T: Copy, const N: usize>(
    v: &'a [T],
    d: &'a [i16],
    rows: std::ops::Range<usize>,
    body: &mut Vec<u8>,
    le: impl Fn(T) -> [u8; N],
) -> (&'a [i16], &'a [T]) {
    // Values are stored for present rows only: the rows before `rows.start`
    // that have one say where this page's values begin (a whole batch's
    // page has them all).
    let present = |l: &[i16]| l.iter().filter(|&&x| x > 0).count();
    let (from, n) = if rows.start == 0 && rows.end == d.len() {
        (0, v.len())
    } else {
        (present(&d[..rows.start]), present(&d[rows.clone()]))
    };
    let vals = &v[from..from + n];
    let levels = &d[rows];
    put_levels(levels, body);
    let base = body.len();
    body.resize(base + vals.len() * N, 0);
    for (to, &x) in body[base..].chunks_exact_mut(N).zip(vals) {
        to.copy_from_slice(&le(x));
    }
    (levels, vals)
}

fn too_big() -> ParquetError {
    ParquetError::General("a data page of more than 4 GiB".to_owned())
}

/// Encode rows `rows` of an integer column as one data page. `unsigned`:
/// the column's logical type is an unsigned integer.
pub(crate) fn encode_page(
    data: &ColData,
    rows: std::ops::Range<usize>,
    unsigned: bool,
    s: &mut PageScratch,
) -> Result<NumPage, ParquetError> {
    s.body.clear();
    let (levels, bounds, nulls) = match data {
        ColData::I32(v, d) => {
            let (levels, vals) = put_rows(v, d, rows, &mut s.body, i32::to_le_bytes);
            (
                levels,
                bounds_i32(vals, unsigned),
                levels.len() - vals.len(),
            )
        }
        ColData::I64(v, d) => {
            let (levels, vals) = put_rows(v, d, rows, &mut s.body, i64::to_le_bytes);
            (
                levels,
                bounds_i64(vals, unsigned),
                levels.len() - vals.len(),
            )
        }
        _ => {
            return Err(ParquetError::General(
                "internal: only integer columns are encoded page by page".to_owned(),
            ));
        }
    };
    let num_values = u32::try_from(levels.len()).map_err(|_| too_big())?;
    let mut bytes = Vec::with_capacity(s.body.len() / 2 + 64);
    let uncompressed = s
        .compressor
        .write_page(&s.body, &mut bytes, |buf| Page::DataPage {
            buf,
            num_values,
            encoding: Encoding::PLAIN,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        })?;
    Ok(NumPage {
        bytes,
        uncompressed,
        rows: levels.len() as u64,
        nulls: nulls as u64,
        bounds,
    })
}

/// The pages of one integer column chunk as they arrive, and what its
/// metadata needs: sizes, counts, chunk min/max, offset and column index.
pub(crate) struct ChunkBuilder {
    descr: ColumnDescPtr,
    unsigned: bool,
    bytes: Vec<u8>,
    uncompressed: u64,
    rows: u64,
    nulls: u64,
    pages: i32,
    bounds: Option<Bounds>,
    offsets: OffsetIndexBuilder,
    index: ColumnIndexBuilder,
    /// The last non-null page's bounds, and whether the pages so far are
    /// in ascending / descending order (the column index's boundary order).
    last: Option<Bounds>,
    ascending: bool,
    descending: bool,
}

impl ChunkBuilder {
    pub(crate) fn new(descr: ColumnDescPtr, unsigned: bool) -> ChunkBuilder {
        let physical = descr.physical_type();
        ChunkBuilder {
            index: ColumnIndexBuilder::new(physical),
            descr,
            unsigned,
            bytes: Vec::new(),
            uncompressed: 0,
            rows: 0,
            nulls: 0,
            pages: 0,
            bounds: None,
            offsets: OffsetIndexBuilder::new(),
            last: None,
            ascending: true,
            descending: true,
        }
    }

    pub(crate) fn push(&mut self, p: &NumPage) -> Result<(), ParquetError> {
        let offset = i64::try_from(self.bytes.len()).map_err(|_| too_big())?;
        let size = i32::try_from(p.bytes.len()).map_err(|_| too_big())?;
        let rows = i64::try_from(p.rows).map_err(|_| too_big())?;
        let nulls = i64::try_from(p.nulls).map_err(|_| too_big())?;
        self.offsets.append_offset_and_size(offset, size);
        self.offsets.append_row_count(rows);
        match p.bounds {
            None => self.index.append(true, Vec::new(), Vec::new(), nulls, None),
            Some(b) => {
                if let Some(last) = self.last {
                    if last.either_greater(b, self.unsigned) {
                        self.ascending = false;
                    }
                    if b.either_greater(last, self.unsigned) {
                        self.descending = false;
                    }
                }
                self.last = Some(b);
                let (lo, hi) = b.plain();
                self.index.append(false, lo, hi, nulls, None);
                self.bounds = Some(match self.bounds {
                    Some(c) => c.merge(b, self.unsigned),
                    None => b,
                });
            }
        }
        self.bytes.extend_from_slice(&p.bytes);
        self.uncompressed += p.uncompressed;
        self.rows += p.rows;
        self.nulls += p.nulls;
        self.pages += 1;
        Ok(())
    }

    /// The chunk's bytes (starting at offset 0) and what closing a column
    /// writer would report for them.
    pub(crate) fn finish(self) -> Result<(Bytes, ColumnCloseResult), ParquetError> {
        let signed = !self.unsigned;
        let int64 = self.descr.physical_type() == parquet::basic::Type::INT64;
        let statistics = match (int64, self.bounds) {
            (false, b) => {
                let (lo, hi) = match b {
                    Some(Bounds::I32(lo, hi)) => (Some(lo), Some(hi)),
                    _ => (None, None),
                };
                Statistics::Int32(
                    ValueStatistics::new(lo, hi, None, Some(self.nulls), false)
                        .with_backwards_compatible_min_max(signed),
                )
            }
            (true, b) => {
                let (lo, hi) = match b {
                    Some(Bounds::I64(lo, hi)) => (Some(lo), Some(hi)),
                    _ => (None, None),
                };
                Statistics::Int64(
                    ValueStatistics::new(lo, hi, None, Some(self.nulls), false)
                        .with_backwards_compatible_min_max(signed),
                )
            }
        };
        let size = i64::try_from(self.bytes.len()).map_err(|_| too_big())?;
        let metadata = ColumnChunkMetaData::builder(self.descr)
            .set_compression(Compression::SNAPPY)
            .set_encodings_mask(EncodingMask::new_from_encodings(
                [Encoding::PLAIN, Encoding::RLE].iter(),
            ))
            .set_page_encoding_stats(vec![PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: Encoding::PLAIN,
                count: self.pages,
            }])
            .set_total_compressed_size(size)
            .set_total_uncompressed_size(i64::try_from(self.uncompressed).map_err(|_| too_big())?)
            .set_num_values(i64::try_from(self.rows).map_err(|_| too_big())?)
            .set_data_page_offset(0)
            .set_statistics(statistics)
            .build()?;
        let close = close_result(
            metadata,
            self.index,
            (self.ascending, self.descending),
            self.offsets,
            self.bytes.len() as u64,
            self.rows,
        )?;
        Ok((Bytes::from(self.bytes), close))
    }
}

/// What closing a column writer reports for a chunk built here: its
/// metadata, its column index with the boundary order the pages showed
/// (`(ascending, descending)` so far; all equal or one page counts as
/// ascending, as the `parquet` crate has it) and its offset index.
pub(crate) fn close_result(
    metadata: ColumnChunkMetaData,
    mut index: ColumnIndexBuilder,
    (ascending, descending): (bool, bool),
    offsets: OffsetIndexBuilder,
    bytes_written: u64,
    rows_written: u64,
) -> Result<ColumnCloseResult, ParquetError> {
    index.set_boundary_order(match (ascending, descending) {
        (true, _) => BoundaryOrder::ASCENDING,
        (false, true) => BoundaryOrder::DESCENDING,
        (false, false) => BoundaryOrder::UNORDERED,
    });
    Ok(ColumnCloseResult {
        bytes_written,
        rows_written,
        metadata,
        bloom_filter: None,
        column_index: Some(index.build()?),
        offset_index: Some(offsets.build()),
    })
}
