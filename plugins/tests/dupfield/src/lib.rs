//! Test-only plugin: declares `ip.src`, a name the built-in IPv4 dissector
//! already registered (a load error naming the file).
use pcapx_plugin_sdk::{Cx, Declare, Field, FieldSpec, FieldType, Outcome, Protocol, pcapx_plugin};

pub struct Ip2 {
    _src: Field,
}

impl Protocol for Ip2 {
    fn declare(d: &mut Declare) -> Ip2 {
        // Field names live in their protocol's namespace, so taking `ip.src`
        // means declaring protocol `ip` too; the host reports the field clash.
        d.protocol("ip", "Duplicate IP", "IP2");
        Ip2 {
            _src: d.field(FieldSpec::new("ip.src", "Source", FieldType::Ipv4, "")),
        }
    }

    fn dissect(&self, data: &[u8], _cx: &mut Cx<'_>) -> Outcome {
        Outcome::end(data.len())
    }
}

pcapx_plugin! {
    name: "dupfield",
    version: "0.0.1",
    description: "test: declares ip.src again",
    protocols: [Ip2],
}
