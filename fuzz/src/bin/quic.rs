//! The quic dissector: one payload over UDP (see `pcapx_fuzz::app_target`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pcapx_fuzz::app_target(data, true, &[443, 4433]));
