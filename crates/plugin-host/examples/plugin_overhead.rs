//! Micro-benchmark: the cost of the plugin boundary per layer call.
//!
//! Dissects the same Ethernet/IPv4/UDP/NTP packet with two engines that differ
//! only in the NTP layer: the `plugins/ntp` plugin (C ABI, SDK shims, checked
//! host callbacks) versus a built-in `Dissector` with the same decoding (same
//! 16 field values). The difference per packet is the boundary's overhead.
//!
//! A second pair isolates the fixed cost of one call: the `plugins/tests/null`
//! plugin (takes its bytes, emits nothing) against an equally empty built-in.
//!
//! ```text
//! CARGO_TARGET_DIR=target/plugins cargo build --release --manifest-path plugins/Cargo.toml
//! cargo run --release -p pcapx-plugin-host --example plugin_overhead -- target/plugins/release
//! # load-independent instruction counts, one engine at a time:
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/plugin_overhead target/plugins/release null plugin 11000
//! ```

use std::time::Instant;

use pcapx_core::{
    Ctx, Dissector, Engine, FieldDef, FieldId, FieldType, Outcome, PacketMeta, Port, Registrar,
    RegistryError, Value, Wanted, keys::tables,
};

/// A client NTP packet with an MD5 authenticator (frame 7 of the corpus's
/// ntp.pcap, addresses anonymised).
const PACKET: [u8; 110] = {
    let mut p = [0u8; 110];
    // Ethernet
    let eth: [u8; 14] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    let ip: [u8; 20] = [
        0x45, 0, 0, 96, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 168, 100, 2, 192, 168, 100, 1,
    ];
    let udp: [u8; 8] = [0x00, 0x7b, 0x00, 0x7b, 0, 76, 0, 0];
    let ntp: [u8; 48] = [
        0xe3, 0, 6, 0xe7, 0, 0, 0, 0, 0, 0, 0, 0, b'I', b'N', b'I', b'T', 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xdc, 0xf2, 0x3a, 0xf0, 0xcd, 0x03, 0x9a,
        0x5b,
    ];
    let mut i = 0;
    while i < 14 {
        p[i] = eth[i];
        i += 1;
    }
    i = 0;
    while i < 20 {
        p[14 + i] = ip[i];
        i += 1;
    }
    i = 0;
    while i < 8 {
        p[34 + i] = udp[i];
        i += 1;
    }
    i = 0;
    while i < 48 {
        p[42 + i] = ntp[i];
        i += 1;
    }
    i = 0;
    while i < 20 {
        p[90 + i] = 0x5a;
        i += 1;
    }
    p
};

/// The built-in twin of plugins/tests/null.
struct NativeNull;

impl Dissector for NativeNull {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("pcapx-null-test", "Null", "NullTest")?;
        r.bind(tables::UDP_PORT, Port(123));
        Ok(())
    }
    fn dissect(&self, data: &[u8], _cx: &mut Ctx<'_>) -> Outcome {
        Outcome::end(data.len())
    }
}

/// The built-in twin of plugins/ntp.
#[derive(Default)]
struct NativeNtp {
    f: Vec<FieldId>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn ntp_time_ns(seconds: u32, fraction: u32) -> i64 {
    if seconds == 0 && fraction == 0 {
        return 0;
    }
    let secs = if seconds & 0x8000_0000 != 0 {
        i64::from(seconds) - 2_208_988_800
    } else {
        i64::from(seconds) + (1i64 << 32) - 2_208_988_800
    };
    let nanos = i64::try_from((u64::from(fraction) * 1_000_000_000) >> 32).unwrap_or(0);
    secs * 1_000_000_000 + nanos
}

impl Dissector for NativeNtp {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("ntp", "Network Time Protocol", "NTPHeader")?;
        r.bind(tables::UDP_PORT, Port(123));
        use FieldType::*;
        for (n, t) in [
            ("ntp.flags", U8),
            ("ntp.flags.li", U8),
            ("ntp.flags.vn", U8),
            ("ntp.flags.mode", U8),
            ("ntp.stratum", U8),
            ("ntp.ppoll", U8),
            ("ntp.precision", U8),
            ("ntp.rootdelay", U32),
            ("ntp.rootdispersion", U32),
            ("ntp.refid", Bytes),
            ("ntp.reftime", Time),
            ("ntp.org", Time),
            ("ntp.rec", Time),
            ("ntp.xmt", Time),
            ("ntp.keyid", Bytes),
            ("ntp.mac", Bytes),
        ] {
            self.f.push(r.field(FieldDef::new(n, n, t, ""))?);
        }
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let (Some(h), Some(f)) = (data.get(..48), self.f.get(..16)) else {
            cx.short();
            return Outcome::end(data.len());
        };
        let b0 = h[0];
        cx.add(f[0], Value::U64(u64::from(b0)));
        cx.add(f[1], Value::U64(u64::from(b0 >> 6)));
        cx.add(f[2], Value::U64(u64::from((b0 >> 3) & 7)));
        cx.add(f[3], Value::U64(u64::from(b0 & 7)));
        for i in 0..3 {
            cx.add(f[4 + i], Value::U64(u64::from(h[1 + i])));
        }
        cx.add(f[7], Value::U64(u64::from(be32(h, 4).unwrap_or(0))));
        cx.add(f[8], Value::U64(u64::from(be32(h, 8).unwrap_or(0))));
        cx.add(f[9], Value::Bytes(&h[12..16]));
        for k in 0..4 {
            let at = 16 + 8 * k;
            let t = ntp_time_ns(be32(h, at).unwrap_or(0), be32(h, at + 4).unwrap_or(0));
            cx.add(f[10 + k], Value::Time(t));
        }
        let rest = data.get(48..).unwrap_or(&[]);
        match rest.len() {
            4 | 20 | 24 => {
                let (key, mac) = rest.split_at(4);
                cx.add(f[14], Value::Bytes(key));
                if !mac.is_empty() {
                    cx.add(f[15], Value::Bytes(mac));
                }
                Outcome::end(data.len())
            }
            _ => Outcome::end(48),
        }
    }
}

fn per_packet_ns(engine: &Engine, wanted: Wanted, iters: u32) -> f64 {
    let mut fields = engine.new_fields(wanted);
    let meta = PacketMeta {
        number: 1,
        caplen: 110,
        wirelen: 110,
        linktype: 1,
        ..PacketMeta::default()
    };
    for _ in 0..iters / 10 {
        engine.dissect(&meta, &PACKET, &mut fields);
    }
    let t = Instant::now();
    for _ in 0..iters {
        engine.dissect(&meta, std::hint::black_box(&PACKET), &mut fields);
        std::hint::black_box(fields.entries().len());
    }
    t.elapsed().as_secs_f64() * 1e9 / f64::from(iters)
}

/// Alternate the two engines for `rounds` rounds (so background load hits
/// both alike) and keep each one's best round.
fn best_pair(a: (&Engine, &Wanted), b: (&Engine, &Wanted), iters: u32) -> (f64, f64) {
    let (mut ta, mut tb) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..15 {
        ta = ta.min(per_packet_ns(a.0, a.1.clone(), iters));
        tb = tb.min(per_packet_ns(b.0, b.1.clone(), iters));
    }
    (ta, tb)
}

fn engines(
    plugin: &pcapx_plugin_host::LoadedPlugin,
    native: Box<dyn Dissector>,
) -> Result<(Engine, Engine), Box<dyn std::error::Error>> {
    let mut b = pcapx_dissectors::builder()?;
    plugin.add_to(&mut b)?;
    let with_plugin = b.build()?;
    let mut b = pcapx_dissectors::builder()?;
    b.add(native, "built-in")?;
    Ok((with_plugin, b.build()?))
}

fn wanted(engine: &Engine, names: &[&str]) -> Wanted {
    let reg = engine.registry();
    let mut w = Wanted::none(reg.field_count());
    for n in names {
        if let Some(id) = reg.field_by_name(n) {
            w.insert(id);
        }
    }
    w
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or(
        "usage: plugin_overhead DIR (with libpcapx_plugin_ntp.so and libpcapx_test_plugin_null.so)",
    )?);
    let ntp = pcapx_plugin_host::load(dir.join("libpcapx_plugin_ntp.so"))?;
    let null = pcapx_plugin_host::load(dir.join("libpcapx_test_plugin_null.so"))?;
    let iters = 300_000;
    // `plugin_overhead DIR CASE SIDE N`: run only one engine N times (for
    // instruction counting under `valgrind --tool=callgrind`, which is immune
    // to the load of a shared machine). CASE: null|ntp; SIDE: native|plugin.
    if let (Some(case), Some(side), Some(n)) = (
        std::env::args().nth(2),
        std::env::args().nth(3),
        std::env::args().nth(4).and_then(|n| n.parse::<u32>().ok()),
    ) {
        let (plugin, native): (_, Box<dyn Dissector>) = if case == "null" {
            (&null, Box::new(NativeNull))
        } else {
            (&ntp, Box::new(NativeNtp::default()))
        };
        let (p_engine, n_engine) = engines(plugin, native)?;
        let engine = if side == "plugin" {
            &p_engine
        } else {
            &n_engine
        };
        println!("{:.1} ns", per_packet_ns(engine, Wanted::All, n));
        return Ok(());
    }
    println!(
        "per packet, Ethernet/IPv4/UDP + one layer on port 123, best of 15 interleaved rounds x {iters}:"
    );
    let few = ["ntp.stratum", "ntp.xmt", "udp.srcport"];
    for (label, plugin, native, names) in [
        (
            "null layer, all fields",
            &null,
            Box::new(NativeNull) as Box<dyn Dissector>,
            None,
        ),
        (
            "NTP (16 fields), all wanted",
            &ntp,
            Box::new(NativeNtp::default()),
            None,
        ),
        (
            "NTP (16 fields), 3 wanted",
            &ntp,
            Box::new(NativeNtp::default()),
            Some(&few[..]),
        ),
    ] {
        let (p_engine, n_engine) = engines(plugin, native)?;
        let (wp, wn) = match names {
            None => (Wanted::All, Wanted::All),
            Some(ns) => (wanted(&p_engine, ns), wanted(&n_engine, ns)),
        };
        let (n, p) = best_pair((&n_engine, &wn), (&p_engine, &wp), iters);
        println!(
            "  {label:<28} built-in {n:6.1} ns  plugin {p:6.1} ns  overhead {:5.1} ns per plugin layer",
            p - n
        );
    }
    Ok(())
}
