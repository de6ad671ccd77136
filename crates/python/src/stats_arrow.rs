//! `pcapx.stats`' result as an Arrow record batch: key columns with the
//! convert table's types (the same as `pcapx.read` gives those columns),
//! aggregates as int64 (`count`, `nunique`, integer sums/minima/maxima),
//! double (`mean`, float aggregates) or `timestamp[ns, UTC]` (times).

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, StringArray, TimestampNanosecondArray, UInt8Array, UInt16Array,
    UInt32Array, UInt64Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use pcapx_core::FieldType;
use pcapx_output::Occurrence;
use pcapx_stats::{GroupTable, Scalar, Stat};

fn key_column(vals: &[&Scalar], ftype: FieldType) -> (DataType, ArrayRef) {
    let dt = pcapx_output::arrow_out::arrow_type(ftype, Occurrence::First);
    let int = |s: &Scalar| match *s {
        Scalar::U64(x) => i128::from(x),
        Scalar::I64(x) | Scalar::Time(x) => i128::from(x),
        _ => 0,
    };
    let arr: ArrayRef = match &dt {
        DataType::UInt8 => Arc::new(
            vals.iter()
                .map(|s| u8::try_from(int(s)).ok())
                .collect::<UInt8Array>(),
        ),
        DataType::UInt16 => Arc::new(
            vals.iter()
                .map(|s| u16::try_from(int(s)).ok())
                .collect::<UInt16Array>(),
        ),
        DataType::UInt32 => Arc::new(
            vals.iter()
                .map(|s| u32::try_from(int(s)).ok())
                .collect::<UInt32Array>(),
        ),
        DataType::UInt64 => Arc::new(
            vals.iter()
                .map(|s| u64::try_from(int(s)).ok())
                .collect::<UInt64Array>(),
        ),
        DataType::Int8 => Arc::new(
            vals.iter()
                .map(|s| i8::try_from(int(s)).ok())
                .collect::<Int8Array>(),
        ),
        DataType::Int16 => Arc::new(
            vals.iter()
                .map(|s| i16::try_from(int(s)).ok())
                .collect::<Int16Array>(),
        ),
        DataType::Int32 => Arc::new(
            vals.iter()
                .map(|s| i32::try_from(int(s)).ok())
                .collect::<Int32Array>(),
        ),
        DataType::Int64 => Arc::new(
            vals.iter()
                .map(|s| i64::try_from(int(s)).ok())
                .collect::<Int64Array>(),
        ),
        DataType::Timestamp(_, tz) => Arc::new(
            vals.iter()
                .map(|s| i64::try_from(int(s)).ok())
                .collect::<TimestampNanosecondArray>()
                .with_timezone_opt(tz.clone()),
        ),
        DataType::Boolean => Arc::new(
            vals.iter()
                .map(|s| match s {
                    Scalar::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        ),
        DataType::Float64 => Arc::new(
            vals.iter()
                .map(|s| match s {
                    Scalar::F64(f) => Some(*f),
                    _ => None,
                })
                .collect::<Float64Array>(),
        ),
        DataType::Binary => Arc::new(
            vals.iter()
                .map(|s| match s {
                    Scalar::Bytes(b) => Some(b.as_slice()),
                    _ => None,
                })
                .collect::<BinaryArray>(),
        ),
        _ => Arc::new(
            vals.iter()
                .map(|s| Some(s.to_string()))
                .collect::<StringArray>(),
        ),
    };
    (dt, arr)
}

fn agg_column(vals: &[Stat]) -> (DataType, ArrayRef) {
    let has = |f: fn(&Stat) -> bool| vals.iter().any(f);
    if has(|s| matches!(s, Stat::Float(_))) {
        let a: Float64Array = vals
            .iter()
            .map(|s| match *s {
                Stat::Float(f) => Some(f),
                Stat::Int(_) => s.as_f64(),
                _ => None,
            })
            .collect();
        return (DataType::Float64, Arc::new(a));
    }
    if has(|s| matches!(s, Stat::Time(_))) {
        let tz: Arc<str> = "UTC".into();
        let a = vals
            .iter()
            .map(|s| match *s {
                Stat::Time(t) => i64::try_from(t).ok(),
                _ => None,
            })
            .collect::<TimestampNanosecondArray>()
            .with_timezone(Arc::clone(&tz));
        return (
            DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, Some(tz)),
            Arc::new(a),
        );
    }
    let a: Int64Array = vals
        .iter()
        .map(|s| match *s {
            Stat::Int(i) => i64::try_from(i).ok(),
            _ => None,
        })
        .collect();
    (DataType::Int64, Arc::new(a))
}

/// The group table as one record batch: key columns, then aggregates.
pub fn group_table(t: &GroupTable, key_types: &[FieldType]) -> Result<RecordBatch, ArrowError> {
    let mut fields = Vec::new();
    let mut cols = Vec::new();
    for (i, (name, &ft)) in t.key_names.iter().zip(key_types).enumerate() {
        let vals: Vec<&Scalar> = t.rows.iter().filter_map(|r| r.key.get(i)).collect();
        let (dt, arr) = key_column(&vals, ft);
        fields.push(Field::new(name.clone(), dt, true));
        cols.push(arr);
    }
    for (i, name) in t.agg_names.iter().enumerate() {
        let vals: Vec<Stat> = t
            .rows
            .iter()
            .map(|r| r.aggs.get(i).copied().unwrap_or(Stat::Missing))
            .collect();
        let (dt, arr) = agg_column(&vals);
        fields.push(Field::new(name.clone(), dt, true));
        cols.push(arr);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
}
