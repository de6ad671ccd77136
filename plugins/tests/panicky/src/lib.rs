//! Test-only plugin: panics on every packet (the SDK's shim catches it; the
//! host marks the packet `plugin-failed`). With `PANICKY_AT_LOAD` set it
//! panics while declaring instead, outside any call from the host: the SDK's
//! panic hook prints that one, and the entry point declines to load.
use pcapx_plugin_sdk::{Cx, Declare, Field, FieldSpec, FieldType, Outcome, Protocol, pcapx_plugin};

pub struct Panicky {
    first: Field,
}

impl Protocol for Panicky {
    fn declare(d: &mut Declare) -> Panicky {
        assert!(
            std::env::var_os("PANICKY_AT_LOAD").is_none(),
            "panicky plugin: deliberate panic while declaring"
        );
        d.protocol("panicky", "Panicking test protocol", "Panicky");
        d.bind("udp.port", 123);
        d.bind("udp.port", 69);
        Panicky {
            first: d.field(FieldSpec::new(
                "panicky.first",
                "First byte",
                FieldType::U8,
                "",
            )),
        }
    }

    fn dissect(&self, data: &[u8], cx: &mut Cx<'_>) -> Outcome {
        if let Some(&b) = data.first() {
            cx.add_u64(self.first, u64::from(b));
        }
        panic!(
            "panicky plugin: deliberate panic on frame {}",
            cx.info().frame_number
        );
    }
}

pcapx_plugin! {
    name: "panicky",
    version: "0.0.1",
    description: "test: panics on every packet",
    protocols: [Panicky],
}
