//! String and byte columns dictionary-encoded by pcapx.
//!
//! A worker reduces its batch's column to the batch's distinct values and,
//! per present row, the index of its value ([`StrBatch`]: one hash lookup
//! per value, on the worker). The writer adds the few distinct values to
//! the column chunk's dictionary, maps the batch's indices to the
//! dictionary's and writes them as one data page ([`StrChunk`]): indices
//! RLE/bit-packed after a bit-width byte (`RLE_DICTIONARY`), definition
//! levels as in the integer pages, Snappy. Closing the chunk writes the
//! dictionary page (PLAIN) before the data pages. As the `parquet` crate
//! does, a chunk whose dictionary grows past 1 MiB writes its later pages
//! PLAIN (length-prefixed values). Statistics compare bytes as unsigned
//! (the sort order of strings and byte arrays) and are truncated to 64
//! bytes as the `parquet` crate truncates them (chunk statistics and the
//! column index), marked inexact when cut.

use ahash::RandomState;
use bytes::Bytes;
use hashbrown::HashTable;
use parquet::basic::{Compression, Encoding, EncodingMask, PageType};
use parquet::column::page::Page;
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::schema::types::ColumnDescPtr;

use crate::parquet_out::ColData;
use crate::parquet_page::{Compressor, MAX_GROUPS, close_result, put_levels, put_varint};

/// A chunk's dictionary past this many PLAIN-encoded bytes: later pages
/// are PLAIN (the `parquet` crate's default dictionary page limit).
const DICTIONARY_LIMIT: usize = 1024 * 1024;

/// Statistics and column index values are cut to this many bytes (the
/// `parquet` crate's default for both).
const TRUNCATE: usize = 64;

fn too_big() -> ParquetError {
    ParquetError::General("a column chunk of more than 2 GiB".to_owned())
}

/// Distinct values stored concatenated, with their end offsets.
#[derive(Debug, Default)]
struct Values {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Values {
    /// Value `i` (an index this store handed out).
    #[inline]
    fn get(&self, i: u32) -> &[u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }
}

/// A hash table of indices into a [`Values`]: a batch's distinct values on
/// the worker (reused from batch to batch), a chunk's dictionary on the
/// writer.
#[derive(Default)]
pub(crate) struct Dedup {
    table: HashTable<u32>,
    hasher: RandomState,
}

impl Dedup {
    /// The index of `v` in `vals`, added when new, and whether it was new.
    /// `None` when the store passes 4 GiB or 2^32 values.
    fn intern(&mut self, vals: &mut Values, v: &[u8]) -> Option<(u32, bool)> {
        let h = self.hasher.hash_one(v);
        if let Some(&k) = self.table.find(h, |&k| vals.get(k) == v) {
            return Some((k, false));
        }
        let k = u32::try_from(vals.len()).ok()?;
        vals.bytes.extend_from_slice(v);
        vals.ends.push(u32::try_from(vals.bytes.len()).ok()?);
        let hasher = &self.hasher;
        self.table
            .insert_unique(h, k, |&j| hasher.hash_one(vals.get(j)));
        Some((k, true))
    }
}

/// A run of rows of a string or bytes column: its distinct values and each
/// present row's index among them.
#[derive(Debug)]
pub(crate) struct StrBatch {
    /// Distinct values in order of first appearance.
    values: Values,
    /// Per present row, the index of its value.
    idx: Vec<u32>,
    levels: Vec<i16>,
    /// The least and greatest distinct value (unsigned bytes).
    min: u32,
    max: u32,
}

impl StrBatch {
    /// Rows `rows` of a string or bytes column (`None` for another kind).
    pub(crate) fn build(
        data: &ColData,
        rows: std::ops::Range<usize>,
        dd: &mut Dedup,
    ) -> Option<StrBatch> {
        let ColData::Bytes(bytes, ends, d) = data else {
            return None;
        };
        let present = |r: std::ops::Range<usize>| d[r].iter().filter(|&&x| x > 0).count();
        let (from, n) = if rows.start == 0 && rows.end == d.len() {
            (0, ends.len())
        } else {
            (present(0..rows.start), present(rows.clone()))
        };
        let mut b = StrBatch {
            values: Values::default(),
            idx: Vec::with_capacity(n),
            levels: d[rows].to_vec(),
            min: 0,
            max: 0,
        };
        dd.table.clear();
        let mut start = if from == 0 { 0 } else { ends[from - 1] };
        for &end in &ends[from..from + n] {
            let v = &bytes[start..end];
            start = end;
            let (i, new) = dd.intern(&mut b.values, v)?;
            if new && i > 0 {
                if v < b.values.get(b.min) {
                    b.min = i;
                }
                if v > b.values.get(b.max) {
                    b.max = i;
                }
            }
            b.idx.push(i);
        }
        Some(b)
    }

    fn bounds(&self) -> Option<(&[u8], &[u8])> {
        (self.values.len() > 0).then(|| (self.values.get(self.min), self.values.get(self.max)))
    }
}

/// Cut a minimum to `TRUNCATE` bytes (at a character boundary for UTF-8);
/// whether it was cut.
pub(crate) fn truncate_min(v: &[u8], utf8: bool) -> (Vec<u8>, bool) {
    if v.len() <= TRUNCATE {
        return (v.to_vec(), false);
    }
    let cut = match (utf8, std::str::from_utf8(v)) {
        (true, Ok(s)) => (1..=TRUNCATE)
            .rfind(|&x| s.is_char_boundary(x))
            .map(|n| v[..n].to_vec()),
        _ => Some(v[..TRUNCATE].to_vec()),
    };
    cut.map_or_else(|| (v.to_vec(), false), |c| (c, true))
}

/// Cut a maximum to `TRUNCATE` bytes and increment it so it stays an upper
/// bound (the last character for UTF-8, else the last byte that does not
/// overflow); whether it was cut.
pub(crate) fn truncate_max(v: &[u8], utf8: bool) -> (Vec<u8>, bool) {
    if v.len() <= TRUNCATE {
        return (v.to_vec(), false);
    }
    let cut = match (utf8, std::str::from_utf8(v)) {
        (true, Ok(s)) => (TRUNCATE.saturating_sub(3)..=TRUNCATE)
            .rfind(|&x| s.is_char_boundary(x))
            .and_then(|n| increment_utf8(s.get(..n)?)),
        _ => increment(v[..TRUNCATE].to_vec()),
    };
    cut.map_or_else(|| (v.to_vec(), false), |c| (c, true))
}

fn increment_utf8(s: &str) -> Option<Vec<u8>> {
    for (i, c) in s.char_indices().rev() {
        let len = c.len_utf8();
        if let Some(next) = char::from_u32(c as u32 + 1)
            && next.len_utf8() == len
        {
            let mut out = s.as_bytes()[..i + len].to_vec();
            next.encode_utf8(&mut out[i..]);
            return Some(out);
        }
    }
    None
}

fn increment(mut v: Vec<u8>) -> Option<Vec<u8>> {
    for b in v.iter_mut().rev() {
        let (x, overflow) = b.overflowing_add(1);
        *b = x;
        if !overflow {
            return Some(v);
        }
    }
    None
}

/// Bits for indices below `n` (at least 1).
fn bit_width(n: usize) -> u8 {
    let max = n.saturating_sub(1) as u64;
    u8::try_from(64 - max.leading_zeros()).unwrap_or(64).max(1)
}

/// Values of bit width `w` in the RLE/bit-packed hybrid encoding: 8 equal
/// values and more in a row an RLE run, the others bit-packed 8 at a time
/// (the last group padded with zeros).
fn put_indices(vals: &[u32], w: u8, out: &mut Vec<u8>) {
    let value_bytes = usize::from(w).div_ceil(8);
    let pack = |g: &[u32], out: &mut Vec<u8>| {
        let mut acc: u64 = 0;
        let mut bits = 0u32;
        for &x in g {
            acc |= u64::from(x) << bits;
            bits += u32::from(w);
            while bits >= 8 {
                out.push(acc.to_le_bytes()[0]);
                acc >>= 8;
                bits -= 8;
            }
        }
        // A short last group: pad to a whole group of 8 values.
        let total = 8 * u32::from(w);
        let mut written = u32::try_from(g.len()).unwrap_or(8) * u32::from(w) - bits;
        if bits > 0 {
            out.push(acc.to_le_bytes()[0]);
            written += 8;
        }
        while written < total {
            out.push(0);
            written += 8;
        }
    };
    let mut i = 0;
    // The open bit-packed run: its header byte's position, its groups.
    let mut literal: Option<(usize, u8)> = None;
    while i < vals.len() {
        let v = vals[i];
        let run = vals[i..].iter().take_while(|&&x| x == v).count();
        if run >= 8 {
            literal = None;
            put_varint(out, (run as u64) << 1);
            out.extend_from_slice(&v.to_le_bytes()[..value_bytes]);
            i += run;
            continue;
        }
        let end = (i + 8).min(vals.len());
        match &mut literal {
            Some((header, groups)) if *groups < MAX_GROUPS => {
                *groups += 1;
                out[*header] = (*groups << 1) | 1;
            }
            _ => {
                literal = Some((out.len(), 1));
                out.push((1 << 1) | 1);
            }
        }
        pack(&vals[i..end], out);
        i = end;
    }
}

/// A string or bytes column chunk being built: its dictionary, its data
/// pages, and what its metadata needs.
pub(crate) struct StrChunk {
    descr: ColumnDescPtr,
    utf8: bool,
    /// The dictionary: distinct values in order of first appearance.
    dict: Values,
    dedup: Dedup,
    /// The dictionary is full: later pages are PLAIN.
    plain: bool,
    pages: Vec<u8>,
    uncompressed: u64,
    rows: u64,
    nulls: u64,
    value_bytes: i64,
    dict_pages: i32,
    plain_pages: i32,
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,
    offsets: OffsetIndexBuilder,
    /// Page offsets are relative to the first data page until the
    /// dictionary page goes in front.
    page_offsets: Vec<(i64, i32)>,
    index: ColumnIndexBuilder,
    last: Option<(Vec<u8>, Vec<u8>)>,
    ascending: bool,
    descending: bool,
    remap: Vec<u32>,
    idx: Vec<u32>,
    body: Vec<u8>,
    compressor: Compressor,
}

impl StrChunk {
    pub(crate) fn new(descr: ColumnDescPtr) -> StrChunk {
        let utf8 = matches!(
            descr.logical_type_ref(),
            Some(parquet::basic::LogicalType::String)
        );
        StrChunk {
            index: ColumnIndexBuilder::new(descr.physical_type()),
            descr,
            utf8,
            dict: Values::default(),
            dedup: Dedup::default(),
            plain: false,
            pages: Vec::new(),
            uncompressed: 0,
            rows: 0,
            nulls: 0,
            value_bytes: 0,
            dict_pages: 0,
            plain_pages: 0,
            min: None,
            max: None,
            offsets: OffsetIndexBuilder::new(),
            page_offsets: Vec::new(),
            last: None,
            ascending: true,
            descending: true,
            remap: Vec::new(),
            idx: Vec::new(),
            body: Vec::new(),
            compressor: Compressor::default(),
        }
    }

    /// Add a batch's rows as one data page.
    pub(crate) fn push(&mut self, b: &StrBatch) -> Result<(), ParquetError> {
        let rows = b.levels.len();
        let present = b.idx.len();
        self.body.clear();
        put_levels(&b.levels, &mut self.body);
        let dictionary = !self.plain;
        if dictionary {
            // The batch's distinct values into the chunk's dictionary.
            self.remap.clear();
            for k in 0..b.values.len() {
                let v = b.values.get(u32::try_from(k).map_err(|_| too_big())?);
                let (j, _) = self.dedup.intern(&mut self.dict, v).ok_or_else(too_big)?;
                self.remap.push(j);
            }
            self.idx.clear();
            self.idx
                .extend(b.idx.iter().map(|&k| self.remap[k as usize]));
            let w = bit_width(self.dict.len());
            self.body.push(w);
            put_indices(&self.idx, w, &mut self.body);
        } else {
            for &k in &b.idx {
                let v = b.values.get(k);
                let len = u32::try_from(v.len()).map_err(|_| too_big())?;
                self.body.extend_from_slice(&len.to_le_bytes());
                self.body.extend_from_slice(v);
            }
        }
        let offset = i64::try_from(self.pages.len()).map_err(|_| too_big())?;
        let num_values = u32::try_from(rows).map_err(|_| too_big())?;
        let encoding = if dictionary {
            Encoding::RLE_DICTIONARY
        } else {
            Encoding::PLAIN
        };
        self.uncompressed += self
            .compressor
            .write_page(&self.body, &mut self.pages, |buf| Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            })?;
        let size = i64::try_from(self.pages.len()).map_err(|_| too_big())? - offset;
        self.page_offsets
            .push((offset, i32::try_from(size).map_err(|_| too_big())?));
        self.offsets
            .append_row_count(i64::try_from(rows).map_err(|_| too_big())?);
        let page_bytes: usize = b.idx.iter().map(|&k| b.values.get(k).len()).sum();
        let page_bytes = i64::try_from(page_bytes).map_err(|_| too_big())?;
        self.offsets
            .append_unencoded_byte_array_data_bytes(Some(page_bytes));
        self.value_bytes += page_bytes;
        let nulls = rows - present;
        let nulls_i = i64::try_from(nulls).map_err(|_| too_big())?;
        match b.bounds() {
            None => self
                .index
                .append(true, Vec::new(), Vec::new(), nulls_i, None),
            Some((lo, hi)) => {
                if let Some((l0, h0)) = &self.last {
                    if l0.as_slice() > lo || h0.as_slice() > hi {
                        self.ascending = false;
                    }
                    if lo > l0.as_slice() || hi > h0.as_slice() {
                        self.descending = false;
                    }
                }
                self.last = Some((lo.to_vec(), hi.to_vec()));
                self.index.append(
                    false,
                    truncate_min(lo, self.utf8).0,
                    truncate_max(hi, self.utf8).0,
                    nulls_i,
                    None,
                );
                if self.min.as_deref().is_none_or(|m| lo < m) {
                    self.min = Some(lo.to_vec());
                }
                if self.max.as_deref().is_none_or(|m| hi > m) {
                    self.max = Some(hi.to_vec());
                }
            }
        }
        if dictionary {
            self.dict_pages += 1;
            // Past the limit, the next pages are PLAIN (after this one,
            // as the `parquet` crate falls back).
            if self.dict.bytes.len() + 4 * self.dict.len() > DICTIONARY_LIMIT {
                self.plain = true;
            }
        } else {
            self.plain_pages += 1;
        }
        self.rows += rows as u64;
        self.nulls += nulls as u64;
        Ok(())
    }

    /// The chunk's bytes — the dictionary page, then the data pages — and
    /// what closing a column writer would report for them.
    pub(crate) fn finish(mut self) -> Result<(Bytes, ColumnCloseResult), ParquetError> {
        self.body.clear();
        let entries = u32::try_from(self.dict.len()).map_err(|_| too_big())?;
        for k in 0..entries {
            let v = self.dict.get(k);
            let len = u32::try_from(v.len()).map_err(|_| too_big())?;
            self.body.extend_from_slice(&len.to_le_bytes());
            self.body.extend_from_slice(v);
        }
        let mut out = Vec::with_capacity(self.pages.len() + self.body.len() / 2 + 64);
        let dict_uncompressed =
            self.compressor
                .write_page(&self.body, &mut out, |buf| Page::DictionaryPage {
                    buf,
                    num_values: entries,
                    encoding: Encoding::PLAIN,
                    is_sorted: false,
                })?;
        let dict_len = i64::try_from(out.len()).map_err(|_| too_big())?;
        out.extend_from_slice(&self.pages);
        for &(offset, size) in &self.page_offsets {
            self.offsets.append_offset_and_size(offset + dict_len, size);
        }
        let statistics = {
            let (min, min_cut) = match &self.min {
                Some(m) => {
                    let (v, cut) = truncate_min(m, self.utf8);
                    (Some(ByteArray::from(v)), cut)
                }
                None => (None, false),
            };
            let (max, max_cut) = match &self.max {
                Some(m) => {
                    let (v, cut) = truncate_max(m, self.utf8);
                    (Some(ByteArray::from(v)), cut)
                }
                None => (None, false),
            };
            let exact = min.is_some();
            Statistics::ByteArray(
                ValueStatistics::new(min, max, None, Some(self.nulls), false)
                    .with_min_is_exact(exact && !min_cut)
                    .with_max_is_exact(exact && !max_cut),
            )
        };
        let mut stats = vec![PageEncodingStats {
            page_type: PageType::DICTIONARY_PAGE,
            encoding: Encoding::PLAIN,
            count: 1,
        }];
        if self.dict_pages > 0 {
            stats.push(PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: Encoding::RLE_DICTIONARY,
                count: self.dict_pages,
            });
        }
        if self.plain_pages > 0 {
            stats.push(PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: Encoding::PLAIN,
                count: self.plain_pages,
            });
        }
        let size = i64::try_from(out.len()).map_err(|_| too_big())?;
        let metadata = ColumnChunkMetaData::builder(self.descr)
            .set_compression(Compression::SNAPPY)
            .set_encodings_mask(EncodingMask::new_from_encodings(
                [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY].iter(),
            ))
            .set_page_encoding_stats(stats)
            .set_total_compressed_size(size)
            .set_total_uncompressed_size(
                i64::try_from(self.uncompressed + dict_uncompressed).map_err(|_| too_big())?,
            )
            .set_num_values(i64::try_from(self.rows).map_err(|_| too_big())?)
            .set_dictionary_page_offset(Some(0))
            .set_data_page_offset(dict_len)
            .set_statistics(statistics)
            .set_unencoded_byte_array_data_bytes(Some(self.value_bytes))
            .build()?;
        let close = close_result(
            metadata,
            self.index,
            (self.ascending, self.descending),
            self.offsets,
            out.len() as u64,
            self.rows,
        )?;
        Ok((Bytes::from(out), close))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_widths() {
        assert_eq!(bit_width(0), 1);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(2), 1);
        assert_eq!(bit_width(3), 2);
        assert_eq!(bit_width(256), 8);
        assert_eq!(bit_width(257), 9);
    }

    #[test]
    fn indices_pack_lsb_first_and_pad_the_last_group() {
        let mut out = Vec::new();
        // 3 values of width 3: 1, 2, 7 → bits 001 010 111, padded to 8
        // values (3 bytes).
        put_indices(&[1, 2, 7], 3, &mut out);
        assert_eq!(out, [3, 0b1101_0001, 0b0000_0001, 0]);
        out.clear();
        // A run of 9 fives, width 3: RLE (9 << 1 = 18), one value byte.
        put_indices(&[5; 9], 3, &mut out);
        assert_eq!(out, [18, 5]);
    }

    #[test]
    fn truncation_follows_parquet() {
        let long = "a".repeat(70);
        assert_eq!(truncate_min(long.as_bytes(), true), (vec![b'a'; 64], true));
        let mut want = vec![b'a'; 64];
        want[63] = b'b';
        assert_eq!(truncate_max(long.as_bytes(), true), (want, true));
        assert_eq!(truncate_max(&[0xff; 70], false), (vec![0xff; 70], false));
        assert_eq!(truncate_min(b"short", true), (b"short".to_vec(), false));
    }
}
