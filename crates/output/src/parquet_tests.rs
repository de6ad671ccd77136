//! The writer's own pages (integers, and strings with their dictionary)
//! against the `parquet` crate's column writer: the same rows written both
//! ways must read back the same, with the same chunk statistics, and the
//! page index of the paged file must describe its pages.

use parquet::basic::BoundaryOrder;
use parquet::column::reader::get_typed_column_reader;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DataType, Int32Type, Int64Type};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::serialized_reader::ReadOptionsBuilder;
use proptest::prelude::*;

use super::*;
use crate::table::Scope;

fn column(name: &str, ftype: FieldType) -> ColumnSpec {
    ColumnSpec {
        name: name.to_owned(),
        fields: Vec::new(),
        ftype,
        scope: Scope::Any,
        display: None,
    }
}

fn spec() -> TableSpec {
    TableSpec {
        columns: vec![
            column("u8", FieldType::U8),
            column("u16", FieldType::U16),
            column("u32", FieldType::U32),
            column("i32", FieldType::I32),
            column("u64", FieldType::U64),
            column("i64", FieldType::I64),
            column("time", FieldType::Time),
            column("s", FieldType::Str),
            column("b", FieldType::Bool),
        ],
        time_format: TimeFormat::Epoch,
        occurrence: Occurrence::First,
        require: None,
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// How a generated column's rows are present.
fn present(rng: &mut Rng, mode: u64, row: usize) -> bool {
    match mode {
        0 => true,
        1 => false,
        2 => rng.below(2) == 0,
        3 => (row / 37).is_multiple_of(2),
        4 => rng.below(20) == 0,
        _ => !(row / 3).is_multiple_of(5),
    }
}

/// A generated value: a narrow range, every bit pattern, rising, falling,
/// rising across the sign bit (2^63 for 64-bit columns; 32-bit columns see
/// the low half, which wraps from 2^32 − 1 to 0 at row 5000): ordered one
/// way as signed and another as unsigned.
fn value(rng: &mut Rng, mode: u64, row: usize) -> u64 {
    match mode {
        0 => rng.below(4),
        1 => rng.next(),
        2 => row as u64,
        3 => u64::MAX - row as u64,
        _ => (1u64 << 63) - 5000 + row as u64,
    }
}

#[allow(clippy::cast_possible_truncation)]
fn batch(rng: &mut Rng, rows: usize, first_row: usize, modes: &[(u64, u64)]) -> ColumnBatch {
    let spec = spec();
    let mut cols = Vec::new();
    for (c, &(pmode, vmode)) in spec.columns.iter().zip(modes) {
        let mut d = Vec::with_capacity(rows);
        let mut vals: Vec<u64> = Vec::new();
        for r in first_row..first_row + rows {
            let p = present(rng, pmode, r);
            d.push(i16::from(p));
            if p {
                vals.push(value(rng, vmode, r));
            }
        }
        cols.push(match c.ftype {
            FieldType::U8 => ColData::I32(vals.iter().map(|&x| i32::from(x as u8)).collect(), d),
            FieldType::U16 => ColData::I32(vals.iter().map(|&x| i32::from(x as u16)).collect(), d),
            FieldType::U32 | FieldType::I32 => {
                ColData::I32(vals.iter().map(|&x| (x as u32).cast_signed()).collect(), d)
            }
            FieldType::U64 | FieldType::I64 | FieldType::Time => {
                ColData::I64(vals.iter().map(|&x| x.cast_signed()).collect(), d)
            }
            FieldType::Bool => ColData::Bool(vals.iter().map(|&x| x & 1 == 1).collect(), d),
            _ => {
                let mut b = Vec::new();
                let mut ends = Vec::new();
                for (i, x) in vals.iter().enumerate() {
                    let s = match vmode {
                        // A few short values.
                        0 => format!("10.0.{}.{}", x % 3, x % 7),
                        // Mostly distinct (past the dictionary's limit in a
                        // large row group).
                        1 => format!("{x:016x}-{x:020}"),
                        // Rising and falling.
                        2 => format!("{:08}", first_row + i),
                        3 => format!("{:08}", 99_999_999 - first_row - i),
                        // Longer than statistics keep, with characters of
                        // several bytes near the cut.
                        _ => format!("{}é€{}", "x".repeat(60), x % 5),
                    };
                    b.extend_from_slice(s.as_bytes());
                    ends.push(b.len());
                }
                ColData::Bytes(b, ends, d)
            }
        });
    }
    ColumnBatch {
        cols,
        rows: rows as u64,
    }
}

/// Write the batches through the writer, integer columns either as pages
/// (`paged`, large batches encoded as a worker does) or all through the
/// `parquet` crate's column writers.
fn write(batches: &[ColumnBatch], paged: bool) -> bytes::Bytes {
    let spec = spec();
    let out = SharedBuf::default();
    let mut w = ParquetWriter::new(out.clone(), &spec).unwrap();
    let worker_encs = w.encs.clone();
    if !paged {
        w.encs = vec![Enc::Values; spec.columns.len()];
    }
    let mut scratch = PageScratch::default();
    let mut dedup = Dedup::default();
    for b in batches {
        let b = ColumnBatch {
            cols: b.cols.clone(),
            rows: b.rows,
        };
        if paged && b.rows >= MIN_PAGE_ROWS {
            let p = PageBatch::encode(b, &worker_encs, &mut scratch, &mut dedup).unwrap();
            w.write_pages(p).unwrap();
        } else {
            w.write(b).unwrap();
        }
    }
    let rows = w.finish().unwrap();
    assert_eq!(rows, batches.iter().map(|b| b.rows).sum::<u64>());
    bytes::Bytes::from(out.take())
}

fn read<T: DataType>(
    r: &SerializedFileReader<bytes::Bytes>,
    rg: usize,
    col: usize,
) -> (Vec<i16>, Vec<T::T>) {
    let group = r.get_row_group(rg).unwrap();
    let mut cr = get_typed_column_reader::<T>(group.get_column_reader(col).unwrap());
    let (mut d, mut v) = (Vec::new(), Vec::new());
    loop {
        let (records, _, _) = cr
            .read_records(1 << 16, Some(&mut d), None, &mut v)
            .unwrap();
        if records == 0 {
            return (d, v);
        }
    }
}

/// Column `col` of row group `rg` as present-or-not values, for comparing.
fn cells(r: &SerializedFileReader<bytes::Bytes>, rg: usize, col: usize) -> Vec<Option<String>> {
    fn zip<T: std::fmt::Debug>((d, v): (Vec<i16>, Vec<T>)) -> Vec<Option<String>> {
        let mut v = v.into_iter();
        d.iter()
            .map(|&l| (l > 0).then(|| format!("{:?}", v.next().unwrap())))
            .collect()
    }
    match spec().columns[col].ftype {
        FieldType::U64 | FieldType::I64 | FieldType::Time => zip(read::<Int64Type>(r, rg, col)),
        FieldType::Str => zip(read::<ByteArrayType>(r, rg, col)),
        FieldType::Bool => zip(read::<BoolType>(r, rg, col)),
        _ => zip(read::<Int32Type>(r, rg, col)),
    }
}

/// Greater in the column's sort order (unsigned columns as unsigned).
fn greater(a: i64, b: i64, unsigned: bool, int64: bool) -> bool {
    match (unsigned, int64) {
        (true, true) => a.cast_unsigned() > b.cast_unsigned(),
        #[allow(clippy::cast_possible_truncation)]
        (true, false) => (a as i32).cast_unsigned() > (b as i32).cast_unsigned(),
        _ => a > b,
    }
}

/// The page index of an integer column describes its pages: rows, nulls,
/// min/max in the column's order, and a boundary order that holds.
fn check_page_index(r: &SerializedFileReader<bytes::Bytes>, rg: usize, col: usize, unsigned: bool) {
    let meta = r.metadata();
    let rows = usize::try_from(meta.row_group(rg).num_rows()).unwrap();
    let pi = meta.page_index_for_row_group(rg);
    let offsets = pi.offset_index(col).expect("offset index");
    let index = pi.column_index(col).expect("column index");
    let int64 = matches!(index, ColumnIndexMetaData::INT64(_));
    let (d, v): (Vec<i16>, Vec<i64>) = if int64 {
        read::<Int64Type>(r, rg, col)
    } else {
        let (d, v) = read::<Int32Type>(r, rg, col);
        (d, v.into_iter().map(i64::from).collect())
    };
    let locs = &offsets.page_locations;
    assert_eq!(locs[0].first_row_index, 0);
    let mut value_at = 0;
    let mut last: Option<(i64, i64)> = None;
    let (mut asc, mut desc) = (true, true);
    for (p, loc) in locs.iter().enumerate() {
        let start = usize::try_from(loc.first_row_index).unwrap();
        let end = locs
            .get(p + 1)
            .map_or(rows, |n| usize::try_from(n.first_row_index).unwrap());
        assert!(start < end, "page {p} has no rows");
        let n = d[start..end].iter().filter(|&&l| l > 0).count();
        let vals = &v[value_at..value_at + n];
        value_at += n;
        let (null_count, is_null, lo, hi) = match index {
            ColumnIndexMetaData::INT32(ix) => (
                ix.null_count(p),
                ix.is_null_page(p),
                ix.min_value(p).map(|&x| i64::from(x)),
                ix.max_value(p).map(|&x| i64::from(x)),
            ),
            ColumnIndexMetaData::INT64(ix) => (
                ix.null_count(p),
                ix.is_null_page(p),
                ix.min_value(p).copied(),
                ix.max_value(p).copied(),
            ),
            _ => panic!("not an integer column index"),
        };
        assert_eq!(null_count, Some(i64::try_from(end - start - n).unwrap()));
        assert_eq!(is_null, n == 0);
        if n == 0 {
            continue;
        }
        let want_lo = *vals
            .iter()
            .reduce(|a, b| {
                if greater(*a, *b, unsigned, int64) {
                    b
                } else {
                    a
                }
            })
            .unwrap();
        let want_hi = *vals
            .iter()
            .reduce(|a, b| {
                if greater(*b, *a, unsigned, int64) {
                    b
                } else {
                    a
                }
            })
            .unwrap();
        assert_eq!((lo, hi), (Some(want_lo), Some(want_hi)), "page {p}");
        if let Some((l0, h0)) = last {
            asc &=
                !(greater(l0, want_lo, unsigned, int64) || greater(h0, want_hi, unsigned, int64));
            desc &=
                !(greater(want_lo, l0, unsigned, int64) || greater(want_hi, h0, unsigned, int64));
        }
        last = Some((want_lo, want_hi));
    }
    assert_eq!(value_at, v.len());
    let want = if asc {
        BoundaryOrder::ASCENDING
    } else if desc {
        BoundaryOrder::DESCENDING
    } else {
        BoundaryOrder::UNORDERED
    };
    assert_eq!(index.get_boundary_order(), Some(want));
}

/// The page index of a string column: rows, nulls, and min/max as the
/// `parquet` crate truncates them.
fn check_str_page_index(r: &SerializedFileReader<bytes::Bytes>, rg: usize, col: usize) {
    let meta = r.metadata();
    let rows = usize::try_from(meta.row_group(rg).num_rows()).unwrap();
    let pi = meta.page_index_for_row_group(rg);
    let locs = &pi.offset_index(col).expect("offset index").page_locations;
    let ColumnIndexMetaData::BYTE_ARRAY(index) = pi.column_index(col).expect("column index") else {
        panic!("not a byte array column index");
    };
    let (d, v) = read::<ByteArrayType>(r, rg, col);
    let mut value_at = 0;
    for (p, loc) in locs.iter().enumerate() {
        let start = usize::try_from(loc.first_row_index).unwrap();
        let end = locs
            .get(p + 1)
            .map_or(rows, |n| usize::try_from(n.first_row_index).unwrap());
        let n = d[start..end].iter().filter(|&&l| l > 0).count();
        let vals = &v[value_at..value_at + n];
        value_at += n;
        assert_eq!(
            index.null_count(p),
            Some(i64::try_from(end - start - n).unwrap())
        );
        assert_eq!(index.is_null_page(p), n == 0);
        if n == 0 {
            continue;
        }
        let lo = vals.iter().map(ByteArray::data).min().unwrap();
        let hi = vals.iter().map(ByteArray::data).max().unwrap();
        let (lo, _) = crate::parquet_str::truncate_min(lo, true);
        let (hi, _) = crate::parquet_str::truncate_max(hi, true);
        assert_eq!(index.min_value(p), Some(lo.as_slice()), "page {p}");
        assert_eq!(index.max_value(p), Some(hi.as_slice()), "page {p}");
    }
    assert_eq!(value_at, v.len());
}

fn compare(batches: &[ColumnBatch]) {
    let paged = write(batches, true);
    let plain = write(batches, false);
    let opts = || ReadOptionsBuilder::new().with_page_index().build();
    let a = SerializedFileReader::new_with_options(paged, opts()).unwrap();
    let b = SerializedFileReader::new_with_options(plain, opts()).unwrap();
    let (ma, mb) = (a.metadata(), b.metadata());
    assert_eq!(ma.num_row_groups(), mb.num_row_groups());
    let spec = spec();
    let kinds: Vec<Kind> = spec
        .columns
        .iter()
        .map(|c| kind_of(c.output_type(), spec.occurrence))
        .collect();
    let encs = encodings(&spec, &kinds);
    for rg in 0..ma.num_row_groups() {
        assert_eq!(ma.row_group(rg).num_rows(), mb.row_group(rg).num_rows());
        for (col, enc) in encs.iter().enumerate() {
            assert_eq!(cells(&a, rg, col), cells(&b, rg, col), "column {col}");
            let (ca, cb) = (ma.row_group(rg).column(col), mb.row_group(rg).column(col));
            assert_eq!(ca.num_values(), cb.num_values());
            let (sa, sb) = (ca.statistics().unwrap(), cb.statistics().unwrap());
            assert_eq!(sa.min_bytes_opt(), sb.min_bytes_opt(), "column {col} min");
            assert_eq!(sa.max_bytes_opt(), sb.max_bytes_opt(), "column {col} max");
            assert_eq!(
                sa.null_count_opt(),
                sb.null_count_opt(),
                "column {col} nulls"
            );
            assert_eq!(
                sa.min_is_exact(),
                sb.min_is_exact(),
                "column {col} min exact"
            );
            assert_eq!(
                sa.max_is_exact(),
                sb.max_is_exact(),
                "column {col} max exact"
            );
            assert_eq!(ca.compression(), Compression::SNAPPY);
            match enc {
                Enc::Int { unsigned } => check_page_index(&a, rg, col, *unsigned),
                Enc::Str => check_str_page_index(&a, rg, col),
                Enc::Values => {}
            }
        }
    }
}

/// Generate batches of the given sizes with one presence and value mode per
/// column.
fn batches(seed: u64, sizes: &[usize], modes: &[(u64, u64)]) -> Vec<ColumnBatch> {
    let mut rng = Rng(seed | 1);
    let mut first = 0;
    sizes
        .iter()
        .map(|&n| {
            let b = batch(&mut rng, n, first, modes);
            first += n;
            b
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn pages_read_back_as_the_column_writer_writes_them(
        seed in any::<u64>(),
        sizes in proptest::collection::vec(prop_oneof![1usize..1024, 1024usize..5000], 1..6),
        modes in proptest::collection::vec((0u64..6, 0u64..5), 9),
    ) {
        compare(&batches(seed, &sizes, &modes));
    }
}

#[test]
fn pages_span_row_groups_gathered_batches_and_a_full_dictionary() {
    // Three row groups; small batches gathered across a row group's end,
    // and gathered rows longer than one page.
    let mut sizes = vec![4096; 40];
    sizes.extend([700, 300, 200, 90_000, 5, 1023, 1024]);
    sizes.extend(vec![100; 50]);
    let modes = [
        (0, 1),
        (2, 0),
        (0, 4),
        (0, 4),
        (0, 4),
        (5, 4),
        (0, 2),
        (2, 1),
        (3, 0),
    ];
    compare(&batches(7, &sizes, &modes));
}

#[test]
fn levels_are_rle_and_bit_packed_runs() {
    // 20 present, 3 null, 5 alternating: an RLE run of 16, then groups.
    let mut levels = vec![1i16; 20];
    levels.extend([0, 0, 0, 1, 0, 1, 0, 1]);
    let mut out = Vec::new();
    crate::parquet_page::put_levels(&levels, &mut out);
    // length, RLE (16 << 1, 1), bit-packed header (1 group), 0b0000_1111
    // (rows 16..24: 1,1,1,1,0,0,0,1 → bits 0..3 and 7), then the last 4
    // rows (0,1,0,1) in a padded group.
    assert_eq!(out, [6, 0, 0, 0, 32, 1, 3, 0b1000_1111, 3, 0b0000_1010]);
}

#[test]
fn unsigned_columns_follow_the_schema() {
    // The writer's idea of which integer columns are unsigned is the
    // schema's sort order.
    let spec = spec();
    let descr = parquet::schema::types::SchemaDescriptor::new(Arc::new(schema(&spec).unwrap()));
    let kinds: Vec<Kind> = spec
        .columns
        .iter()
        .map(|c| kind_of(c.output_type(), spec.occurrence))
        .collect();
    for (i, p) in encodings(&spec, &kinds).into_iter().enumerate() {
        if let Enc::Int { unsigned } = p {
            assert_eq!(
                descr.column(i).sort_order() == parquet::basic::SortOrder::UNSIGNED,
                unsigned,
                "{}",
                spec.columns[i].name
            );
        }
    }
}
