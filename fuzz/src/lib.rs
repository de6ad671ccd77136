//! Shared helpers of the fuzz targets: a byte-driven reader of the fuzzer's
//! input and the built-in engine.

use std::sync::OnceLock;

use pcapx_core::Engine;

/// Reads choices from the fuzzer's bytes; zeros once they run out.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    /// One of `n` choices (`n > 0`).
    pub fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Everything not consumed yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// The engine with every built-in dissector (built once per process).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        pcapx_dissectors::builder()
            .expect("built-in dissectors register")
            .build()
            .expect("built-in dispatch tables are declared")
    })
}

/// Link types the engine or the filter compiler handle, plus an unknown one.
pub const LINKTYPES: &[u32] = &[0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];
