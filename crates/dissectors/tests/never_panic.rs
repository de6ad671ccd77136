//! Property test: every built-in dissector chain, from every supported link
//! type, survives arbitrary bytes — random frames and real-looking frames with
//! random corruption and truncation — without panicking, and the summary and
//! every stored value can be read back.

use pcapx_core::{Engine, PacketMeta, Wanted};
use proptest::prelude::*;

const LINKTYPES: [u32; 10] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

fn engine() -> &'static Engine {
    static E: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    E.get_or_init(|| {
        pcapx_dissectors::builder()
            .expect("built-ins register")
            .build()
            .expect("built-ins build")
    })
}

/// Ethernet/IPv4/TCP with options, Ethernet/VLAN/IPv6/UDP/DNS and an ICMP
/// error quoting UDP: seeds that reach deep layers before corruption.
fn seeds() -> Vec<Vec<u8>> {
    let hex = |s: &str| -> Vec<u8> {
        let s: String = s.chars().filter(char::is_ascii_hexdigit).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    vec![
        hex("001122334455 66778899aabb 0800 4500 0040 1c46 4000 4006 0000 0a000001 0a000002
             c350 01bb 00000001 00000000 b002 ffff 0000 0000 020405b4 0103 0307 0402 080a 00000001 00000000 0000"),
        hex("001122334455 66778899aabb 8100 0064 86dd 6000 0000 0025 1140 20010db8000000000000000000000001
             20010db8000000000000000000000002 d431 0035 0025 0000 1234 0100 0001 0000 0000 0000
             076578616d706c6503636f6d00 0001 0001 c00c"),
        hex("001122334455 66778899aabb 0800 4500 0038 0001 0000 4001 0000 0a000002 0a000001
             0303 0000 00000000 4500 001c 0001 0000 4011 0000 0a000001 0a000002 c350 0035 0008 0000"),
    ]
}

fn run(linktype: u32, data: &[u8], caplen_cut: bool) {
    let e = engine();
    let mut f = e.new_fields(Wanted::All);
    let wirelen = u32::try_from(data.len())
        .unwrap_or(u32::MAX)
        .saturating_add(u32::from(caplen_cut) * 40);
    let meta = PacketMeta {
        number: 1,
        ts_ns: 0,
        caplen: u32::try_from(data.len()).unwrap_or(u32::MAX),
        wirelen,
        linktype,
        interface: 0,
        comment: None,
    };
    e.dissect(&meta, data, &mut f);
    let _ = e.summary_line(&f, data, false);
    let _ = e.summary_line(&f, data, true);
    for entry in f.entries() {
        let _ = f.value(entry).to_string();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, .. ProptestConfig::default() })]

    #[test]
    fn random_frames_never_panic(lt in 0usize..LINKTYPES.len(), data in proptest::collection::vec(any::<u8>(), 0..160), cut in any::<bool>()) {
        run(LINKTYPES[lt], &data, cut);
    }

    #[test]
    fn corrupted_real_frames_never_panic(
        seed in 0usize..3,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        keep in any::<usize>(),
        cut in any::<bool>(),
    ) {
        let mut d = seeds()[seed].clone();
        for (at, v) in flips {
            let i = at % d.len();
            d[i] = v;
        }
        d.truncate(keep % (d.len() + 1));
        run(1, &d, cut);
    }
}
