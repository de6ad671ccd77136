//! Walks a capture batch by batch and prints record count, damage and the
//! peak resident set size: `cargo run --release -p pcapx-capture --example walk FILE`.
//! With `--gen N OUT` it first writes a synthetic pcap of N packets to OUT.

use pcapx_capture::{Capture, PcapHeader, PcapWriter};
use std::io::BufWriter;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, n, out] = &args[..]
        && flag == "--gen"
    {
        let n: u64 = n.parse()?;
        let file = BufWriter::new(std::fs::File::create(out)?);
        let mut w = PcapWriter::new(file, PcapHeader::default())?;
        let data: Vec<u8> = (0..1500u32)
            .map(|i| u8::try_from(i % 251))
            .collect::<Result<_, _>>()?;
        for i in 0..n {
            let len = 60 + usize::try_from(i % 1400)?;
            w.write_packet(
                1_700_000_000_000_000_000 + i64::try_from(i)? * 1000,
                u32::try_from(len)?,
                &data[..len],
            )?;
        }
        return Ok(());
    }
    let Some(path) = args.first() else {
        return Err("usage: walk FILE | walk --gen N OUT".into());
    };
    let start = std::time::Instant::now();
    let mut cap = Capture::open(path)?;
    let (mut records, mut bytes) = (0u64, 0u64);
    while let Some(batch) = cap.next_batch(4096, 4 << 20)? {
        for r in batch.iter() {
            records += 1;
            bytes += u64::from(r.caplen);
        }
        cap.recycle(batch);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{records} records, {bytes} packet bytes, {} damage events, mapped {}, {secs:.2} s, peak RSS {} KiB",
        cap.damage_count(),
        cap.is_mapped(),
        peak_rss_kib().unwrap_or(0)
    );
    Ok(())
}
