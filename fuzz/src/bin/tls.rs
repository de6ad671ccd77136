//! The tls dissector: one payload over TCP (see `pcapx_fuzz::app_target`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pcapx_fuzz::app_target(data, false, &[443, 8443]));
