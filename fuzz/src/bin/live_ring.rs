//! The live capture's ring-block walker (`ring_block_to_epbs`: one TPACKET_V3
//! block as the kernel hands it over → pcapng Enhanced Packet Blocks) on
//! blocks built from the fuzzer's bytes — plausible blocks whose counts,
//! offsets, lengths, MAC offsets, VLAN and `sockaddr_ll` fields the fuzzer
//! chooses and may make lie — or on raw bytes. Ethernet and cooked
//! (LINUX_SLL2), with and without a user-space filter. The walker must never
//! panic or read outside the block, and what it writes must be a pcapng
//! capture the reader parses without damage: as many records as it reported,
//! none longer than the snap length. The direct path of `capture -w`
//! (`ring_block_to_records`: records framed for a vectored write straight
//! from the block) must write the same EPBs byte for byte, and as pcap the
//! same records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_capture::live::{ring_block_to_epbs, ring_block_to_records};
use pcapx_capture::{
    ByteOrder, Capture, InterfaceSpec, PcapHeader, PcapNgWriter, PcapWriter, RecordFraming,
    TsResolution,
};
use pcapx_filter::{Options, compile_with};
use pcapx_fuzz::Bytes;

/// `tpacket3_hdr` (48 bytes) then `sockaddr_ll` (20 bytes) before the data.
const HDR: usize = 48;
const SLL: usize = 20;

fn put32(v: &mut Vec<u8>, at: usize, x: u32) {
    if v.len() < at + 4 {
        v.resize(at + 4, 0);
    }
    v[at..at + 4].copy_from_slice(&x.to_ne_bytes());
}

fn put16(v: &mut Vec<u8>, at: usize, x: u16) {
    if v.len() < at + 2 {
        v.resize(at + 2, 0);
    }
    v[at..at + 2].copy_from_slice(&x.to_ne_bytes());
}

/// A block: `tpacket_block_desc` (48 bytes: num_pkts at 12, first packet
/// offset at 16) and packets laid out as the kernel does, with lies.
fn build_block(b: &mut Bytes<'_>) -> Vec<u8> {
    let mut block = vec![0u8; 48];
    let n = usize::from(b.byte() % 8);
    let mut off = 48usize;
    let mut starts = Vec::new();
    for _ in 0..n {
        let lie = b.byte();
        let len = usize::from(b.u16() % 1600);
        let mac = HDR + SLL + 2 * usize::from(lie & 1); // TPACKET_ALIGN'd, or off by two
        starts.push(off);
        block.resize(off + mac + len, 0);
        put32(&mut block, off + 4, b.u32()); // tp_sec
        put32(&mut block, off + 8, b.u32() % 1_000_000_000); // tp_nsec
        let snap = if lie & 2 != 0 { b.u32() } else { len as u32 };
        put32(&mut block, off + 12, snap);
        let wire = if lie & 4 != 0 {
            b.u32()
        } else {
            (len + usize::from(b.byte())) as u32
        };
        put32(&mut block, off + 16, wire);
        put32(&mut block, off + 20, u32::from(b.byte()) << 4); // tp_status: VLAN bits
        let mac16 = if lie & 8 != 0 { b.u16() } else { mac as u16 };
        put16(&mut block, off + 24, mac16);
        put32(&mut block, off + 32, u32::from(b.u16())); // tp_vlan_tci
        put16(&mut block, off + 36, b.u16()); // tp_vlan_tpid
        // sockaddr_ll: family, protocol, ifindex, hatype, pkttype, halen, addr
        let sll = off + HDR;
        put16(&mut block, sll, 17);
        put16(&mut block, sll + 2, b.u16());
        put32(&mut block, sll + 4, u32::from(b.byte()));
        put16(&mut block, sll + 8, 1);
        block[sll + 10] = b.byte() % 8;
        block[sll + 11] = b.byte();
        for i in 0..len {
            block[off + mac + i] = b.byte();
        }
        let size = (mac + len + 15) & !15;
        off += size;
        if lie & 16 != 0 {
            // tp_next_offset that points anywhere
            let at = starts[starts.len() - 1];
            put32(&mut block, at, b.u32());
        }
    }
    for w in starts.windows(2) {
        if block.get(w[0]..w[0] + 4) == Some(&[0, 0, 0, 0]) {
            put32(&mut block, w[0], (w[1] - w[0]) as u32);
        }
    }
    let claimed = if b.byte() & 1 != 0 { b.u32() } else { n as u32 };
    put32(&mut block, 12, claimed);
    put32(&mut block, 16, if b.byte() & 1 != 0 { b.u32() } else { 48 });
    block
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let flags = b.byte();
    let cooked = flags & 1 != 0;
    let snaplen = if flags & 2 != 0 {
        u32::from(b.u16()).max(1)
    } else {
        262_144
    };
    let linktype: u16 = if cooked { 276 } else { 1 };
    let filter = (flags & 4 != 0).then(|| {
        let expr = if cooked {
            "inbound and udp"
        } else {
            "outbound or vlan or udp"
        };
        let opts = Options {
            live: true,
            ..Options::new(u32::from(linktype))
        };
        compile_with(expr, &opts).expect("the filter compiles")
    });
    let block = if flags & 8 != 0 {
        b.rest().to_vec()
    } else {
        build_block(&mut b)
    };
    let mut epbs = Vec::new();
    let n = ring_block_to_epbs(&block, cooked, snaplen, filter.as_ref(), &mut epbs);
    let order = if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let mut w = PcapNgWriter::new(Vec::new(), order).expect("header");
    w.add_interface(&InterfaceSpec {
        linktype,
        snaplen,
        name: Some("fuzz".into()),
        tsresol: TsResolution(9),
        tsoffset: 0,
        fcs_len: None,
    })
    .expect("interface");
    let mut file = w.into_inner();
    file.extend_from_slice(&epbs);
    let mut cap =
        Capture::from_reader("live", std::io::Cursor::new(file)).expect("the walker writes pcapng");
    let mut records = 0u64;
    let mut first = Vec::new();
    while let Some(batch) = cap
        .next_batch(64, 1 << 16)
        .expect("the walker's pcapng reads")
    {
        for rec in batch.iter() {
            records += 1;
            first.push((rec.ts_ns, rec.wirelen, rec.data.to_vec()));
            assert!(
                rec.caplen <= snaplen,
                "caplen {} > snaplen {snaplen}",
                rec.caplen
            );
            assert_eq!(rec.linktype, u32::from(linktype));
        }
        cap.recycle(batch);
    }
    assert_eq!(records, n, "records written and read back");
    assert_eq!(cap.damage_count(), 0, "damage: {:?}", cap.damage());

    // The direct path: the same EPBs (little-endian hosts), and as pcap the
    // same records' bytes.
    let ng = RecordFraming {
        pcapng: true,
        nanos: true,
    };
    let mut direct = Vec::new();
    let m = ring_block_to_records(&block, cooked, snaplen, filter.as_ref(), ng, &mut direct);
    assert_eq!(m, n, "direct records");
    if order == ByteOrder::Little {
        assert_eq!(direct, epbs, "direct pcapng records differ from the EPBs");
    }
    let pcap = RecordFraming {
        pcapng: false,
        nanos: true,
    };
    let mut recs = Vec::new();
    let m = ring_block_to_records(&block, cooked, snaplen, filter.as_ref(), pcap, &mut recs);
    assert_eq!(m, n, "direct pcap records");
    let w = PcapWriter::new(
        Vec::new(),
        PcapHeader {
            nanos: true,
            byte_order: ByteOrder::Little,
            snaplen,
            linktype: u32::from(linktype),
        },
    )
    .expect("pcap header");
    let mut file = w.into_inner();
    file.extend_from_slice(&recs);
    let mut cap = Capture::from_reader("direct", std::io::Cursor::new(file)).expect("pcap");
    let mut again = Vec::new();
    while let Some(batch) = cap.next_batch(64, 1 << 16).expect("the direct pcap reads") {
        for rec in batch.iter() {
            again.push((rec.ts_ns, rec.wirelen, rec.data.to_vec()));
        }
        cap.recycle(batch);
    }
    assert_eq!(
        again, first,
        "direct pcap records differ from the EPBs' records"
    );
    assert_eq!(cap.damage_count(), 0, "damage: {:?}", cap.damage());
});
