//! The Parquet encoder's column batches as Arrow record batches (feature
//! `arrow`, for the Python package). The rows, values and types are the ones
//! `convert -o x.parquet` writes, because they come from the same
//! [`ParquetEncoder`](crate::ParquetEncoder): this module only lays its typed
//! vectors out as Arrow buffers (the values vectors and string bytes are
//! moved, not copied, where the layouts agree).
//!
//! The Arrow type of each column is the one `pyarrow.parquet.read_table`
//! gives for the Parquet column: uint8/16/32/64 and int8/16/32/64 by the
//! field's width and sign, `timestamp[ns, tz=UTC]`, `bool`, `double`,
//! `string` (addresses, MACs, strings; every column with occurrence `all`),
//! `binary`. Every field is nullable.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, RecordBatchOptions, StringArray, TimestampNanosecondArray, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use pcapx_core::FieldType;

use crate::parquet_out::{ColData, ColumnBatch, Kind, kind_of};
use crate::table::TableSpec;

/// The Arrow type of a column of `spec`.
fn data_type(ftype: FieldType, kind: Kind) -> DataType {
    match kind {
        Kind::I32 => match ftype {
            FieldType::U8 => DataType::UInt8,
            FieldType::U16 => DataType::UInt16,
            FieldType::I8 => DataType::Int8,
            FieldType::I16 => DataType::Int16,
            FieldType::I32 => DataType::Int32,
            _ => DataType::UInt32,
        },
        Kind::I64 => match ftype {
            FieldType::Time => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            FieldType::U64 => DataType::UInt64,
            _ => DataType::Int64,
        },
        Kind::Bool => DataType::Boolean,
        Kind::F64 => DataType::Float64,
        Kind::Str => DataType::Utf8,
        Kind::Bytes => DataType::Binary,
    }
}

/// The Arrow type of a column of a field of type `ftype` (with `occurrence`).
pub fn arrow_type(ftype: FieldType, occurrence: crate::Occurrence) -> DataType {
    data_type(ftype, kind_of(ftype, occurrence))
}

/// The Arrow schema of the table `spec` (the Parquet file's, as pyarrow reads it).
pub fn arrow_schema(spec: &TableSpec) -> SchemaRef {
    let fields: Vec<Field> = spec
        .columns
        .iter()
        .map(|c| {
            Field::new(
                c.name.clone(),
                data_type(c.ftype, kind_of(c.ftype, spec.occurrence)),
                true,
            )
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The validity of a column from its definition levels; `None` when every
/// row has a value.
fn nulls(defs: &[i16]) -> Option<NullBuffer> {
    if defs.iter().all(|&d| d > 0) {
        return None;
    }
    Some(NullBuffer::new(BooleanBuffer::from_iter(
        defs.iter().map(|&d| d > 0),
    )))
}

/// One slot per row: the dense present values spread over the rows, a
/// default in each null slot. Moved as is when no row is null.
fn spread<T: Copy + Default>(vals: Vec<T>, defs: &[i16]) -> Vec<T> {
    if vals.len() == defs.len() {
        return vals;
    }
    let mut it = vals.into_iter();
    defs.iter()
        .map(|&d| {
            if d > 0 {
                it.next().unwrap_or_default()
            } else {
                T::default()
            }
        })
        .collect()
}

/// Reinterpret a vector of one 32/64-bit type as another of the same width
/// (the Parquet encoder stores unsigned values as their bit patterns), with
/// no copy.
fn cast_buffer<T: arrow_buffer::ArrowNativeType, U: arrow_buffer::ArrowNativeType>(
    v: Vec<T>,
) -> ScalarBuffer<U> {
    let len = v.len();
    ScalarBuffer::new(Buffer::from_vec(v), 0, len)
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn narrow_u8(v: &[i32]) -> Vec<u8> {
    // A uint8 column's values fit by the field's type.
    v.iter().map(|&x| x as u8).collect()
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn narrow_u16(v: &[i32]) -> Vec<u16> {
    v.iter().map(|&x| x as u16).collect()
}

#[allow(clippy::cast_possible_truncation)]
fn narrow_i8(v: &[i32]) -> Vec<i8> {
    v.iter().map(|&x| x as i8).collect()
}

#[allow(clippy::cast_possible_truncation)]
fn narrow_i16(v: &[i32]) -> Vec<i16> {
    v.iter().map(|&x| x as i16).collect()
}

fn column(data: ColData, dt: &DataType) -> Result<ArrayRef, ArrowError> {
    Ok(match data {
        ColData::I32(v, d) => {
            let n = nulls(&d);
            let v = spread(v, &d);
            match dt {
                DataType::UInt8 => Arc::new(UInt8Array::new(narrow_u8(&v).into(), n)),
                DataType::UInt16 => Arc::new(UInt16Array::new(narrow_u16(&v).into(), n)),
                DataType::Int8 => Arc::new(Int8Array::new(narrow_i8(&v).into(), n)),
                DataType::Int16 => Arc::new(Int16Array::new(narrow_i16(&v).into(), n)),
                DataType::Int32 => Arc::new(Int32Array::new(v.into(), n)),
                _ => Arc::new(UInt32Array::new(cast_buffer(v), n)),
            }
        }
        ColData::I64(v, d) => {
            let n = nulls(&d);
            let v = spread(v, &d);
            match dt {
                DataType::Timestamp(_, tz) => Arc::new(
                    TimestampNanosecondArray::new(v.into(), n).with_timezone_opt(tz.clone()),
                ),
                DataType::UInt64 => Arc::new(UInt64Array::new(cast_buffer(v), n)),
                _ => Arc::new(Int64Array::new(v.into(), n)),
            }
        }
        ColData::Bool(v, d) => {
            let n = nulls(&d);
            let v = spread(v, &d);
            Arc::new(BooleanArray::new(BooleanBuffer::from(v), n))
        }
        ColData::F64(v, d) => {
            let n = nulls(&d);
            Arc::new(Float64Array::new(spread(v, &d).into(), n))
        }
        ColData::Bytes(b, ends, d) => {
            let n = nulls(&d);
            let mut offsets = Vec::with_capacity(d.len() + 1);
            offsets.push(0i32);
            let mut it = ends.iter();
            let mut last = 0i32;
            for &def in &d {
                if def > 0 {
                    let e = it.next().copied().unwrap_or(0);
                    last = i32::try_from(e).map_err(|_| {
                        ArrowError::InvalidArgumentError(
                            "a batch's strings exceed 2 GiB".to_owned(),
                        )
                    })?;
                }
                offsets.push(last);
            }
            let offsets = OffsetBuffer::new(offsets.into());
            let values = Buffer::from_vec(b);
            if *dt == DataType::Binary {
                Arc::new(BinaryArray::try_new(offsets, values, n)?)
            } else {
                Arc::new(StringArray::try_new(offsets, values, n)?)
            }
        }
    })
}

impl ColumnBatch {
    /// This batch as an Arrow record batch of `schema` (from
    /// [`arrow_schema`] for the same table).
    pub fn into_arrow(self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        let rows = usize::try_from(self.rows)
            .map_err(|_| ArrowError::InvalidArgumentError("too many rows".to_owned()))?;
        let cols = self
            .cols
            .into_iter()
            .zip(schema.fields())
            .map(|(c, f)| column(c, f.data_type()))
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new_with_options(
            Arc::clone(schema),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet_out::ColData;
    use arrow_array::Array;

    #[test]
    fn split_then_convert_keeps_values_and_nulls() {
        let mut b = ColumnBatch {
            cols: vec![
                ColData::I32(vec![7, 9], vec![1, 0, 1]),
                ColData::Bytes(b"abcde".to_vec(), vec![2, 5], vec![1, 1, 0]),
            ],
            rows: 3,
        };
        let tail = b.split_off(1);
        assert_eq!((b.rows(), tail.rows()), (1, 2));
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::UInt16, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let head = b.into_arrow(&schema).unwrap();
        let tail = tail.into_arrow(&schema).unwrap();
        let a = head
            .column(0)
            .as_any()
            .downcast_ref::<UInt16Array>()
            .unwrap();
        assert_eq!(a.value(0), 7);
        let s = head
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(s.value(0), "ab");
        let a = tail
            .column(0)
            .as_any()
            .downcast_ref::<UInt16Array>()
            .unwrap();
        assert!(a.is_null(0));
        assert_eq!(a.value(1), 9);
        let s = tail
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(s.value(0), "cde");
        assert!(s.is_null(1));
    }
}
