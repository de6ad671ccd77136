//! Test-only plugin that breaks the contract in the ways the host must catch,
//! one per frame: frame 1 reads its whole input and claims one byte more,
//! frame 2 emits an unknown field id, frame 3 a value of the wrong type;
//! later frames behave (so the test also sees the non-failure path).
use pcapx_plugin_sdk::{Cx, Declare, Field, FieldSpec, FieldType, Outcome, Protocol, pcapx_plugin};

pub struct Overlong {
    sum: Field,
    name: Field,
}

impl Protocol for Overlong {
    fn declare(d: &mut Declare) -> Overlong {
        d.protocol("overlong", "Overlong test protocol", "Overlong");
        d.bind("udp.port", 123);
        d.bind("udp.port", 69);
        Overlong {
            sum: d.field(FieldSpec::new(
                "overlong.sum",
                "Byte sum",
                FieldType::U64,
                "",
            )),
            name: d.field(FieldSpec::new("overlong.name", "Name", FieldType::Str, "")),
        }
    }

    fn dissect(&self, data: &[u8], cx: &mut Cx<'_>) -> Outcome {
        let sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
        cx.add_u64(self.sum, sum);
        match cx.info().frame_number {
            1 => Outcome::end(data.len() + 1),
            2 => {
                cx.add_u64(Field(99), 1);
                Outcome::end(data.len())
            }
            3 => {
                cx.add_u64(self.name, 1);
                Outcome::end(data.len())
            }
            _ => {
                cx.add_str(self.name, b"ok");
                Outcome::end(data.len())
            }
        }
    }
}

pcapx_plugin! {
    name: "overlong",
    version: "0.0.1",
    description: "test: claims more bytes than it was given, unknown field, wrong type",
    protocols: [Overlong],
}
