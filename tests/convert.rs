//! `pcapx convert`: formats (insta snapshots), thread-count identity, Parquet
//! types, output errors, the account, and the default table checked against
//! tshark's field export.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common::{ok, pcapx, stderr};

#[test]
fn format_snapshots() {
    insta::assert_snapshot!(
        "convert-tutorial-csv",
        ok(&["convert", "fixtures/tutorial.pcap"])
    );
    insta::assert_snapshot!(
        "convert-tutorial-json",
        ok(&[
            "convert",
            "fixtures/tutorial.pcap",
            "--to",
            "json",
            "-c",
            "8"
        ])
    );
    insta::assert_snapshot!(
        "convert-tutorial-jsonl-iso",
        ok(&[
            "convert",
            "fixtures/tutorial.pcap",
            "--to",
            "jsonl",
            "--time-format",
            "iso",
            "-c",
            "8"
        ])
    );
    insta::assert_snapshot!(
        "convert-dns-fields-all",
        ok(&[
            "convert",
            "fixtures/dns.pcap",
            "--fields",
            "frame.number,ip.src,udp.dstport,dns.qry.name,dns.a,dns.cname",
            "--occurrence",
            "all"
        ])
    );
    insta::assert_snapshot!(
        "convert-dns-fields-all-json",
        ok(&[
            "convert",
            "fixtures/dns.pcap",
            "--to",
            "json",
            "--fields",
            "frame.number,dns.qry.name,dns.a",
            "--occurrence",
            "all",
            "-c",
            "4"
        ])
    );
    insta::assert_snapshot!(
        "convert-vlan-all-fields",
        ok(&[
            "convert",
            "fixtures/vlan.pcap",
            "--all",
            "--fields",
            "frame.number,eth.src,vlan.id,ip.src,ipv6.src,sport,dport,payload,frame.protocols"
        ])
    );
    insta::assert_snapshot!(
        "convert-icmp-errors-default",
        ok(&["convert", "fixtures/icmp-errors.pcap"])
    );
    insta::assert_snapshot!(
        "convert-padded-default",
        ok(&["convert", "fixtures/padded-min-frames.pcap"])
    );
    insta::assert_snapshot!(
        "convert-truncated-default",
        ok(&["convert", "fixtures/snaplen-truncated.pcap"])
    );
}

#[test]
fn json_is_valid_and_typed() {
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["convert", "fixtures/tutorial.pcap", "--to", "json"])).unwrap();
    let rows = v.as_array().unwrap();
    let csv_rows = ok(&["convert", "fixtures/tutorial.pcap"]).lines().count() - 1;
    assert_eq!(rows.len(), csv_rows);
    let first = &rows[0];
    assert!(first["ttl"].is_u64());
    assert!(first["src"].is_string());
    assert!(
        first["time"].as_str().unwrap().contains('.'),
        "time keeps all digits as a string"
    );
    // UDP rows: TCP-only columns are null.
    let udp = rows.iter().find(|r| r["proto"] == 17).unwrap();
    assert!(udp["seq"].is_null() && udp["sport"].is_u64());
    for line in ok(&["convert", "fixtures/tutorial.pcap", "--to", "jsonl"]).lines() {
        let _: serde_json::Value = serde_json::from_str(line).unwrap();
    }
}

#[test]
fn output_is_identical_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pcap");
    common::repeated_capture("tutorial.pcap", 600, &big); // 17,400 packets: several batches
    let big = big.to_str().unwrap();
    for fmt in ["csv", "jsonl"] {
        let one = ok(&["convert", big, "--to", fmt, "--threads", "1"]);
        for t in ["2", "3", "8"] {
            assert!(
                one == ok(&["convert", big, "--to", fmt, "--threads", t]),
                "{fmt} differs with {t} threads"
            );
        }
    }
    let p1 = dir.path().join("t1.parquet");
    let p4 = dir.path().join("t4.parquet");
    ok(&["convert", big, "-o", p1.to_str().unwrap(), "--threads", "1"]);
    ok(&["convert", big, "-o", p4.to_str().unwrap(), "--threads", "4"]);
    assert!(
        std::fs::read(&p1).unwrap() == std::fs::read(&p4).unwrap(),
        "parquet differs by thread count"
    );
}

#[test]
fn parquet_reads_back_with_types_and_rows() {
    use parquet::basic::{LogicalType, Type as Physical};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let (_dir, out) = tutorial_parquet();
    let r = SerializedFileReader::new(std::fs::File::open(&out).unwrap()).unwrap();
    let meta = r.metadata();
    let csv_rows = ok(&["convert", "fixtures/tutorial.pcap"]).lines().count() - 1;
    assert_eq!(
        usize::try_from(meta.file_metadata().num_rows()).unwrap(),
        csv_rows
    );
    let schema = meta.file_metadata().schema_descr();
    let col = |name: &str| {
        (0..schema.num_columns())
            .map(|i| schema.column(i))
            .find(|c| c.name() == name)
            .unwrap()
    };
    assert_eq!(col("ttl").physical_type(), Physical::INT32);
    assert_eq!(
        col("ttl").logical_type_ref(),
        Some(&LogicalType::integer(8, false))
    );
    assert_eq!(
        col("sport").logical_type_ref(),
        Some(&LogicalType::integer(16, false))
    );
    assert_eq!(
        col("seq").logical_type_ref(),
        Some(&LogicalType::integer(32, false))
    );
    assert_eq!(col("src").logical_type_ref(), Some(&LogicalType::String));
    assert!(matches!(
        col("time").logical_type_ref(),
        Some(LogicalType::Timestamp(_))
    ));
    // Values: the rows match the CSV (spot-check through the row API).
    let csv = ok(&["convert", "fixtures/tutorial.pcap"]);
    let first_csv: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let mut rows = r.get_row_iter(None).unwrap();
    let row = rows.next().unwrap().unwrap();
    let text = row.to_string();
    assert!(
        text.contains(&format!("src: \"{}\"", first_csv[10])),
        "{text}"
    );
}

#[test]
fn parquet_pandas_reads_it() {
    if !common::python_with(&["pandas", "pyarrow"], "parquet_pandas_reads_it") {
        return;
    }
    let (_dir, out) = tutorial_parquet();
    let code = format!(
        "import pandas as pd; d = pd.read_parquet({:?}); print(len(d), str(d['ttl'].dtype), str(d['time'].dtype), d['src'].iloc[0])",
        out.to_str().unwrap()
    );
    let o = Command::new("python3")
        .args(["-c", &code])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    let csv = ok(&["convert", "fixtures/tutorial.pcap"]);
    let rows = csv.lines().count() - 1;
    let first_src = csv.lines().nth(1).unwrap().split(',').nth(10).unwrap();
    // pandas maps an unsigned 8-bit Parquet column to numpy `uint8` or, with
    // nullable dtypes, `UInt8`: either is the right type.
    let got: Vec<&str> = s.split_whitespace().collect();
    assert_eq!(got.len(), 5, "{s}");
    assert_eq!(got[0], rows.to_string());
    assert_eq!(got[1].to_ascii_lowercase(), "uint8", "{s}");
    assert_eq!(
        format!("{} {}", got[2], got[3]),
        "datetime64[ns, UTC]",
        "{s}"
    );
    assert_eq!(got[4], first_src);
}

#[test]
fn parquet_needs_an_output_file() {
    let o = pcapx(&["convert", "fixtures/tutorial.pcap", "--to", "parquet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("Parquet output needs a file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_output_path_is_a_clear_error() {
    let o = pcapx(&[
        "convert",
        "fixtures/tutorial.pcap",
        "-o",
        "/nonexistent-dir/x.csv",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("pcapx: cannot create /nonexistent-dir/x.csv"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn full_disk_is_reported() {
    if !Path::new("/dev/full").exists() {
        println!("skipped full_disk_is_reported: no /dev/full");
        return;
    }
    let o = pcapx(&["convert", "fixtures/tutorial.pcap", "-o", "/dev/full"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("No space left on device"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn account_reconciles() {
    let o = pcapx(&["convert", "fixtures/tutorial.pcap", "-v"]);
    assert!(o.status.success());
    let err = stderr(&o);
    // "FILE: N packets read, R rows written, S skipped (not IPv4), F filtered out, D damaged records"
    let line = err.lines().find(|l| l.contains("packets read")).unwrap();
    let tail = line.rsplit_once(": ").unwrap().1;
    let nums: Vec<u64> = tail
        .split(", ")
        .map(|p| p.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let (read, rows, skipped, filtered) = (nums[0], nums[1], nums[2], nums[3]);
    assert_eq!(read, rows + skipped + filtered, "{err}");
    assert_eq!(
        usize::try_from(rows).unwrap(),
        common::stdout(&o).lines().count() - 1
    );
    let total = ok(&["info", "--json", "fixtures/tutorial.pcap"]);
    let j: serde_json::Value = serde_json::from_str(&total).unwrap();
    assert_eq!(j["packets"].as_u64(), Some(read));
}

// ---------------------------------------------------------------------------
// The default (tutorial) table against tshark's field export.

/// tshark field per tutorial column, and how to turn tshark's text into ours.
const TSHARK: &[(&str, &str)] = &[
    ("version", "ip.version"),
    ("ihl", "ip.hdr_len"),
    ("tos", "ip.dsfield"),
    ("len", "ip.len"),
    ("id", "ip.id"),
    ("ip.flags", "ip.flags"),
    ("frag", "ip.frag_offset"),
    ("ttl", "ip.ttl"),
    ("proto", "ip.proto"),
    ("ip.chksum", "ip.checksum"),
    ("src", "ip.src"),
    ("dst", "ip.dst"),
    ("time", "frame.time_epoch"),
    ("sport", "tcp.srcport"),
    ("dport", "tcp.dstport"),
    ("seq", "tcp.seq_raw"),
    ("ack", "tcp.ack_raw"),
    ("dataofs", "tcp.hdr_len"),
    ("tcp.flags", "tcp.flags"),
    ("window", "tcp.window_size_value"),
    ("tcp.chksum", "tcp.checksum"),
    ("urgptr", "tcp.urgent_pointer"),
    ("payload", "tcp.len"),
    ("udp.sport", "udp.srcport"),
    ("udp.dport", "udp.dstport"),
    ("udp.length", "udp.length"),
    ("frame.number", "frame.number"),
    ("ip.flags.mf", "ip.flags.mf"),
];

fn num(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// Compare one capture; returns (rows, cells) compared.
fn compare_with_tshark(file: &Path) -> (usize, usize) {
    let f = file.to_str().unwrap();
    let mut cmd = Command::new("tshark");
    cmd.args([
        "-n",
        "-r",
        f,
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "tcp.relative_sequence_numbers:FALSE",
        "-Y",
        "ip",
        "-T",
        "fields",
        "-E",
        "occurrence=f",
        "-E",
        "separator=\t",
    ]);
    for (_, t) in TSHARK {
        cmd.args(["-e", t]);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "tshark failed on {f}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let tshark = String::from_utf8_lossy(&o.stdout).into_owned();
    let ours = ok(&["convert", f]);
    let mut lines = ours.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let idx = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let ours: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let theirs: Vec<Vec<&str>> = tshark.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{f}: row count (pcapx vs tshark -Y ip)"
    );
    let t = |name: &str| TSHARK.iter().position(|(n, _)| *n == name).unwrap();
    let mut cells = 0;
    for (o, th) in ours.iter().zip(&theirs) {
        let get = |name: &str| th.get(t(name)).copied().unwrap_or("");
        let frame = get("frame.number");
        let proto = num(o[idx("proto")]);
        let fragmented = num(o[idx("frag")]).unwrap_or(0) > 0
            || get("ip.flags.mf") == "1"
            || get("ip.flags.mf") == "True";
        for (col, _) in TSHARK.iter().take(23) {
            let ours_v = o[idx(col)];
            let mut want = get(col).to_owned();
            match *col {
                "ihl" | "dataofs" => {
                    want = num(&want).map(|v| (v / 4).to_string()).unwrap_or_default()
                }
                "sport" | "dport" if proto == Some(17) => {
                    want = get(&format!("udp.{col}")).to_owned()
                }
                "payload" if proto == Some(17) => {
                    want = num(get("udp.length"))
                        .map(|v| v.saturating_sub(8).to_string())
                        .unwrap_or_default()
                }
                _ => {}
            }
            // Transport columns: only plain TCP/UDP (the tutorial's table leaves
            // others empty; tshark would show a quoted header of an ICMP error).
            let transport =
                TSHARK.iter().position(|(n, _)| n == col).unwrap() >= 13 && *col != "time";
            if transport && (fragmented || !matches!(proto, Some(6) | Some(17))) {
                continue;
            }
            if transport && proto == Some(17) && !matches!(*col, "sport" | "dport" | "payload") {
                assert_eq!(
                    ours_v, "",
                    "{f} frame {frame}: {col} should be empty for UDP"
                );
                continue;
            }
            let same = match (num(ours_v), num(&want)) {
                (Some(a), Some(b)) => a == b,
                _ => ours_v == want,
            };
            assert!(
                same,
                "{f} frame {frame}: column {col}: pcapx {ours_v:?} vs tshark {want:?}"
            );
            cells += 1;
        }
    }
    (ours.len(), cells)
}

#[test]
fn default_table_matches_tshark() {
    if !common::tool("tshark", "default_table_matches_tshark") {
        return;
    }
    let mut files: Vec<std::path::PathBuf> = [
        "tutorial.pcap",
        "padded-min-frames.pcap",
        "ipv4-options.pcap",
        "tcp-options.pcap",
        "vlan.pcap",
        "dns.pcap",
        "icmp-errors.pcap",
        "snaplen-truncated.pcap",
    ]
    .iter()
    .map(|f| common::fixture(f))
    .collect();
    if let Some(c) = common::corpus("default_table_matches_tshark") {
        for group in ["ethernet-ipv4", "dns"] {
            files.extend(common::captures(&c.join(group)));
        }
    }
    let mut totals = HashMap::new();
    for f in &files {
        let (rows, cells) = compare_with_tshark(f);
        *totals.entry("rows").or_insert(0) += rows;
        *totals.entry("cells").or_insert(0) += cells;
    }
    println!(
        "compared {} files, {} rows, {} cells with tshark",
        files.len(),
        totals["rows"],
        totals["cells"]
    );
    assert!(totals["cells"] > 1000);
}

#[test]
fn parquet_duckdb_reads_it_and_agrees_with_stats() {
    if !common::python_with(&["duckdb"], "parquet_duckdb_reads_it_and_agrees_with_stats") {
        return;
    }
    let (_dir, out) = tutorial_parquet();
    let code = format!(
        "import duckdb\n\
         p = {:?}\n\
         print(duckdb.sql(f\"select typeof(any_value(ttl)), typeof(any_value(time)), typeof(any_value(src)), typeof(any_value(seq)) from '{{p}}'\").fetchall()[0])\n\
         for r in duckdb.sql(f\"select src, sum(payload) s from '{{p}}' group by src order by s desc, src\").fetchall(): print(f'{{r[0]}},{{r[1]}}')",
        out.to_str().unwrap()
    );
    let o = Command::new("python3")
        .args(["-c", &code])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("('UTINYINT', 'TIMESTAMPTZ_NS', 'VARCHAR', 'UINTEGER')")
    );
    let duck: Vec<&str> = lines.collect();
    let ours = ok(&[
        "stats",
        "fixtures/tutorial.pcap",
        "--group-by",
        "src",
        "--sum",
        "payload",
        "--format",
        "csv",
    ]);
    assert_eq!(duck, ours.lines().skip(1).collect::<Vec<_>>());
}

/// The tutorial fixture converted to Parquet in a fresh temporary folder.
fn tutorial_parquet() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.parquet");
    ok(&[
        "convert",
        "fixtures/tutorial.pcap",
        "-o",
        out.to_str().unwrap(),
    ]);
    (dir, out)
}

/// `--display-base` writes every hex-based field as `tshark -T fields` does:
/// each built-in field pcapx declares hex and tshark knows, on every
/// capture of the corpus and the fixtures, cell by cell wherever both tools
/// have a value (whether a value is present is the dissector tests' job).
#[test]
fn display_base_matches_tshark_on_every_hex_field() {
    let Some(corpus) = common::corpus("display_base_matches_tshark_on_every_hex_field") else {
        return;
    };
    if !common::tool("tshark", "display_base_matches_tshark_on_every_hex_field") {
        return;
    }
    let fields: serde_json::Value = serde_json::from_str(&ok(&["fields", "--json"])).unwrap();
    let glossary = Command::new("tshark")
        .args(["-G", "fields"])
        .output()
        .unwrap();
    let known: std::collections::HashSet<String> = String::from_utf8_lossy(&glossary.stdout)
        .lines()
        .filter_map(|l| {
            let mut p = l.split('\t');
            (p.next() == Some("F")).then(|| p.nth(1).unwrap_or_default().to_owned())
        })
        .collect();
    let hex: Vec<&str> = fields
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["base"] == "hex" && f["origin"] == "built-in")
        .filter_map(|f| f["name"].as_str())
        .filter(|n| known.contains(*n))
        .collect();
    assert!(hex.len() >= 40, "{hex:?}");
    // Every capture of the corpus and the fixtures that the Wireshark tools
    // read, concatenated into one pcapng (one tshark start instead of 200).
    let mut files = common::captures(&corpus);
    files.extend(common::captures(&common::root().join("fixtures")));
    let readable: Vec<&std::path::PathBuf> = files
        .iter()
        .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() <= 3 << 20))
        .filter(|f| {
            Command::new("capinfos")
                .arg("-c")
                .arg(f)
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    assert!(readable.len() > 150, "{}", readable.len());
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.pcapng");
    let merged = Command::new("mergecap")
        .args(["-F", "pcapng", "-a", "-w"])
        .arg(&all)
        .args(&readable)
        .output()
        .unwrap();
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let file = all.to_str().unwrap();
    let ours = common::pcapx_rows(file, &hex, &["--display-base"]);
    // First occurrences, as `pcapx_rows` gives (tshark's default joins all
    // occurrences with the separator).
    let mut tshark = Command::new("tshark");
    tshark.args([
        "-n",
        "-r",
        file,
        "-T",
        "fields",
        "-E",
        "separator=,",
        "-E",
        "occurrence=f",
    ]);
    for f in &hex {
        tshark.args(["-e", f]);
    }
    let out = tshark.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = String::from_utf8_lossy(&out.stdout);
    assert_eq!(ours.len(), theirs.lines().count());
    let (mut compared, mut hex_cells) = (0usize, 0usize);
    let mut diffs = Vec::new();
    for (row, (a, b)) in ours.iter().zip(theirs.lines()).enumerate() {
        for ((name, x), y) in hex.iter().zip(a).zip(b.split(',')) {
            if x.is_empty() || y.is_empty() {
                continue;
            }
            compared += 1;
            hex_cells += usize::from(x.starts_with("0x"));
            if x != y {
                diffs.push(format!("record {}: {name} {x} vs tshark {y}", row + 1));
            }
        }
    }
    println!(
        "{} hex fields, {compared} cells compared ({hex_cells} in 0x form), {} differences",
        hex.len(),
        diffs.len()
    );
    assert!(compared > 10_000, "{compared}");
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(20)].join("\n")
    );
}

/// Every packet of every corpus capture and fixture, handed to `f` with the
/// file's name (unreadable files are skipped).
fn each_corpus_packet(corpus: &Path, mut f: impl FnMut(&Path, &pcapx_core::PacketMeta<'_>, &[u8])) {
    let mut files = common::captures(corpus);
    files.extend(common::captures(&common::root().join("fixtures")));
    for file in &files {
        let Ok(mut cap) = pcapx_capture::Capture::open(file) else {
            continue;
        };
        let _ = cap.try_for_each(|r| {
            f(file, &pcapx_facade::input::meta(r), r.data);
            std::ops::ControlFlow::<()>::Continue(())
        });
    }
}

/// A table's sink stops the walk where nothing it reads can follow
/// (`Engine::new_fields_for`): over every corpus capture and fixture, each
/// column's values (every occurrence) and each packet's row decision equal
/// those of the full walk, for header tables (where the application layer is
/// skipped) and tables that reach into it or through tunnels.
#[test]
fn a_table_that_stops_the_walk_early_reads_the_same_values() {
    use pcapx_output::{Occurrence, TableSpec, TimeFormat};

    let Some(corpus) = common::corpus("a_table_that_stops_the_walk_early_reads_the_same_values")
    else {
        return;
    };
    let engine = pcapx_dissectors::builder().unwrap().build().unwrap();
    let reg = engine.registry();
    let sets: [&[&str]; 4] = [
        &[],
        &["ip.src", "ip.dst", "ipv6.src", "ip.proto", "udp.dstport"],
        &[
            "frame.number",
            "eth.src",
            "vlan.id",
            "arp.opcode",
            "icmp.type",
            "icmpv6.type",
            "tcp.flags",
        ],
        &[
            "ip.src",
            "dns.qry.name",
            "tls.handshake.extensions_server_name",
            "http.host",
            "http.request.uri",
            "quic.version",
            "dhcp.option.hostname",
            "ssh.protocol",
        ],
    ];
    let mut specs = Vec::new();
    for set in sets {
        let names: Vec<&str> = set
            .iter()
            .copied()
            .filter(|n| reg.field_by_name(n).is_some())
            .collect();
        let list = names.join(",");
        let fields = (!set.is_empty()).then_some(list.as_str());
        let spec =
            TableSpec::build(reg, fields, false, TimeFormat::Epoch, Occurrence::All).unwrap();
        let wanted = spec.wanted(reg.field_count());
        let full = engine.new_fields(wanted.clone());
        let early = engine.new_fields_for(wanted, &spec.kept_protocols());
        specs.push((spec, full, early));
    }
    let (mut packets, mut stopped) = (0u64, 0u64);
    let values = |spec: &TableSpec, f: &pcapx_core::Fields| -> Vec<Vec<String>> {
        spec.columns
            .iter()
            .map(|c| {
                let mut v = Vec::new();
                pcapx_output::for_each_value(c, f, Occurrence::All, |x| v.push(format!("{x:?}")));
                v
            })
            .collect()
    };
    each_corpus_packet(&corpus, |file, meta, data| {
        for (spec, full, early) in &mut specs {
            engine.dissect(meta, data, full);
            engine.dissect(meta, data, early);
            let at = format!("{}: packet {}", file.display(), meta.number);
            assert_eq!(
                spec.accepts(full),
                spec.accepts(early),
                "{at}: row decision"
            );
            assert_eq!(values(spec, full), values(spec, early), "{at}");
            packets += 1;
            stopped += u64::from(early.layers() != full.layers());
        }
    });
    println!("{packets} (packet, table) pairs compared, {stopped} walks stopped early");
    assert!(packets > 10_000, "{packets}");
    assert!(stopped > 2_000, "the early stop must happen: {stopped}");
}

/// What `Engine::new_fields_for` relies on: a layer's fields are its own
/// protocol's, or of a protocol its dissector declared it also fills
/// (`Registrar::also_fills`, e.g. QUIC's TLS handshake fields). Checked on
/// every entry of every packet of the corpus and the fixtures.
#[test]
fn a_layer_fills_only_fields_its_dissector_declares() {
    let Some(corpus) = common::corpus("a_layer_fills_only_fields_its_dissector_declares") else {
        return;
    };
    let engine = pcapx_dissectors::builder().unwrap().build().unwrap();
    let reg = engine.registry();
    let mut fields = engine.new_fields(pcapx_core::Wanted::All);
    let mut entries = 0u64;
    let mut wrong = std::collections::BTreeMap::new();
    each_corpus_packet(&corpus, |file, meta, data| {
        engine.dissect(meta, data, &mut fields);
        for e in fields.entries() {
            let owner = reg.field(e.field).proto;
            let layer = fields.layers()[usize::from(e.layer)].proto;
            entries += 1;
            if owner != layer && !engine.fills(layer, owner) {
                wrong
                    .entry(format!(
                        "{} fills {}",
                        reg.protocol(layer).name,
                        reg.protocol(owner).name
                    ))
                    .or_insert_with(|| {
                        format!("{} in {}", reg.field(e.field).name, file.display())
                    });
            }
        }
    });
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(entries > 100_000, "{entries}");
}

/// Ethernet + IPv4 + UDP (8 payload bytes) from 10.0.0.1 to 10.0.0.2 with
/// the given IPv4 header checksum (`None`: the right one).
fn udp_frame(checksum: Option<u16>) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let mut ip = vec![
        0x45, 0, 0, 36, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let sum = {
        let mut s: u32 = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !u16::try_from(s).unwrap()
    };
    ip[10..12].copy_from_slice(&checksum.unwrap_or(sum).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 16, 0, 0]);
    f.extend_from_slice(b"abcdefgh");
    f
}

/// A table job that reads no anomaly skips IPv4 header checksum
/// verification (`Fields::verifies`); one that reads `frame.anomaly`, and
/// the anomaly tally of `-v`, still find the bad checksum.
#[test]
fn checksum_anomaly_is_found_whenever_the_job_reads_anomalies() {
    use pcapx_capture::{PcapHeader, PcapWriter};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cksum.pcap");
    let mut w = PcapWriter::new(Vec::new(), PcapHeader::default()).unwrap();
    for (i, frame) in [udp_frame(None), udp_frame(Some(0x1234))]
        .iter()
        .enumerate()
    {
        let ts = (1_700_000_000 + i64::try_from(i).unwrap()) * 1_000_000_000;
        w.write_packet(ts, u32::try_from(frame.len()).unwrap(), frame)
            .unwrap();
    }
    std::fs::write(&path, w.into_inner()).unwrap();
    let p = path.to_str().unwrap();
    let table = ok(&[
        "convert",
        p,
        "--fields",
        "ip.src,frame.anomaly",
        "--to",
        "csv",
    ]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(!rows[1].contains("bad-checksum"), "{table}");
    assert!(rows[2].contains("bad-checksum"), "{table}");
    let o = pcapx(&["convert", p, "--fields", "ip.src,ip.checksum", "-v"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("bad-checksum"), "{}", stderr(&o));
    // The tutorial table reads no anomaly: its rows are the same either way.
    let t = ok(&["convert", p]);
    assert_eq!(t.lines().count(), 3, "{t}");
}
