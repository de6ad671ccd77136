//! Run a compiled filter over every record of a capture (for instruction
//! counts of the program run: `valgrind --tool=callgrind
//! --toggle-collect='*run_all*' target/release/examples/filterbench FILE EXPR`,
//! against tcpdump's `--toggle-collect=pcap_filter`).
//!
//! Usage: `cargo run --release -p pcapx-filter --example filterbench -- FILE EXPR`

use pcapx_capture::Capture;

#[inline(never)]
fn run_all(prog: &pcapx_filter::Program, records: &[(u32, Vec<u8>)]) -> usize {
    records
        .iter()
        .filter(|(wirelen, data)| prog.matches(data, *wirelen))
        .count()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, expr] = args.as_slice() else {
        eprintln!("usage: filterbench FILE EXPR");
        std::process::exit(2);
    };
    let mut cap = Capture::open(std::path::Path::new(file)).unwrap_or_else(|e| {
        eprintln!("{file}: {e}");
        std::process::exit(1);
    });
    let mut records = Vec::new();
    let mut linktype = 1;
    let read = cap.for_each(|rec| {
        linktype = rec.linktype;
        records.push((rec.wirelen, rec.data.to_vec()));
    });
    if let Err(e) = read {
        eprintln!("{file}: {e}");
        std::process::exit(1);
    }
    let prog = pcapx_filter::compile(expr, linktype, 0).unwrap_or_else(|e| {
        eprintln!("{}", e.render(expr));
        std::process::exit(1);
    });
    println!(
        "{} of {} records match",
        run_all(&prog, &records),
        records.len()
    );
}
