//! The classic-pcap reader's scouts (speculative record chains ahead of the
//! reader, `pcapx_capture`'s `scout` module) on arbitrary bytes: every
//! record the reader takes from a scout equals the one it reads itself, and
//! the chain walked is the same, for scouts started a few hundred bytes to a
//! few KiB apart (the reader's real spacing, 512 KiB, needs larger files
//! than fuzzing makes). A pcap file header, if any, is skipped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_capture::check_scouts_follow_the_chain;

fuzz_target!(|data: &[u8]| {
    let body = match data {
        [0xd4, 0xc3, 0xb2, 0xa1, ..] if data.len() >= 24 => &data[24..],
        _ => data,
    };
    let pick = data.last().copied().unwrap_or(0);
    for spacing in [64 + u64::from(pick) * 4, 1500, 4096] {
        check_scouts_follow_the_chain(body, spacing);
    }
});
