//! The capture reader on arbitrary bytes: pcap, pcapng, gzip/zstd (detected
//! by magic), streamed; every record, header block, info and damage event is
//! touched, and a byte-exact copy is written and read back. The same bytes
//! as a memory-mapped file (whose classic pcap records are indexed by the
//! reader's fast loop, `Parser::run_pcap`) must read exactly as streamed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_capture::{Capture, CaptureWriter};

fuzz_target!(|data: &[u8]| {
    mapped_equals_streamed(data);
    let Ok(mut cap) = Capture::from_reader("fuzz", std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    let mut copy = CaptureWriter::new(Vec::new());
    let mut sum = 0u64;
    // Small batches so batch boundaries fall everywhere.
    while let Ok(Some(batch)) = cap.next_batch(3, 512) {
        for rec in batch.iter() {
            sum = sum.wrapping_add(u64::from(rec.caplen) ^ rec.ts_ns as u64);
            sum = sum.wrapping_add(rec.data.iter().map(|&b| u64::from(b)).sum::<u64>());
            assert!(rec.data.len() <= rec.raw.len());
        }
        for h in batch.headers() {
            sum = sum.wrapping_add(h.bytes.len() as u64);
        }
        let _ = copy.write_batch(&batch, |i, _| i % 2 == 0);
        assert!(batch.check_intact().is_ok());
        cap.recycle(batch);
    }
    let info = cap.info();
    let _ = format!("{info:?} {}", cap.damage_count());
    for d in cap.damage() {
        let _ = d.to_string();
    }
    std::hint::black_box(sum);
    // The copy is a capture again: it must read back without an error.
    if let Ok(bytes) = copy.finish() {
        if !bytes.is_empty() {
            if let Ok(mut again) = Capture::from_reader("copy", std::io::Cursor::new(bytes)) {
                while let Ok(Some(b)) = again.next_batch(64, 1 << 16) {
                    again.recycle(b);
                }
            }
        }
    }
});

/// Batches, records and damage of a reading, for comparison.
fn reading(mut cap: Capture) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        match cap.next_batch(5, 700) {
            Ok(Some(b)) => {
                out.push(format!("{:?}", b.byte_range()));
                for r in b.iter() {
                    out.push(format!(
                        "{} {} {} {} {} {:?}",
                        r.number, r.ts_ns, r.caplen, r.wirelen, r.offset, r.raw
                    ));
                }
            }
            Ok(None) => break,
            Err(e) => {
                out.push(e.to_string());
                break;
            }
        }
    }
    out.extend(cap.damage().iter().map(|d| format!("{d:?}")));
    out
}

fn mapped_equals_streamed(data: &[u8]) {
    let path = std::env::temp_dir().join(format!("pcapx-fuzz-capture-{}", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let (Ok(mapped), Ok(streamed)) = (Capture::open(&path), Capture::open_streamed(&path)) {
        if mapped.is_mapped() {
            assert_eq!(reading(mapped), reading(streamed));
        }
    }
    let _ = std::fs::remove_file(&path);
}
