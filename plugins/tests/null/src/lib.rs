//! Test/benchmark plugin: claims UDP port 123 and does nothing but take its
//! bytes (measures the fixed cost of one call across the plugin boundary).
use pcapx_plugin_sdk::{Cx, Declare, Outcome, Protocol, pcapx_plugin};

pub struct Null;

impl Protocol for Null {
    fn declare(d: &mut Declare) -> Null {
        d.protocol("pcapx-null-test", "Null test protocol", "NullTest");
        d.bind("udp.port", 123);
        Null
    }

    fn dissect(&self, data: &[u8], _cx: &mut Cx<'_>) -> Outcome {
        Outcome::end(data.len())
    }
}

pcapx_plugin! {
    name: "null",
    version: "0.0.1",
    description: "test: an empty layer (boundary cost benchmark)",
    protocols: [Null],
}
