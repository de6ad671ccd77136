//! End-to-end tests of `pcapx stats`, `describe` and `unique`: snapshots of
//! every output format on the fixtures, the results checked against numbers
//! computed independently from `convert` output (plain Rust here, and pandas
//! when python3 has it: required under CI), thread-count invariance on a
//! capture spanning many batches, plots, and errors.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use common::{ok, pcapx, stderr};
use serde_json::Value as Json;

const T: &str = "fixtures/tutorial.pcap";

// ---------------------------------------------------------------- snapshots

#[test]
fn stats_formats_on_the_tutorial() {
    insta::assert_snapshot!(
        "stats_table",
        ok(&["stats", T, "--group-by", "src", "--sum", "payload"])
    );
    let multi = [
        "stats",
        T,
        "--group-by",
        "src,dport",
        "--count",
        "--mean",
        "len",
        "--sum",
        "payload",
        "--min",
        "ttl",
        "--max",
        "time",
        "--nunique",
        "sport",
    ];
    for f in ["table", "csv", "json"] {
        let mut args = multi.to_vec();
        args.extend(["--format", f]);
        insta::assert_snapshot!(format!("stats_multi_{f}"), ok(&args));
    }
    insta::assert_snapshot!(
        "stats_sort_key_top",
        ok(&[
            "stats",
            T,
            "--group-by",
            "dst",
            "--sort",
            "key",
            "--top",
            "3"
        ])
    );
    insta::assert_snapshot!(
        "stats_all_packets",
        ok(&[
            "stats",
            T,
            "--all",
            "--group-by",
            "eth.type",
            "--format",
            "csv"
        ])
    );
    insta::assert_snapshot!(
        "stats_plot_terminal",
        ok(&[
            "stats",
            T,
            "--group-by",
            "src",
            "--sum",
            "payload",
            "--plot",
            "-"
        ])
    );
}

#[test]
fn describe_formats_on_the_tutorial() {
    insta::assert_snapshot!(
        "describe_table",
        ok(&[
            "describe",
            T,
            "--field",
            "payload",
            "--field",
            "src,time,proto"
        ])
    );
    insta::assert_snapshot!(
        "describe_json_one",
        ok(&["describe", T, "--field", "len", "--format", "json"])
    );
    insta::assert_snapshot!(
        "describe_json_several",
        ok(&["describe", T, "--field", "dst,sport", "--format", "json"])
    );
}

#[test]
fn unique_formats_on_the_tutorial() {
    insta::assert_snapshot!("unique_plain", ok(&["unique", T, "--field", "dst"]));
    insta::assert_snapshot!(
        "unique_counts",
        ok(&["unique", T, "--field", "dport", "--counts"])
    );
    insta::assert_snapshot!(
        "unique_dns_names",
        ok(&[
            "unique",
            "fixtures/dns.pcap",
            "--all",
            "--field",
            "dns.qry.name",
            "--counts"
        ])
    );
}

// ------------------------------------------------------------ small contracts

#[test]
fn count_is_implied_and_the_limit_applies() {
    let out = ok(&[
        "stats",
        T,
        "--group-by",
        "proto",
        "--format",
        "csv",
        "-c",
        "10",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("proto,count"));
    let total: u64 = lines
        .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum();
    // The first 10 packets of the capture, of which the IPv4 ones make rows.
    let ipv4 = ok(&["convert", T, "-c", "10"]).lines().count() - 1;
    assert_eq!(total, u64::try_from(ipv4).unwrap());
}

#[test]
fn errors_exit_2_with_a_message() {
    for (args, msg) in [
        (
            &["stats", T, "--group-by", "srcc"][..],
            "pcapx: unknown field 'srcc' (did you mean 'src'?)\n",
        ),
        (
            &["stats", T, "--group-by", "dst", "--sum", "srcc"],
            "pcapx: unknown field 'srcc' (did you mean 'src'?)\n",
        ),
        (
            &["describe", T, "--field", "srcc"],
            "pcapx: unknown field 'srcc' (did you mean 'src'?)\n",
        ),
        (
            &["unique", T, "--field", "srcc"],
            "pcapx: unknown field 'srcc' (did you mean 'src'?)\n",
        ),
        (
            &["stats", T, "--group-by", "dst", "--mean", "src"],
            "pcapx: --mean needs a numeric field, but 'src' is ipv4\n",
        ),
        (
            &["stats", T, "--group-by", "dst", "--plot", "out.jpg"],
            "pcapx: --plot needs a file ending in .svg or .png, or '-' for the terminal: 'out.jpg'\n",
        ),
    ] {
        let o = pcapx(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&o), msg, "{args:?}");
    }
}

#[test]
fn aggregates_keep_command_line_order_and_sort_by_the_first() {
    let out = ok(&[
        "stats",
        T,
        "--group-by",
        "src",
        "--mean",
        "len",
        "--count",
        "--format",
        "csv",
    ]);
    let (head, rows) = parse_csv(&out);
    assert_eq!(head, ["src", "len_mean", "count"]);
    let means: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(means.windows(2).all(|w| w[0] >= w[1]), "{out}");
}

// ------------------------------------------------- checks against `convert`

/// A CSV of plain cells (the tutorial table has no quoted cells).
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(!text.contains('"'), "unexpected quoting");
    let mut lines = text.lines();
    let head = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    (head, rows)
}

fn col(head: &[String], name: &str) -> usize {
    head.iter().position(|h| h == name).expect("column")
}

#[derive(Default, Debug)]
struct Expect {
    count: u64,
    sum: i128,
    n: u64,
    min: Option<i128>,
    max: Option<i128>,
    distinct: Vec<String>,
}

/// Check `stats` against a group-by computed here from `convert`'s CSV.
fn check_group_by(file: &str, extra: &[&str], key: &str, val: &str) {
    let mut conv = vec!["convert", file];
    conv.extend(extra);
    let (head, rows) = parse_csv(&ok(&conv));
    let (k, v) = (col(&head, key), col(&head, val));
    let mut want: BTreeMap<String, Expect> = BTreeMap::new();
    for r in &rows {
        if r[k].is_empty() {
            continue; // dropna
        }
        let e = want.entry(r[k].clone()).or_default();
        e.count += 1;
        if r[v].is_empty() {
            continue; // skipna
        }
        let x: i128 = r[v].parse().expect("integer value");
        e.sum += x;
        e.n += 1;
        e.min = Some(e.min.map_or(x, |m| m.min(x)));
        e.max = Some(e.max.map_or(x, |m| m.max(x)));
        if !e.distinct.contains(&r[v]) {
            e.distinct.push(r[v].clone());
        }
    }
    let mut args = vec![
        "stats",
        file,
        "--group-by",
        key,
        "--sum",
        val,
        "--count",
        "--mean",
        val,
        "--min",
        val,
        "--max",
        val,
        "--nunique",
        val,
        "--format",
        "csv",
        "--threads",
        "2",
    ];
    args.extend(extra);
    let (h, got) = parse_csv(&ok(&args));
    let s = |x: &str| format!("{val}_{x}");
    assert_eq!(
        h,
        [
            key.to_owned(),
            s("sum"),
            "count".into(),
            s("mean"),
            s("min"),
            s("max"),
            s("nunique")
        ]
    );
    assert_eq!(got.len(), want.len(), "{file}: groups");
    let mut prev: Option<i128> = None;
    for g in &got {
        let e = want
            .get(&g[0])
            .unwrap_or_else(|| panic!("{file}: group {}", g[0]));
        let sum: i128 = g[1].parse().unwrap();
        // Sorted by the first aggregate, descending.
        assert!(prev.is_none_or(|p| p >= sum), "{file}: order");
        prev = Some(sum);
        assert_eq!(sum, e.sum, "{file} {}: sum", g[0]);
        assert_eq!(g[2], e.count.to_string(), "{file} {}: count", g[0]);
        #[allow(clippy::cast_precision_loss)]
        let mean = (e.n > 0).then(|| format!("{:?}", e.sum as f64 / e.n as f64));
        assert_eq!(g[3], mean.unwrap_or_default(), "{file} {}: mean", g[0]);
        let opt = |x: Option<i128>| x.map(|x| x.to_string()).unwrap_or_default();
        assert_eq!(g[4], opt(e.min), "{file} {}: min", g[0]);
        assert_eq!(g[5], opt(e.max), "{file} {}: max", g[0]);
        assert_eq!(
            g[6],
            e.distinct.len().to_string(),
            "{file} {}: nunique",
            g[0]
        );
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

/// numpy's linear-interpolation percentile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let pos = (sorted.len() - 1) as f64 * q;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - pos.floor())
}

/// Check `describe` and `unique` against values computed here from `convert`.
fn check_describe_unique(file: &str, extra: &[&str], field: &str, numeric: bool) {
    let mut conv = vec!["convert", file];
    conv.extend(extra);
    let (head, rows) = parse_csv(&ok(&conv));
    let c = col(&head, field);
    let cells: Vec<&str> = rows
        .iter()
        .map(|r| r[c].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let mut first_seen: Vec<&str> = Vec::new();
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for &s in &cells {
        if !counts.contains_key(s) {
            first_seen.push(s);
        }
        *counts.entry(s).or_default() += 1;
    }
    let mut args = vec!["unique", file, "--field", field, "--threads", "2"];
    args.extend(extra);
    assert_eq!(
        ok(&args),
        first_seen
            .iter()
            .map(|s| format!("{s}\n"))
            .collect::<String>(),
        "{file}: unique {field}"
    );
    let mut args = vec!["describe", file, "--field", field, "--format", "json"];
    args.extend(extra);
    let got: Json = serde_json::from_str(&ok(&args)).expect("json");
    let num = |k: &str| got[k].as_f64().unwrap_or(f64::NAN);
    assert_eq!(
        got["count"].as_u64(),
        Some(cells.len() as u64),
        "{file}: {field}"
    );
    if numeric {
        let mut xs: Vec<f64> = cells.iter().map(|s| s.parse().unwrap()).collect();
        xs.sort_by(f64::total_cmp);
        #[allow(clippy::cast_precision_loss)]
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        for (k, want) in [
            ("mean", mean),
            ("std", var.sqrt()),
            ("min", xs[0]),
            ("25%", quantile(&xs, 0.25)),
            ("50%", quantile(&xs, 0.5)),
            ("75%", quantile(&xs, 0.75)),
            ("max", xs[xs.len() - 1]),
        ] {
            assert!(
                close(num(k), want, 1e-9),
                "{file} {field} {k}: {} vs {want}",
                num(k)
            );
        }
    } else {
        let mut top: Option<(&str, u64)> = None;
        for s in &first_seen {
            let n = counts[s];
            if top.is_none_or(|t| n > t.1) {
                top = Some((s, n));
            }
        }
        assert_eq!(got["unique"].as_u64(), Some(first_seen.len() as u64));
        assert_eq!(got["top"].as_str(), top.map(|t| t.0), "{file}: top");
        assert_eq!(got["freq"].as_u64(), top.map(|t| t.1), "{file}: freq");
    }
}

#[test]
fn results_agree_with_convert_output() {
    for file in [
        "fixtures/tutorial.pcap",
        "fixtures/tcp-options.pcap",
        "fixtures/dns.pcap",
    ] {
        check_group_by(file, &[], "src", "payload");
        check_group_by(file, &[], "dport", "len");
        check_group_by(file, &["--all"], "proto", "ttl");
        check_describe_unique(file, &[], "payload", true);
        check_describe_unique(file, &[], "src", false);
        check_describe_unique(file, &[], "dport", true);
    }
}

#[test]
fn multi_batch_results_agree_with_convert_and_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pcap");
    // 29 × 400 packets: several pipeline batches.
    common::repeated_capture("tutorial.pcap", 400, &big);
    let big = big.to_str().unwrap();
    check_group_by(big, &[], "src", "payload");
    check_describe_unique(big, &[], "len", true);
    check_describe_unique(big, &[], "dst", false);
    for args in [
        &[
            "stats",
            big,
            "--group-by",
            "time",
            "--sort",
            "key",
            "--top",
            "50",
            "--count",
            "--mean",
            "payload",
            "--nunique",
            "dst",
        ][..],
        // Order-free aggregates: accumulated per thread, merged at the end.
        &[
            "stats",
            big,
            "--group-by",
            "src,dport",
            "--sum",
            "payload",
            "--min",
            "len",
            "--max",
            "ttl",
            "--top",
            "20",
        ],
        &[
            "describe",
            big,
            "--field",
            "time,payload,src",
            "--format",
            "json",
        ],
        &["unique", big, "--field", "time", "--counts"],
    ] {
        let one = ok(&[args, &["--threads", "1"]].concat());
        for t in ["2", "3", "8"] {
            assert_eq!(
                ok(&[args, &["--threads", t]].concat()),
                one,
                "{args:?} --threads {t}"
            );
        }
    }
}

// ----------------------------------------------------------------- pandas

const PANDAS: &str = r#"
import json, math, sys
import pandas as pd
path, key, val, fields = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
df = pd.read_csv(path)
def clean(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    if hasattr(x, "item"):
        return x.item()
    return x
g = df.groupby(key)
groups = {}
for k, n in g.size().items():
    groups[str(k)] = {"count": int(n)}
for name, s in [("sum", g[val].sum()), ("mean", g[val].mean()), ("min", g[val].min()),
                ("max", g[val].max()), ("nunique", g[val].nunique())]:
    for k, x in s.items():
        groups[str(k)][name] = clean(x)
out = {"groups": groups, "describe": {}, "unique": {}}
for f in fields:
    out["describe"][f] = {k: clean(v) for k, v in df[f].describe().to_dict().items()}
    out["unique"][f] = [clean(x) for x in df[f].dropna().unique()]
print(json.dumps(out))
"#;

fn norm_key(j: &Json) -> String {
    let s = match j {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    match s.parse::<f64>() {
        Ok(x) => format!("{x:?}"),
        Err(_) => s,
    }
}

fn num_of(j: &Json) -> f64 {
    match j {
        Json::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Json::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// Compare with pandas on `convert`'s CSV of `file`: a group-by of `val` by
/// `key`, and describe + unique of `fields`. Returns the number of values
/// compared.
fn check_pandas(file: &Path, extra: &[&str], key: &str, val: &str, fields: &[&str]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    let f = file.to_str().unwrap();
    let csv_s = csv.to_str().unwrap();
    ok(&[&["convert", f, "-o", csv_s][..], extra].concat());
    let o = std::process::Command::new("python3")
        .args(["-c", PANDAS, csv_s, key, val, &fields.join(",")])
        .output()
        .expect("python3");
    assert!(
        o.status.success(),
        "pandas: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let pd: Json = serde_json::from_slice(&o.stdout).expect("pandas json");
    let mut compared = 0;

    let mut args = vec![
        "stats",
        f,
        "--group-by",
        key,
        "--count",
        "--sum",
        val,
        "--mean",
        val,
        "--min",
        val,
        "--max",
        val,
        "--nunique",
        val,
        "--format",
        "json",
    ];
    args.extend(extra);
    let got: Json = serde_json::from_str(&ok(&args)).expect("stats json");
    let got = got.as_array().expect("array");
    let want = pd["groups"].as_object().expect("groups");
    assert_eq!(got.len(), want.len(), "{f}: number of groups");
    let by_key: HashMap<String, &Json> = want
        .iter()
        .map(|(k, v)| (norm_key(&Json::String(k.clone())), v))
        .collect();
    for row in got {
        let k = norm_key(&row[key]);
        let w = by_key
            .get(&k)
            .unwrap_or_else(|| panic!("{f}: pandas has no group {k}"));
        for (mine, theirs) in [
            ("count", "count"),
            (&*format!("{val}_sum"), "sum"),
            (&*format!("{val}_mean"), "mean"),
            (&*format!("{val}_min"), "min"),
            (&*format!("{val}_max"), "max"),
            (&*format!("{val}_nunique"), "nunique"),
        ] {
            let (a, b) = (num_of(&row[mine]), num_of(&w[theirs]));
            assert!(
                close(a, b, 1e-12),
                "{f} group {k} {mine}: pcapx {a} pandas {b}"
            );
            compared += 1;
        }
    }

    for field in fields {
        let mut args = vec!["describe", f, "--field", field, "--format", "json"];
        args.extend(extra);
        let got: Json = serde_json::from_str(&ok(&args)).expect("describe json");
        let want = pd["describe"][field].as_object().expect("describe");
        // Times: pandas sums rounded float seconds, pcapx exact nanoseconds.
        let rel = if *field == "time" { 1e-6 } else { 1e-9 };
        for (k, w) in want {
            match (k.as_str(), w) {
                ("top", Json::String(s)) => {
                    assert_eq!(got["top"].as_str(), Some(s.as_str()), "{f} {field} top")
                }
                _ => {
                    let (a, b) = (num_of(&got[k]), num_of(w));
                    assert!(close(a, b, rel), "{f} {field} {k}: pcapx {a} pandas {b}");
                }
            }
            compared += 1;
        }
        let mut args = vec!["unique", f, "--field", field];
        args.extend(extra);
        let got = ok(&args);
        let want: Vec<String> = pd["unique"][field]
            .as_array()
            .unwrap()
            .iter()
            .map(norm_key)
            .collect();
        let mine: Vec<String> = got
            .lines()
            .map(|l| norm_key(&Json::String(l.into())))
            .collect();
        assert_eq!(mine, want, "{f}: unique {field}");
        compared += want.len();
    }
    compared
}

#[test]
fn results_agree_with_pandas() {
    if !common::python_with(&["pandas"], "results_agree_with_pandas") {
        return;
    }
    let mut compared = 0;
    let fields = ["payload", "len", "src", "dst", "sport", "time"];
    for name in [
        "tutorial.pcap",
        "tcp-options.pcap",
        "dns.pcap",
        "fragments.pcap",
        "icmp-errors.pcap",
    ] {
        let p = common::fixture(name);
        compared += check_pandas(&p, &[], "src", "payload", &fields);
        compared += check_pandas(&p, &["--all"], "proto", "len", &["ttl", "dport"]);
    }
    if let Some(corpus) = common::corpus("results_agree_with_pandas (corpus)") {
        for name in [
            "ethernet-ipv4/afs.pcap",
            "ethernet-ipv4/ssh.pcap",
            "ethernet-ipv4/dhcp-rfc4388.pcap",
            "dns/dns_udp.pcap",
            "zeek/dns/mdns.pcap",
        ] {
            let p = corpus.join(name);
            compared += check_pandas(&p, &[], "src", "payload", &fields);
            compared += check_pandas(&p, &[], "dst", "len", &["ttl", "dport", "proto"]);
        }
    }
    println!("results_agree_with_pandas: {compared} values equal to pandas'");
}

// ------------------------------------------------------------------ plots

#[test]
fn svg_plot_has_one_bar_per_group_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.svg");
    let b = dir.path().join("b.svg");
    for p in [&a, &b] {
        let out = ok(&[
            "stats",
            T,
            "--group-by",
            "dst",
            "--sum",
            "payload",
            "--plot",
            p.to_str().unwrap(),
        ]);
        assert!(out.starts_with("dst"), "the table is printed too");
    }
    let svg = std::fs::read_to_string(&a).unwrap();
    assert_eq!(svg, std::fs::read_to_string(&b).unwrap(), "deterministic");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let groups = ok(&["unique", T, "--field", "dst"]).lines().count();
    assert_eq!(
        svg.matches("<rect").count() - 1,
        groups,
        "background + bars"
    );
    assert_eq!(svg.matches("fill=\"#1F77B4\"").count(), groups);
    assert!(svg.contains("payload_sum by dst"));
    for label in ok(&["unique", T, "--field", "dst"]).lines() {
        assert!(
            svg.contains(&format!(">\n{label}\n</text>")),
            "label {label}"
        );
    }
    // --top limits the bars.
    ok(&[
        "stats",
        T,
        "--group-by",
        "dst",
        "--top",
        "2",
        "--plot",
        a.to_str().unwrap(),
    ]);
    let svg = std::fs::read_to_string(&a).unwrap();
    assert_eq!(svg.matches("fill=\"#1F77B4\"").count(), 2);
}

#[test]
fn png_plot_is_a_png_with_one_bar_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    for p in [&a, &b] {
        ok(&[
            "stats",
            T,
            "--group-by",
            "src",
            "--sum",
            "payload",
            "--plot",
            p.to_str().unwrap(),
        ]);
    }
    let png = std::fs::read(&a).unwrap();
    assert_eq!(png, std::fs::read(&b).unwrap(), "deterministic");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    // 4 source addresses: 130 px of frame + 26 px per bar.
    assert_eq!((w, h), (960, 130 + 26 * 4));
}
