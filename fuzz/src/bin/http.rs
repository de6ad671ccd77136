//! The http dissector: one payload over TCP (see `pcapx_fuzz::app_target`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pcapx_fuzz::app_target(data, false, &[80, 8080]));
