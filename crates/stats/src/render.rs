//! Text renderings of results: an aligned table for people, CSV and JSON for
//! machines. Everything returns a `String`; the caller writes it.

use crate::describe::{Cell, NUMERIC_ROWS, Summary, TEXT_ROWS};
use crate::distinct::Distinct;
use crate::group::{GroupTable, Stat};
use crate::key::{fmt_float, push_float_json, push_json_str};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OutFormat {
    Table,
    Csv,
    Json,
}

/// An aligned table: text columns left-aligned, numeric columns right-aligned.
fn aligned(header: &[String], rows: &[Vec<String>], numeric: &[bool]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = width.get(i).copied().unwrap_or(0);
            let pad = w.saturating_sub(c.chars().count());
            if i > 0 {
                s.push_str("  ");
            }
            if numeric.get(i).copied().unwrap_or(false) {
                s.extend(std::iter::repeat_n(' ', pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header, &mut out);
    for r in rows {
        line(r, &mut out);
    }
    out
}

/// One CSV field (RFC 4180 quoting when needed).
fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn csv_line(out: &mut String, cells: impl IntoIterator<Item = impl AsRef<str>>) {
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, c.as_ref());
    }
    out.push('\n');
}

fn stat_json(out: &mut String, s: &Stat) {
    match (s.text(), s.is_json_number()) {
        (Some(t), true) => out.push_str(&t),
        (Some(t), false) => push_json_str(out, &t),
        (None, _) => out.push_str("null"),
    }
}

/// Render a group-by result. Missing aggregate values are empty in CSV,
/// `null` in JSON and `NaN` in the table (pandas' spelling).
pub fn group_table(t: &GroupTable, f: OutFormat) -> String {
    let mut out = String::new();
    match f {
        OutFormat::Table => {
            let header: Vec<String> = t.key_names.iter().chain(&t.agg_names).cloned().collect();
            let rows: Vec<Vec<String>> = t
                .rows
                .iter()
                .map(|r| {
                    r.key
                        .iter()
                        .map(ToString::to_string)
                        .chain(
                            r.aggs
                                .iter()
                                .map(|a| a.text().unwrap_or_else(|| "NaN".into())),
                        )
                        .collect()
                })
                .collect();
            let numeric: Vec<bool> = t
                .key_names
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    t.rows
                        .first()
                        .and_then(|r| r.key.get(i))
                        .is_some_and(|k| k.is_numeric())
                })
                .chain(t.agg_names.iter().map(|_| true))
                .collect();
            out = aligned(&header, &rows, &numeric);
        }
        OutFormat::Csv => {
            csv_line(&mut out, t.key_names.iter().chain(&t.agg_names));
            for r in &t.rows {
                csv_line(
                    &mut out,
                    r.key
                        .iter()
                        .map(ToString::to_string)
                        .chain(r.aggs.iter().map(|a| a.text().unwrap_or_default())),
                );
            }
        }
        OutFormat::Json => {
            out.push('[');
            for (i, r) in t.rows.iter().enumerate() {
                out.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
                let mut first = true;
                for (name, k) in t.key_names.iter().zip(&r.key) {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    push_json_str(&mut out, name);
                    out.push_str(": ");
                    k.write_json(&mut out);
                }
                for (name, a) in t.agg_names.iter().zip(&r.aggs) {
                    out.push_str(", ");
                    push_json_str(&mut out, name);
                    out.push_str(": ");
                    stat_json(&mut out, a);
                }
                out.push('}');
            }
            out.push_str(if t.rows.is_empty() { "]\n" } else { "\n]\n" });
        }
    }
    out
}

fn cell_text(c: Option<Cell>) -> String {
    match c {
        None => String::new(),
        Some(Cell::Int(i)) => i.to_string(),
        Some(Cell::Float(f)) => fmt_float(f),
        Some(Cell::Text(s)) => s,
    }
}

fn cell_json(out: &mut String, c: &Cell) {
    match c {
        Cell::Int(i) => out.push_str(&i.to_string()),
        Cell::Float(f) => push_float_json(out, *f),
        Cell::Text(s) => push_json_str(out, s),
    }
}

fn summary_json(out: &mut String, s: &Summary, indent: &str) {
    out.push('{');
    for (i, row) in s.row_names().iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(indent);
        out.push_str("  ");
        push_json_str(out, row);
        out.push_str(": ");
        if let Some(c) = s.cell(row) {
            cell_json(out, &c);
        }
    }
    out.push('\n');
    out.push_str(indent);
    out.push('}');
}

/// Render `describe` results, one per field. The table has pandas' layout
/// (statistics down, fields across; rows of the other kind blank when numeric
/// and text fields are mixed). JSON is pandas' row names → values, nested by
/// field when there are several fields.
pub fn describe(results: &[(String, Summary)], f: OutFormat) -> String {
    let mut out = String::new();
    match f {
        OutFormat::Table | OutFormat::Csv => {
            let has_text = results.iter().any(|r| matches!(r.1, Summary::Text { .. }));
            let has_num = results
                .iter()
                .any(|r| matches!(r.1, Summary::Numeric { .. }));
            let mut names: Vec<&str> = Vec::new();
            if has_text || !has_num {
                names.extend(TEXT_ROWS);
            }
            if has_num {
                for r in NUMERIC_ROWS {
                    if !names.contains(&r) {
                        names.push(r);
                    }
                }
            }
            let header: Vec<String> = std::iter::once(String::new())
                .chain(results.iter().map(|r| r.0.clone()))
                .collect();
            let rows: Vec<Vec<String>> = names
                .iter()
                .map(|n| {
                    std::iter::once((*n).to_owned())
                        .chain(results.iter().map(|r| cell_text(r.1.cell(n))))
                        .collect()
                })
                .collect();
            if f == OutFormat::Csv {
                for r in std::iter::once(&header).chain(&rows) {
                    csv_line(&mut out, r);
                }
            } else {
                let numeric: Vec<bool> = header.iter().enumerate().map(|(i, _)| i > 0).collect();
                out = aligned(&header, &rows, &numeric);
            }
        }
        OutFormat::Json => match results {
            [(_, s)] => {
                summary_json(&mut out, s, "");
                out.push('\n');
            }
            _ => {
                out.push('{');
                for (i, (name, s)) in results.iter().enumerate() {
                    out.push_str(if i == 0 { "\n  " } else { ",\n  " });
                    push_json_str(&mut out, name);
                    out.push_str(": ");
                    summary_json(&mut out, s, "  ");
                }
                out.push_str("\n}\n");
            }
        },
    }
    out
}

/// Render `unique`: one value per line in first-seen order; with `counts`, a
/// CSV table `<field>,count` (header, then `value,count` per line, values
/// quoted when needed).
pub fn unique(field: &str, d: &Distinct, counts: bool) -> String {
    let mut out = String::new();
    if counts {
        csv_line(&mut out, [field, "count"]);
        for (v, n) in d.values() {
            csv_line(&mut out, [v.to_string(), n.to_string()]);
        }
    } else {
        for (v, _) in d.values() {
            out.push_str(&v.to_string());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe::describe as summarise;
    use crate::group::{AggKind, GroupPartial, GroupSpec, KeyBuilder, Order};
    use pcapx_core::{FieldType, Value};

    fn table() -> GroupTable {
        let spec = GroupSpec::new(
            vec!["src".into()],
            &[
                (AggKind::Sum, Some(("payload".into(), FieldType::U32))),
                (AggKind::Mean, Some(("payload".into(), FieldType::U32))),
            ],
        )
        .unwrap();
        let mut p = GroupPartial::new();
        let mut kb = KeyBuilder::new();
        for (src, len) in [
            ([10, 0, 0, 1], Some(100)),
            ([10, 0, 0, 2], Some(7)),
            ([10, 0, 0, 1], Some(5)),
            ([192, 168, 0, 10], None),
        ] {
            kb.clear();
            kb.push(Some(Value::Ipv4(src)));
            p.add_row(&spec, kb.key().unwrap(), |_| len.map(Value::U64));
        }
        p.finish(&spec, Order::Value, None)
    }

    #[test]
    fn group_formats() {
        let t = table();
        insta::assert_snapshot!(group_table(&t, OutFormat::Table), @r"
        src           payload_sum  payload_mean
        10.0.0.1              105          52.5
        10.0.0.2                7           7.0
        192.168.0.10            0           NaN
        ");
        insta::assert_snapshot!(group_table(&t, OutFormat::Csv), @r"
        src,payload_sum,payload_mean
        10.0.0.1,105,52.5
        10.0.0.2,7,7.0
        192.168.0.10,0,
        ");
        insta::assert_snapshot!(group_table(&t, OutFormat::Json), @r#"
        [
          {"src": "10.0.0.1", "payload_sum": 105, "payload_mean": 52.5},
          {"src": "10.0.0.2", "payload_sum": 7, "payload_mean": 7.0},
          {"src": "192.168.0.10", "payload_sum": 0, "payload_mean": null}
        ]
        "#);
    }

    #[test]
    fn describe_formats() {
        let mut n = Distinct::new();
        for x in [1u64, 2, 3, 4, 10] {
            n.add(Value::U64(x));
        }
        let mut s = Distinct::new();
        for x in ["a", "b", "a"] {
            s.add(Value::Str(x));
        }
        let one = vec![("len".to_owned(), summarise(FieldType::U16, &n))];
        insta::assert_snapshot!(describe(&one, OutFormat::Json), @r#"
        {
          "count": 5,
          "mean": 4.0,
          "std": 3.5355339059327378,
          "min": 1.0,
          "25%": 2.0,
          "50%": 3.0,
          "75%": 4.0,
          "max": 10.0
        }
        "#);
        let two = vec![
            one[0].clone(),
            ("name".to_owned(), summarise(FieldType::Str, &s)),
        ];
        insta::assert_snapshot!(describe(&two, OutFormat::Table), @r"
                               len  name
        count                    5     3
        unique                         2
        top                            a
        freq                           2
        mean                   4.0
        std     3.5355339059327378
        min                    1.0
        25%                    2.0
        50%                    3.0
        75%                    4.0
        max                   10.0
        ");
    }

    #[test]
    fn unique_layouts() {
        let mut d = Distinct::new();
        for x in ["b", "a,1", "b"] {
            d.add(Value::Str(x));
        }
        assert_eq!(unique("qname", &d, false), "b\na,1\n");
        assert_eq!(unique("qname", &d, true), "qname,count\nb,2\n\"a,1\",1\n");
    }
}
